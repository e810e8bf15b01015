// Long jobs stay off the UI thread: a second open while a load runs does not wait for the first,
// and saving runs on a worker with a busy indicator. The worker hooks hold a load or a save on a gate
// so that "the call returned while the worker was still busy" is a fact, not a timing.
#include "docks/log_panel.h"
#include "jobs/model_load_job.h"
#include "jobs/model_save_job.h"
#include "mainwindow.h"
#include "ui_test_app.h"

#include <QFileInfo>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

using namespace opstudio;
using namespace opstudio::ui;

namespace {
const QString kSample = QStringLiteral(OPSTUDIO_RESOURCES_DIR "/models/mobilenet_v2/model.onnx");
const QString kOther = QStringLiteral(OPSTUDIO_TEST_DATA_DIR "/models/resnet_bn_stack/model.onnx");

// Closed until open(); a worker waiting on it gives up after a long while so that a regression (the UI
// thread waiting for that worker) fails the test instead of hanging it.
struct Gate {
    QSemaphore open_;
    std::atomic<bool> gaveUp{false};
    std::atomic<bool> workerOnUiThread{false};
    void waitAsWorker() {
        if (QThread::currentThread() == qApp->thread()) workerOnUiThread = true;
        if (!open_.tryAcquire(1, 60000)) gaveUp = true;
    }
    void open() { open_.release(1000); }
};
} // namespace

TEST(ModelLoadJob, ASecondStartDoesNotWaitForTheFirstAndOnlyTheLastResultArrives) {
    uitest::app();
    auto gate = std::make_shared<Gate>();
    ModelLoadJob job;
    job.setBeforeLoadForTesting([gate](const QString& path) {
        if (path == kSample) gate->waitAsWorker();
    });
    QSignalSpy finished(&job, &ModelLoadJob::finished);
    QSignalSpy failed(&job, &ModelLoadJob::failed);
    job.start(kSample, BoxMetrics{});
    job.start(kOther, BoxMetrics{}); // returns although the first load is held on the gate
    EXPECT_FALSE(gate->gaveUp) << "start() waited for the abandoned load";
    EXPECT_TRUE(job.isRunning());
    EXPECT_EQ(job.currentPath(), kOther);
    ASSERT_TRUE(uitest::waitFor([&] { return finished.count() > 0 || failed.count() > 0; }));
    ASSERT_EQ(finished.count(), 1);
    EXPECT_EQ(finished.at(0).at(0).value<std::shared_ptr<LoadedModel>>()->path, kOther);
    EXPECT_EQ(job.workersRunning(), 1); // the abandoned load is still held
    gate->open();
    EXPECT_TRUE(uitest::waitFor([&] { return job.workersRunning() == 0; }));
    QTest::qWait(50); // let its queued result arrive: it must be dropped
    EXPECT_EQ(finished.count(), 1);
    EXPECT_EQ(failed.count(), 0);
    EXPECT_FALSE(job.isRunning());
    EXPECT_FALSE(gate->gaveUp);
    EXPECT_FALSE(gate->workerOnUiThread);
}

TEST(ModelLoadJob, AbandonedLoadsLeaveTheGlobalPoolToOtherJobs) {
    uitest::app();
    auto gate = std::make_shared<Gate>();
    ModelLoadJob job;
    job.setBeforeLoadForTesting([gate](const QString&) { gate->waitAsWorker(); });
    const int held = std::max(2, QThreadPool::globalInstance()->maxThreadCount());
    for (int i = 0; i < held; ++i) job.start(kSample, BoxMetrics{}); // every one held, all but the last abandoned
    // A profile or a save runs on the global pool: it must not wait for the held parsers.
    std::atomic<bool> ran{false};
    QFuture<void> other = QtConcurrent::run([&] { ran = true; });
    other.waitForFinished();
    EXPECT_TRUE(ran);
    EXPECT_FALSE(gate->gaveUp) << "a global-pool job waited for held loads";
    job.cancel();
    gate->open();
    job.wait();
}

TEST(ModelLoadJob, CancelIsImmediateAndDropsTheResult) {
    uitest::app();
    auto gate = std::make_shared<Gate>();
    ModelLoadJob job;
    job.setBeforeLoadForTesting([gate](const QString&) { gate->waitAsWorker(); });
    QSignalSpy finished(&job, &ModelLoadJob::finished);
    QSignalSpy cancelled(&job, &ModelLoadJob::cancelled);
    job.start(kSample, BoxMetrics{});
    job.cancel();
    EXPECT_EQ(cancelled.count(), 1);
    EXPECT_FALSE(job.isRunning()); // not busy while the abandoned parser finishes
    gate->open();
    EXPECT_TRUE(uitest::waitFor([&] { return job.workersRunning() == 0; }));
    QTest::qWait(50);
    EXPECT_EQ(finished.count(), 0);
}

TEST(MainWindowJobs, OpeningASecondModelWhileOneLoadsDoesNotBlock) {
    uitest::app();
    MainWindow::Options options;
    options.persistSettings = false;
    MainWindow window(options);
    QStringList errors;
    window.setErrorReporter([&](const QString& t, const QString& m) { errors << t + ": " + m; });
    auto gate = std::make_shared<Gate>();
    window.loadJob()->setBeforeLoadForTesting([gate](const QString& path) {
        if (QFileInfo(path) == QFileInfo(kSample)) gate->waitAsWorker();
    });
    QSignalSpy loaded(&window, &MainWindow::modelLoaded);
    window.openFile(kSample);
    EXPECT_TRUE(window.isBusy());
    window.openFile(kOther); // the first is still held on the gate: this must not wait for it
    EXPECT_FALSE(gate->gaveUp) << "openFile waited for the load it replaced";
    ASSERT_TRUE(uitest::waitFor([&] { return loaded.count() > 0 || !errors.isEmpty(); }));
    EXPECT_TRUE(errors.isEmpty()) << errors.join("\n").toStdString();
    ASSERT_EQ(loaded.count(), 1);
    EXPECT_EQ(QFileInfo(QString::fromStdString(window.model()->sourcePath)), QFileInfo(kOther));
    EXPECT_FALSE(window.isBusy());
    EXPECT_TRUE(window.logPanel()->toPlainText().contains("Abandoned loading model.onnx"))
        << window.logPanel()->toPlainText().toStdString();
    gate->open();
    EXPECT_TRUE(uitest::waitFor([&] { return window.loadJob()->workersRunning() == 0; }));
    QTest::qWait(50);
    EXPECT_EQ(loaded.count(), 1); // the abandoned load never replaces the model
    EXPECT_EQ(QFileInfo(QString::fromStdString(window.model()->sourcePath)), QFileInfo(kOther));
}

TEST(MainWindowJobs, SavingRunsOnAWorkerWithABusyIndicator) {
    uitest::app();
    MainWindow::Options options;
    options.persistSettings = false;
    MainWindow window(options);
    QStringList errors;
    window.setErrorReporter([&](const QString& t, const QString& m) { errors << t + ": " + m; });
    window.resize(1200, 800);
    window.show();
    QSignalSpy loaded(&window, &MainWindow::modelLoaded);
    window.openFile(kSample);
    ASSERT_TRUE(uitest::waitFor([&] { return loaded.count() > 0; }));

    auto gate = std::make_shared<Gate>();
    window.saveJob()->setBeforeSaveForTesting([gate](const QString&) { gate->waitAsWorker(); });
    QTemporaryDir dir;
    const QString out = dir.filePath("copy.onnx");
    QSignalSpy exported(&window, &MainWindow::modelExported);
    ASSERT_TRUE(window.exportModel(out)); // returns while the worker is held
    EXPECT_FALSE(gate->gaveUp);
    EXPECT_TRUE(window.isBusy());
    EXPECT_TRUE(window.statusBarJobText().contains("Saving copy.onnx")) << window.statusBarJobText().toStdString();
    EXPECT_FALSE(window.exportModel(dir.filePath("second.onnx"))); // one save at a time
    QTest::qWait(20); // the UI thread keeps serving events meanwhile
    EXPECT_EQ(exported.count(), 0);
    EXPECT_FALSE(QFileInfo::exists(out));
    gate->open();
    ASSERT_TRUE(uitest::waitFor([&] { return exported.count() > 0 || !errors.isEmpty(); }));
    EXPECT_TRUE(errors.isEmpty()) << errors.join("\n").toStdString();
    EXPECT_GT(QFileInfo(out).size(), 1000);
    EXPECT_FALSE(window.isBusy());
    EXPECT_FALSE(gate->workerOnUiThread);
    EXPECT_TRUE(window.logPanel()->toPlainText().contains("Exported to"));
}
