// Symbolic input dims before a profile: where each prefilled value comes from, what is remembered per
// model, --dim parsing, the dialog, and the window asking once before the first profile.
#include "dialogs/input_dims_dialog.h"
#include "docks/log_panel.h"
#include "input_dims.h"
#include "mainwindow.h"
#include "ui_test_app.h"

#include "opstudio/onnx/model_io.h"
#include "support/graph_builder.h"

#include <QDockWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::ui;

namespace {

const InputDim* find(const QVector<InputDim>& dims, const QString& symbol) {
    for (const InputDim& d : dims)
        if (d.symbol == symbol) return &d;
    return nullptr;
}

void setInputShape(ir::Model& model, const std::string& input, std::vector<ir::Dim> dims) {
    model.graph->value(input).shape = std::move(dims);
}

// x: [N, 3, 48, W] (an OCR recognizer's input) → Relu → y, plus a sequence input t: [batch, seq_len].
std::shared_ptr<ir::Model> ocrLikeModel() {
    auto model = opstudio::testing::GraphBuilder(13)
                     .input("x", ir::DType::F32, {1, 3, 48, 320})
                     .input("t", ir::DType::F32, {1, 16})
                     .node("Relu", {"x"}, {"y"})
                     .node("Relu", {"t"}, {"u"})
                     .output("y")
                     .output("u")
                     .build();
    setInputShape(*model, "x", {ir::Dim::named("N"), ir::Dim::of(3), ir::Dim::of(48), ir::Dim::named("W")});
    setInputShape(*model, "t", {ir::Dim::named("batch"), ir::Dim::named("seq_len")});
    for (const char* v : {"y", "u"}) model->graph->value(v).shape.reset(); // no recorded shapes downstream
    return model;
}

} // namespace

TEST(InputDims, DefaultsFollowTheSymbolsNameAndPlace) {
    auto model = ocrLikeModel();
    const QVector<InputDim> dims = proposeInputDims(*model, {}, {});
    ASSERT_EQ(dims.size(), 4);
    EXPECT_EQ(dims[0].symbol, "N"); // sorted by symbol
    const InputDim* w = find(dims, "W");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->value, 320); // a text-line image: 320 wide beside a height of 48
    EXPECT_EQ(w->source, InputDim::Source::Default);
    EXPECT_EQ(w->usedBy, "x[3]");
    EXPECT_TRUE(w->reason.contains("48")) << w->reason.toStdString();
    EXPECT_EQ(find(dims, "N")->value, 1);
    EXPECT_EQ(find(dims, "batch")->value, 1);
    EXPECT_EQ(find(dims, "seq_len")->value, 128);
    EXPECT_FALSE(inputDimsSettled(dims));
    EXPECT_EQ(describeInputDims(dims), "N=1, W=320, batch=1, seq_len=128");
}

TEST(InputDims, KvCacheDecoderDefaultsToAConsistentPrefill) {
    // The trained LLM's inputs: past_sequence must be 0 so that total_sequence = past + sequence holds.
    auto loaded = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes/model.onnx");
    ASSERT_TRUE(loaded.ok()) << loaded.error().what();
    const QVector<InputDim> dims = proposeInputDims(loaded.value(), {}, {});
    ASSERT_TRUE(find(dims, "past_sequence") && find(dims, "sequence") && find(dims, "total_sequence"));
    EXPECT_EQ(find(dims, "past_sequence")->value, 0);
    EXPECT_EQ(find(dims, "total_sequence")->value, find(dims, "sequence")->value);
}

TEST(InputDims, SquareAndPlainImageDefaults) {
    auto model = opstudio::testing::GraphBuilder(13).input("img", ir::DType::F32, {1, 3, 8, 8}).node("Relu", {"img"}, {"y"}).output("y").build();
    setInputShape(*model, "img", {ir::Dim::of(1), ir::Dim::of(3), ir::Dim::named("H"), ir::Dim::named("W")});
    model->graph->value("y").shape.reset();
    auto dims = proposeInputDims(*model, {}, {});
    EXPECT_EQ(find(dims, "H")->value, 224);
    EXPECT_EQ(find(dims, "W")->value, 224);
    setInputShape(*model, "img", {ir::Dim::of(1), ir::Dim::of(3), ir::Dim::of(256), ir::Dim::named("W")});
    dims = proposeInputDims(*model, {}, {});
    EXPECT_EQ(find(dims, "W")->value, 256); // square beside a known side > 64
}

TEST(InputDims, PrecedenceCommandLineRememberedMetadataValueInfoDefault) {
    // x → Sub(mean [1, 3, 1, 1]) → xn, with xn's recorded shape [1, 3, 48, 320]: value_info knows N and W.
    ir::Tensor mean = ir::Tensor::zeros(ir::DType::F32, {1, 3, 1, 1});
    auto model = opstudio::testing::GraphBuilder(13)
                     .input("x", ir::DType::F32, {1, 3, 48, 320})
                     .initializer("mean", mean)
                     .node("Sub", {"x", "mean"}, {"xn"})
                     .node("Relu", {"xn"}, {"y"})
                     .output("y")
                     .build();
    setInputShape(*model, "x", {ir::Dim::named("N"), ir::Dim::of(3), ir::Dim::of(48), ir::Dim::named("W")});
    ASSERT_TRUE(model->graph->findValue("xn")->shape);
    auto dims = proposeInputDims(*model, {}, {});
    EXPECT_EQ(find(dims, "W")->source, InputDim::Source::ValueInfo);
    EXPECT_EQ(find(dims, "W")->value, 320);

    model->metadata.push_back({"dim:W", "256"});
    model->metadata.push_back({"N", "not a number"}); // ignored
    dims = proposeInputDims(*model, {}, {});
    EXPECT_EQ(find(dims, "W")->source, InputDim::Source::Metadata);
    EXPECT_EQ(find(dims, "W")->value, 256);
    EXPECT_EQ(find(dims, "N")->source, InputDim::Source::ValueInfo);

    dims = proposeInputDims(*model, {}, {{"W", 640}});
    EXPECT_EQ(find(dims, "W")->source, InputDim::Source::Remembered);
    EXPECT_EQ(find(dims, "W")->value, 640);
    EXPECT_FALSE(inputDimsSettled(dims)); // N is not remembered

    dims = proposeInputDims(*model, {{"W", 100}, {"N", 2}}, {{"W", 640}});
    EXPECT_EQ(find(dims, "W")->source, InputDim::Source::CommandLine);
    EXPECT_EQ(find(dims, "W")->value, 100);
    EXPECT_TRUE(inputDimsSettled(dims));
    EXPECT_EQ(toDimMap(dims), (std::map<std::string, int64_t>{{"N", 2}, {"W", 100}}));
}

TEST(InputDims, ValueInfoIgnoresABroadcastThatCouldWidenTheAxis) {
    // x + C with C: [1, 3, 1, 320]: the output's width 320 could come from C, so it says nothing of W.
    auto model = opstudio::testing::GraphBuilder(13)
                     .input("x", ir::DType::F32, {1, 3, 48, 320})
                     .initializer("c", ir::Tensor::zeros(ir::DType::F32, {1, 3, 1, 320}))
                     .node("Add", {"x", "c"}, {"y"})
                     .output("y")
                     .build();
    setInputShape(*model, "x", {ir::Dim::of(1), ir::Dim::of(3), ir::Dim::of(48), ir::Dim::named("W")});
    const auto dims = proposeInputDims(*model, {}, {});
    EXPECT_EQ(find(dims, "W")->source, InputDim::Source::Default);
}

TEST(InputDims, UnnamedDynamicDimsGetNames) {
    auto model = ocrLikeModel();
    setInputShape(*model, "x", {ir::Dim{}, ir::Dim::of(3), ir::Dim::of(48), ir::Dim{}});
    const QStringList named = nameAnonymousInputDims(*model->graph);
    EXPECT_EQ(named, (QStringList{"x_dim0", "x_dim3"}));
    const auto dims = proposeInputDims(*model, {}, {});
    EXPECT_EQ(find(dims, "x_dim3")->value, 320);
    EXPECT_EQ(find(dims, "x_dim0")->value, 1);
    EXPECT_TRUE(nameAnonymousInputDims(*model->graph).isEmpty()); // once
}

TEST(InputDims, RememberedPerModelInSettings) {
    uitest::app();
    QTemporaryDir dir;
    QSettings settings(dir.filePath("settings.ini"), QSettings::IniFormat);
    const QString a = dir.filePath("a/model.onnx"), b = dir.filePath("b/model.onnx");
    EXPECT_TRUE(rememberedInputDims(settings, a).isEmpty());
    rememberInputDims(settings, a, {{"W", 320}, {"p2o.DynamicDimension/1", 7}});
    settings.sync();
    QSettings reread(dir.filePath("settings.ini"), QSettings::IniFormat);
    const auto got = rememberedInputDims(reread, a);
    EXPECT_EQ(got.value("W"), 320);
    EXPECT_EQ(got.value("p2o.DynamicDimension/1"), 7); // key syntax in a symbol survives
    EXPECT_TRUE(rememberedInputDims(reread, b).isEmpty()); // per model
    rememberInputDims(reread, a, {{"W", 640}});
    EXPECT_EQ(rememberedInputDims(reread, a), (QMap<QString, qint64>{{"W", 640}}));
}

TEST(InputDims, ParseDimSpecs) {
    std::map<std::string, int64_t> dims;
    QString error;
    EXPECT_TRUE(parseDimSpecs({"W=320", "batch = 2"}, dims, &error));
    EXPECT_EQ(dims, (std::map<std::string, int64_t>{{"W", 320}, {"batch", 2}}));
    for (const char* bad : {"W", "=3", "W=0", "W=x", "W=-4"}) {
        EXPECT_FALSE(parseDimSpecs({bad}, dims, &error)) << bad;
        EXPECT_TRUE(error.contains("NAME=V")) << error.toStdString();
    }
}

TEST(InputDimsDialog, ShowsTheProposalAndReturnsEditedValues) {
    uitest::app();
    const QVector<InputDim> proposal = proposeInputDims(*ocrLikeModel(), {}, {});
    InputDimsDialog dialog("ocr.onnx", proposal);
    ASSERT_TRUE(dialog.spinBox("W"));
    EXPECT_EQ(dialog.spinBox("W")->value(), 320);
    EXPECT_EQ(dialog.spinBox("seq_len")->value(), 128);
    EXPECT_FALSE(dialog.spinBox("nope"));
    dialog.spinBox("W")->setValue(480);
    const QVector<InputDim> chosen = dialog.dims();
    EXPECT_EQ(find(chosen, "W")->value, 480);
    EXPECT_EQ(find(chosen, "W")->source, InputDim::Source::Remembered);
    EXPECT_EQ(find(chosen, "N")->source, InputDim::Source::Default); // untouched
}

namespace {
// x: [N, 3, H, W] → Conv 3×3 (no padding) → y. With every symbol 1 the kernel is larger than the input.
QString writeSymbolicConvModel(const QString& dir) {
    auto model = opstudio::testing::GraphBuilder(13)
                     .input("x", ir::DType::F32, {1, 3, 8, 8})
                     .initializer("w", ir::Tensor::zeros(ir::DType::F32, {4, 3, 3, 3}))
                     .node("Conv", {"x", "w"}, {"y"})
                     .output("y")
                     .build();
    setInputShape(*model, "x", {ir::Dim::named("N"), ir::Dim::of(3), ir::Dim::named("H"), ir::Dim::named("W")});
    model->graph->value("y").shape.reset();
    const QString path = dir + "/symbolic_conv.onnx";
    onnxio::SaveOptions so;
    so.check = false;
    const Status st = onnxio::saveModel(*model, path.toStdString(), so);
    EXPECT_TRUE(st.ok()) << st.error().describe();
    return path;
}

struct Window {
    explicit Window(bool persist) {
        MainWindow::Options options;
        options.persistSettings = persist;
        window = std::make_unique<MainWindow>(options);
        window->setErrorReporter([this](const QString& t, const QString& m) { errors << t + ": " + m; });
        window->setInputDimsAsker([this](QVector<InputDim>& dims) {
            asked.push_back(dims);
            for (InputDim& d : dims)
                if (answer.count(d.symbol.toStdString())) d.value = answer.at(d.symbol.toStdString());
            return accept;
        });
    }
    bool open(const QString& path) {
        QSignalSpy loaded(window.get(), &MainWindow::modelLoaded);
        window->openFile(path);
        return uitest::waitFor([&] { return loaded.count() > 0 || !errors.isEmpty(); }) && loaded.count() == 1;
    }
    // 1: finished, 0: failed, -1: did not start
    int profile() {
        QSignalSpy done(window.get(), &MainWindow::profileFinished);
        QSignalSpy failed(window.get(), &MainWindow::profileFailed);
        ProfileSettings s = window->profileSettings();
        s.threads = 1;
        s.runs = 1;
        s.warmup = 1;
        s.roofline = false;
        window->startProfile(s);
        if (!window->isBusy()) return -1;
        uitest::waitFor([&] { return done.count() + failed.count() > 0; }, 120000);
        if (failed.count()) lastFailure = failed.at(0).at(0).toString();
        return done.count() == 1 ? 1 : 0;
    }
    std::unique_ptr<MainWindow> window;
    QStringList errors;
    std::vector<QVector<InputDim>> asked;
    std::map<std::string, int64_t> answer;
    bool accept = true;
    QString lastFailure;
};
} // namespace

TEST(MainWindowInputDims, AsksOnceBeforeTheFirstProfileAndUsesTheAnswer) {
    uitest::app();
    QTemporaryDir dir;
    const QString path = writeSymbolicConvModel(dir.path());
    Window w(/*persist=*/false);
    ASSERT_TRUE(w.open(path)) << w.errors.join("\n").toStdString();
    ASSERT_EQ(w.window->inputDims().size(), 3);
    EXPECT_EQ(w.window->profileSettings().dims.at("H"), 224); // the proposal is in the settings from the start

    w.accept = false;
    EXPECT_EQ(w.profile(), -1); // cancelling the question cancels the profile
    ASSERT_EQ(w.asked.size(), 1u);
    EXPECT_EQ(find(w.asked[0], "W")->value, 224);

    w.accept = true;
    w.answer = {{"H", 12}, {"W", 20}};
    EXPECT_EQ(w.profile(), 1) << w.lastFailure.toStdString();
    EXPECT_EQ(w.asked.size(), 2u);
    EXPECT_EQ(w.window->profileSettings().dims.at("W"), 20);
    EXPECT_EQ(find(w.window->inputDims(), "W")->source, InputDim::Source::Remembered);
    EXPECT_TRUE(w.window->logPanel()->toPlainText().contains("input dims H=12, N=1, W=20"))
        << w.window->logPanel()->toPlainText().toStdString();

    EXPECT_EQ(w.profile(), 1);
    EXPECT_EQ(w.asked.size(), 2u); // not asked again for this model
    EXPECT_TRUE(w.errors.isEmpty()) << w.errors.join("\n").toStdString();
}

TEST(MainWindowInputDims, AFailedProfileNamesTheDimsAndShowsTheLog) {
    uitest::app();
    QTemporaryDir dir;
    const QString path = writeSymbolicConvModel(dir.path());
    Window w(/*persist=*/false);
    w.window->resize(1600, 1000);
    w.window->show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(w.window.get()));
    ASSERT_TRUE(w.open(path));
    w.answer = {{"H", 1}, {"W", 1}};
    EXPECT_EQ(w.profile(), 0);
    EXPECT_TRUE(w.lastFailure.contains("H=1, N=1, W=1")) << w.lastFailure.toStdString();
    EXPECT_TRUE(w.lastFailure.contains("--dim NAME=V"));
    ASSERT_EQ(w.errors.size(), 1);
    auto* logDock = w.window->findChild<QDockWidget*>("LogDock");
    ASSERT_TRUE(logDock);
    EXPECT_TRUE(logDock->isVisible());
    EXPECT_FALSE(logDock->visibleRegion().isEmpty()); // raised above the tabbed Operators dock
}

TEST(MainWindowInputDims, CommandLineDimsAreNeverAskedFor) {
    uitest::app();
    QTemporaryDir dir;
    const QString path = writeSymbolicConvModel(dir.path());
    Window w(/*persist=*/false);
    w.window->setCommandLineDims({{"N", 1}, {"H", 10}, {"W", 11}});
    ASSERT_TRUE(w.open(path));
    EXPECT_EQ(w.profile(), 1) << w.lastFailure.toStdString();
    EXPECT_TRUE(w.asked.empty());
    EXPECT_EQ(w.window->profileSettings().dims.at("W"), 11);
}

TEST(MainWindowInputDims, TheAnswerIsRememberedForTheNextSession) {
    uitest::app();
    QTemporaryDir dir, settingsDir;
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir.path());
    const QString path = writeSymbolicConvModel(dir.path());
    {
        Window w(/*persist=*/true);
        ASSERT_TRUE(w.open(path));
        w.answer = {{"H", 9}, {"W", 13}};
        EXPECT_EQ(w.profile(), 1) << w.lastFailure.toStdString();
        EXPECT_EQ(w.asked.size(), 1u);
    }
    Window again(/*persist=*/true);
    ASSERT_TRUE(again.open(path));
    EXPECT_EQ(find(again.window->inputDims(), "W")->value, 13);
    EXPECT_EQ(find(again.window->inputDims(), "W")->source, InputDim::Source::Remembered);
    EXPECT_EQ(again.profile(), 1);
    EXPECT_TRUE(again.asked.empty());
    QSettings::setDefaultFormat(QSettings::NativeFormat);
}

#ifdef OPSTUDIO_GUI_PATH
#include <QImage>
#include <QProcess>

namespace {
struct GuiRun {
    int exitCode = -1;
    QString err;
};
GuiRun runGui(const QStringList& args) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("QT_QPA_PLATFORM", "offscreen");
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(OPSTUDIO_GUI_PATH), args);
    GuiRun r;
    if (!p.waitForFinished(300000)) return r;
    r.exitCode = p.exitCode();
    r.err = QString::fromLocal8Bit(p.readAllStandardError());
    return r;
}
} // namespace

TEST(StudioCommandLine, ScreenshotIsWrittenWhenProfilingFailsAndShowsTheError) {
    uitest::app();
    QTemporaryDir dir;
    const QString model = writeSymbolicConvModel(dir.path());
    const QString png = dir.filePath("failed.png");
    // H = W = 1: the 3×3 kernel is larger than the input, so the profile fails.
    const GuiRun r = runGui({model, "--profile", "--runs", "1", "--dim", "H=1", "--dim", "W=1", "--screenshot", png});
    EXPECT_EQ(r.exitCode, 1) << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("error: Profiling failed")) << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("H=1, N=1, W=1")) << r.err.toStdString();
    const QImage img(png);
    ASSERT_FALSE(img.isNull()) << "no screenshot after a failed profile";
    // The Log dock is raised with the error line in its error colour (#b3261e).
    int errorInk = 0;
    for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x) {
            const QColor c = img.pixelColor(x, y);
            if (std::abs(c.red() - 0xb3) <= 10 && std::abs(c.green() - 0x26) <= 10 && std::abs(c.blue() - 0x1e) <= 10) ++errorInk;
        }
    EXPECT_GT(errorInk, 100) << "error text not visible in the screenshot";
}

TEST(StudioCommandLine, DimOptionIsCheckedAndUsed) {
    uitest::app();
    QTemporaryDir dir;
    const QString model = writeSymbolicConvModel(dir.path());
    GuiRun r = runGui({model, "--dim", "W", "--screenshot", dir.filePath("x.png")});
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_TRUE(r.err.contains("NAME=V")) << r.err.toStdString();
    const QString png = dir.filePath("ok.png");
    r = runGui({model, "--profile", "--runs", "1", "--dim", "H=9", "--dim", "W=9", "--screenshot", png});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_FALSE(QImage(png).isNull());
}
#endif
