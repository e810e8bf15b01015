// Drives the studio window like a user: open, select, find, profile, cancel, bad files, export.
#include "charts/latency_chart.h"
#include "docks/latency_panel.h"
#include "docks/log_panel.h"
#include "docks/operators_panel.h"
#include "docks/properties_panel.h"
#include "graph/graph_panel.h"
#include "graph/graph_scene.h"
#include "graph/graph_view.h"
#include "graph/node_item.h"
#include "mainwindow.h"
#include "ui_test_app.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QSet>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include <random>

using namespace opstudio;
using namespace opstudio::ui;

namespace {
const QString kSample = QStringLiteral(OPSTUDIO_RESOURCES_DIR "/models/mobilenet_v2/model.onnx");

class MainWindowTest : public ::testing::Test {
protected:
    void SetUp() override {
        uitest::app();
        MainWindow::Options options;
        options.persistSettings = false;
        window = std::make_unique<MainWindow>(options);
        window->setErrorReporter([this](const QString& title, const QString& message) { errors << title + ": " + message; });
        window->resize(1600, 1000);
        window->show();
        ASSERT_TRUE(QTest::qWaitForWindowExposed(window.get()));
    }
    void TearDown() override { window.reset(); }

    bool open(const QString& path) {
        QSignalSpy loaded(window.get(), &MainWindow::modelLoaded);
        QSignalSpy failed(window.get(), &MainWindow::loadFailed);
        window->openFile(path);
        return uitest::waitFor([&] { return loaded.count() + failed.count() > 0; }) && loaded.count() == 1;
    }
    bool profile(int runs = 2) {
        QSignalSpy done(window.get(), &MainWindow::profileFinished);
        QSignalSpy failed(window.get(), &MainWindow::profileFailed);
        ProfileSettings s;
        s.threads = 1;
        s.runs = runs;
        s.warmup = 1;
        s.roofline = false;
        window->startProfile(s);
        return uitest::waitFor([&] { return done.count() + failed.count() > 0; }, 120000) && done.count() == 1;
    }
    QPoint viewPosOf(ir::NodeId id) {
        NodeItem* item = window->graphPanel()->scene()->itemForNode(id);
        GraphView* view = window->graphPanel()->view();
        view->centerOn(item->boundingRect().center());
        return view->mapFromScene(item->boundingRect().center());
    }

    std::unique_ptr<MainWindow> window;
    QStringList errors;
};
} // namespace

TEST_F(MainWindowTest, OpenSelectFindProfile) {
    ASSERT_TRUE(open(kSample)) << errors.join("\n").toStdString();
    EXPECT_TRUE(window->windowTitle().contains("model.onnx"));
    EXPECT_TRUE(window->statusText().contains("opset 13")) << window->statusText().toStdString();
    const auto model = window->model();
    ASSERT_TRUE(model);
    EXPECT_EQ(window->operatorsPanel()->model()->rowCount(), static_cast<int>(model->graph->nodeCount()));
    EXPECT_GT(window->graphPanel()->scene()->items().size(), 100);

    // Click the first Conv in the graph.
    ir::NodeId conv = ir::kNoNode;
    model->graph->forEachNode([&](const ir::Node& n) {
        if (conv == ir::kNoNode && n.opType == "Conv") conv = n.id;
    });
    ASSERT_NE(conv, ir::kNoNode);
    const QPoint pos = viewPosOf(conv);
    QTest::mouseClick(window->graphPanel()->view()->viewport(), Qt::LeftButton, {}, pos);
    EXPECT_EQ(window->selectedNode(), conv);
    EXPECT_TRUE(window->propertiesPanel()->headerText().contains("Conv"));

    // Ctrl+F, type, Enter: the first match is selected everywhere.
    QTest::keySequence(window.get(), QKeySequence::Find);
    QLineEdit* find = window->graphPanel()->findEdit();
    ASSERT_TRUE(find->isVisible());
    QTest::keyClicks(find, "GlobalAveragePool");
    EXPECT_EQ(window->graphPanel()->matchCount(), 1);
    QTest::keyClick(find, Qt::Key_Return);
    ASSERT_NE(window->selectedNode(), ir::kNoNode);
    EXPECT_EQ(model->graph->node(window->selectedNode())->opType, "GlobalAveragePool");
    window->graphPanel()->findEdit()->setText("Conv");
    EXPECT_GT(window->graphPanel()->matchCount(), 10);
    ASSERT_TRUE(window->graphPanel()->findNext());
    const ir::NodeId first = window->selectedNode();
    ASSERT_TRUE(window->graphPanel()->findNext());
    EXPECT_NE(window->selectedNode(), first);
    ASSERT_TRUE(window->graphPanel()->findPrevious());
    EXPECT_EQ(window->selectedNode(), first);

    // Profile in the background; the UI keeps processing events meanwhile.
    ASSERT_TRUE(profile()) << errors.join("\n").toStdString();
    const auto p = window->lastProfile();
    ASSERT_TRUE(p);
    EXPECT_GT(p->total.median, 0);
    EXPECT_TRUE(window->graphPanel()->scene()->hasHeat());
    EXPECT_FALSE(window->latencyPanel()->chart()->bars().isEmpty());
    EXPECT_TRUE(window->statusText().contains("ms median")) << window->statusText().toStdString();
    auto* m = window->operatorsPanel()->model();
    EXPECT_FALSE(m->index(0, OperatorTableModel::MedianMs).data().toString().isEmpty());
    EXPECT_TRUE(errors.isEmpty()) << errors.join("\n").toStdString();
}

TEST_F(MainWindowTest, SelectionFollowsTableChartAndGraph) {
    ASSERT_TRUE(open(kSample));
    ASSERT_TRUE(profile());
    OperatorsPanel* ops = window->operatorsPanel();
    // Table → graph + properties.
    const QModelIndex idx = ops->proxy()->index(3, 0);
    const auto id = idx.data(OperatorTableModel::NodeIdRole).toUInt();
    ops->table()->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    EXPECT_EQ(window->selectedNode(), id);
    EXPECT_EQ(window->graphPanel()->scene()->selectedNode(), id);
    // Chart (top nodes) → table + graph.
    window->latencyPanel()->modeTabs()->setCurrentIndex(1);
    LatencyChart* chart = window->latencyPanel()->chart();
    ASSERT_FALSE(chart->bars().isEmpty());
    chart->activateBar(0);
    const ir::NodeId hottest = chart->bars()[0].node;
    EXPECT_EQ(window->selectedNode(), hottest);
    EXPECT_EQ(window->graphPanel()->scene()->selectedNode(), hottest);
    const QModelIndex current = ops->table()->selectionModel()->currentIndex();
    EXPECT_EQ(current.data(OperatorTableModel::NodeIdRole).toUInt(), hottest);
    // Graph → table.
    ir::NodeId other = ir::kNoNode;
    window->model()->graph->forEachNode([&](const ir::Node& n) {
        if (other == ir::kNoNode && n.id != hottest && n.opType == "Add") other = n.id;
    });
    ASSERT_NE(other, ir::kNoNode);
    QTest::mouseClick(window->graphPanel()->view()->viewport(), Qt::LeftButton, {}, viewPosOf(other));
    EXPECT_EQ(window->selectedNode(), other);
    EXPECT_EQ(ops->table()->selectionModel()->currentIndex().data(OperatorTableModel::NodeIdRole).toUInt(), other);
    // Copy as CSV: header + one row.
    const QString csv = ops->selectedRowsCsv();
    EXPECT_EQ(csv.count('\n'), 2) << csv.toStdString();
    EXPECT_TRUE(csv.startsWith("Name,Op type,"));
}

TEST_F(MainWindowTest, RandomBytesShowAnErrorAndKeepTheWindow) {
    QTemporaryDir dir;
    const QString bad = dir.filePath("garbage.onnx");
    QFile f(bad);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    std::mt19937 rng(7);
    QByteArray bytes(4096, 0);
    for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
    f.write(bytes);
    f.close();
    EXPECT_FALSE(open(bad));
    ASSERT_EQ(errors.size(), 1);
    EXPECT_TRUE(errors[0].contains("garbage.onnx"));
    EXPECT_TRUE(window->logPanel()->toPlainText().contains("error"));
    EXPECT_TRUE(window->isVisible());
    EXPECT_FALSE(window->isBusy());
    EXPECT_FALSE(window->model());
    EXPECT_FALSE(open(dir.filePath("missing.onnx")));
    EXPECT_EQ(errors.size(), 2);
    // Still usable afterwards.
    EXPECT_TRUE(open(kSample));
}

TEST_F(MainWindowTest, CancelStopsAProfileQuickly) {
    ASSERT_TRUE(open(kSample));
    ProfileSettings s;
    s.runs = 100000;
    s.warmup = 1;
    s.roofline = false;
    window->startProfile(s);
    EXPECT_TRUE(window->isBusy());
    QTest::qWait(300);
    window->cancelJob();
    EXPECT_TRUE(uitest::waitFor([&] { return !window->isBusy(); }, 20000));
    EXPECT_FALSE(window->lastProfile());
    EXPECT_TRUE(errors.isEmpty()) << errors.join("\n").toStdString();
    EXPECT_TRUE(window->logPanel()->toPlainText().contains("cancelled"));
}

TEST_F(MainWindowTest, ExportWritesANewFileAndNeverTheInput) {
    ASSERT_TRUE(open(kSample));
    QTemporaryDir dir;
    const QString out = dir.filePath("copy.onnx");
    QSignalSpy exported(window.get(), &MainWindow::modelExported);
    EXPECT_TRUE(window->exportModel(out)) << errors.join("\n").toStdString();
    ASSERT_TRUE(uitest::waitFor([&] { return exported.count() > 0 || !errors.isEmpty(); }));
    EXPECT_GT(QFileInfo(out).size(), 1000);
    const qint64 before = QFileInfo(kSample).size();
    EXPECT_FALSE(window->exportModel(kSample));
    EXPECT_EQ(errors.size(), 1);
    EXPECT_EQ(QFileInfo(kSample).size(), before);
}

TEST_F(MainWindowTest, IfBodiesOpenWithABreadcrumb) {
    const QString path = QStringLiteral(OPSTUDIO_ONNX_TESTDATA_DIR "/node/test_if/model.onnx");
    if (!QFileInfo::exists(path)) GTEST_SKIP() << "libonnx-testdata not installed";
    ASSERT_TRUE(open(path)) << errors.join("\n").toStdString();
    ir::NodeId ifNode = ir::kNoNode;
    window->model()->graph->forEachNode([&](const ir::Node& n) {
        if (n.opType == "If") ifNode = n.id;
    });
    ASSERT_NE(ifNode, ir::kNoNode);
    NodeItem* item = window->graphPanel()->scene()->itemForNode(ifNode);
    ASSERT_TRUE(item);
    EXPECT_EQ(item->visual().subgraphCount, 2);
    const ir::Graph* root = window->graphPanel()->scene()->graph();
    ASSERT_TRUE(window->openSubgraph(ifNode, 1));
    EXPECT_NE(window->graphPanel()->scene()->graph(), root);
    window->showBreadcrumb(0);
    EXPECT_EQ(window->graphPanel()->scene()->graph(), root);
}

TEST_F(MainWindowTest, ScreenshotOfAProfiledModelIsNotFlat) {
    ASSERT_TRUE(open(kSample));
    ASSERT_TRUE(profile());
    window->selectNode(window->latencyPanel()->chart()->bars().isEmpty() ? 0 : window->lastProfile()->nodes[0].id);
    QTemporaryDir dir;
    const QString png = dir.filePath("studio.png");
    ASSERT_TRUE(window->saveScreenshot(png));
    QImage img(png);
    ASSERT_FALSE(img.isNull());
    EXPECT_GE(img.width(), 1600);
    EXPECT_GE(img.height(), 1000);
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 7)
        for (int x = 0; x < img.width(); x += 7) colours.insert(img.pixel(x, y));
    EXPECT_GT(colours.size(), 100);
}
