#include "docks/experiments_panel.h"
#include "docks/passes_panel.h"
#include "opstudio/onnx/model_io.h"
#include "ui_test_app.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::ui;

namespace {

class NoOpPass final : public passes::Pass {
public:
    void run(passes::PassContext&) override {}
};

passes::ParamSpec spec(const char* name, passes::ParamSpec::Type type, passes::ParamValue def, double lo = 0,
                       double hi = 0, std::vector<std::string> choices = {}) {
    passes::ParamSpec s;
    s.name = name;
    s.type = type;
    s.description = std::string("the ") + name;
    s.defaultValue = std::move(def);
    s.min = lo;
    s.max = hi;
    s.choices = std::move(choices);
    return s;
}

/// Every parameter type, in every category.
const passes::PassRegistry& allTypesRegistry() {
    static passes::PassRegistry r = [] {
        passes::PassRegistry reg;
        auto add = [&](const char* name, passes::PassCategory c, bool exact,
                       std::vector<passes::ParamSpec> params) {
            passes::PassInfo info;
            info.name = name;
            info.description = std::string("does ") + name;
            info.category = c;
            info.exact = exact;
            info.params = std::move(params);
            info.create = [] { return std::make_unique<NoOpPass>(); };
            reg.add(std::move(info));
        };
        using T = passes::ParamSpec::Type;
        add("tidy", passes::PassCategory::Cleanup, true, {});
        add("fuse-exact", passes::PassCategory::Fusion, true, {spec("keep_bias", T::Bool, true)});
        add("fuse-approx", passes::PassCategory::Fusion, false,
            {spec("form", T::Enum, std::string("b"), 0, 0, {"a", "b", "c"})});
        add("quantize", passes::PassCategory::Quantization, false,
            {spec("bits", T::Int, int64_t{8}, 2, 8), spec("percentile", T::Float, 99.9, 50, 100),
             spec("exclude", T::NodeList, std::vector<std::string>{"head", "tail"})});
        add("prune", passes::PassCategory::Pruning, false, {spec("sparsity", T::Float, 0.5, 0, 0.95)});
        return reg;
    }();
    return r;
}

std::shared_ptr<const ir::Model> loadCommitted(const char* name) {
    auto m = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/" + name + "/model.onnx");
    if (!m.ok()) return nullptr;
    return std::make_shared<const ir::Model>(std::move(m).value());
}

ProfileSettings quickSettings() {
    ProfileSettings s;
    s.runs = 2;
    s.warmup = 1;
    s.roofline = false;
    return s;
}

} // namespace

TEST(PassesPanel, BuildsTypedEditorsFromTheSchema) {
    uitest::app();
    PassesPanel panel(allTypesRegistry());
    // Four categories, every pass under its own.
    ASSERT_EQ(panel.tree()->topLevelItemCount(), 4);
    EXPECT_EQ(panel.tree()->topLevelItem(1)->childCount(), 2);

    auto* keep = qobject_cast<QCheckBox*>(panel.paramWidget("fuse-exact", "keep_bias"));
    ASSERT_TRUE(keep);
    EXPECT_TRUE(keep->isChecked());
    auto* form = qobject_cast<QComboBox*>(panel.paramWidget("fuse-approx", "form"));
    ASSERT_TRUE(form);
    EXPECT_EQ(form->count(), 3);
    EXPECT_EQ(form->currentText(), "b");
    auto* bits = qobject_cast<QSpinBox*>(panel.paramWidget("quantize", "bits"));
    ASSERT_TRUE(bits);
    EXPECT_EQ(bits->minimum(), 2);
    EXPECT_EQ(bits->maximum(), 8);
    EXPECT_EQ(bits->value(), 8);
    auto* pct = qobject_cast<QDoubleSpinBox*>(panel.paramWidget("quantize", "percentile"));
    ASSERT_TRUE(pct);
    EXPECT_DOUBLE_EQ(pct->minimum(), 50);
    EXPECT_DOUBLE_EQ(pct->maximum(), 100);
    EXPECT_DOUBLE_EQ(pct->value(), 99.9);
    auto* exclude = qobject_cast<QLineEdit*>(panel.paramWidget("quantize", "exclude"));
    ASSERT_TRUE(exclude);
    EXPECT_EQ(exclude->text(), "head; tail");
    auto* sparsity = qobject_cast<QDoubleSpinBox*>(panel.paramWidget("prune", "sparsity"));
    ASSERT_TRUE(sparsity);
    EXPECT_DOUBLE_EQ(sparsity->maximum(), 0.95);

    // Edited values flow into the pipeline; defaults are left out of it.
    panel.setPassChecked("quantize", true);
    bits->setValue(4);
    exclude->setText("a; b ;;c");
    const auto p = panel.pipeline();
    const auto it =
        std::find_if(p.steps.begin(), p.steps.end(), [](const auto& s) { return s.pass == "quantize"; });
    ASSERT_NE(it, p.steps.end());
    EXPECT_EQ(it->params.getInt("bits"), 4);
    EXPECT_EQ(it->params.getList("exclude"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(it->params.values().count("percentile"), 0u);
    EXPECT_EQ(panel.currentPreset(), QString()); // custom
}

TEST(PassesPanel, BuildsAnEditorForEveryRegisteredParameter) {
    uitest::app();
    PassesPanel panel;
    for (const auto& info : passes::PassRegistry::global().passes()) {
        const QString pass = QString::fromStdString(info.name);
        for (const auto& spec : info.params) {
            QWidget* w = panel.paramWidget(pass, QString::fromStdString(spec.name));
            ASSERT_TRUE(w) << info.name << "." << spec.name;
            switch (spec.type) {
            case passes::ParamSpec::Type::Bool:
                EXPECT_TRUE(qobject_cast<QCheckBox*>(w));
                break;
            case passes::ParamSpec::Type::Int:
                EXPECT_TRUE(qobject_cast<QSpinBox*>(w));
                break;
            case passes::ParamSpec::Type::Float:
                EXPECT_TRUE(qobject_cast<QDoubleSpinBox*>(w));
                break;
            case passes::ParamSpec::Type::Enum:
                ASSERT_TRUE(qobject_cast<QComboBox*>(w));
                EXPECT_EQ(static_cast<size_t>(qobject_cast<QComboBox*>(w)->count()), spec.choices.size());
                break;
            case passes::ParamSpec::Type::NodeList:
                EXPECT_TRUE(qobject_cast<QLineEdit*>(w));
                break;
            }
        }
    }
}

TEST(PassesPanel, PresetsCheckTheirPassesAndMatchThePipeline) {
    uitest::app();
    PassesPanel panel;
    for (const char* key : {"cleanup", "safe-fusions", "all-fusions"}) {
        panel.applyPreset(key);
        const auto preset = passes::Pipeline::preset(key);
        const auto mine = panel.pipeline();
        ASSERT_EQ(mine.steps.size(), preset.steps.size()) << key;
        for (size_t i = 0; i < mine.steps.size(); ++i)
            EXPECT_EQ(mine.steps[i].pass, preset.steps[i].pass) << key;
        for (const auto& info : passes::PassRegistry::global().passes()) {
            const bool want = std::any_of(preset.steps.begin(), preset.steps.end(),
                                          [&](const auto& s) { return s.pass == info.name; });
            EXPECT_EQ(panel.isPassChecked(QString::fromStdString(info.name)), want)
                << key << " " << info.name;
        }
    }
    panel.applyPreset("cleanup");
    EXPECT_EQ(panel.currentPreset(), "cleanup");
    EXPECT_EQ(panel.presetCombo()->currentText(), "Clean-up");
    // Choosing from the combo applies the preset.
    panel.presetCombo()->activated(0);
    EXPECT_EQ(panel.currentPreset(), "safe-fusions");
    EXPECT_TRUE(panel.isPassChecked("fuse-conv-batchnorm"));
}

TEST(PassesPanel, RecipeRoundTrips) {
    uitest::app();
    QTemporaryDir dir;
    PassesPanel panel(allTypesRegistry());
    panel.applyPreset("cleanup");
    panel.setPassChecked("prune", true);
    qobject_cast<QDoubleSpinBox*>(panel.paramWidget("prune", "sparsity"))->setValue(0.75);
    const QString path = dir.filePath("recipe.json");
    ASSERT_TRUE(panel.saveRecipe(path));

    PassesPanel other(allTypesRegistry());
    QString error;
    // The recipe names passes of the test registry; Pipeline::fromJson checks them against the
    // global one, so load the global recipe format through a global panel instead.
    PassesPanel global;
    global.applyPreset("cleanup");
    global.setPassChecked("fuse-conv-batchnorm", true);
    const QString gpath = dir.filePath("global.json");
    ASSERT_TRUE(global.saveRecipe(gpath));
    PassesPanel loaded;
    loaded.applyPreset("all-fusions");
    ASSERT_TRUE(loaded.loadRecipe(gpath, &error)) << error.toStdString();
    EXPECT_TRUE(loaded.isPassChecked("fuse-conv-batchnorm"));
    EXPECT_FALSE(loaded.isPassChecked("fuse-conv-activation"));
    EXPECT_EQ(loaded.pipeline().toJson(), global.pipeline().toJson());
    EXPECT_FALSE(loaded.loadRecipe(dir.filePath("missing.json"), &error));
}

TEST(PassesPanel, RunProducesAnExperiment) {
    uitest::app();
    auto model = loadCommitted("resnet_bn_stack");
    ASSERT_TRUE(model);
    PassesPanel panel;
    ExperimentsPanel experiments;
    experiments.setBaseline(model, nullptr);
    QObject::connect(&panel, &PassesPanel::experimentFinished, &experiments,
                     &ExperimentsPanel::addExperiment);
    EXPECT_FALSE(panel.runButton()->isEnabled()); // no model yet
    panel.setModel(model);
    panel.setProfileSettings(quickSettings());
    panel.setCompareRuns(2);
    panel.applyPreset("safe-fusions");
    ASSERT_TRUE(panel.runButton()->isEnabled());
    QSignalSpy failed(&panel, &PassesPanel::runFailed);
    QSignalSpy finished(&panel, &PassesPanel::experimentFinished);
    QTest::mouseClick(panel.runButton(), Qt::LeftButton);
    EXPECT_TRUE(panel.isRunning());
    EXPECT_FALSE(panel.runButton()->isEnabled());
    ASSERT_TRUE(uitest::waitFor([&] { return finished.count() + failed.count() > 0; }, 120000));
    ASSERT_EQ(failed.count(), 0) << failed.at(0).at(0).toString().toStdString();
    ASSERT_EQ(experiments.store()->count(), 2);
    const auto e = experiments.store()->at(1);
    EXPECT_EQ(e->name, "Safe fusions #1");
    EXPECT_LT(e->nodeCount(), static_cast<int>(model->graph->nodeCount())); // BatchNormalization folded
    ASSERT_TRUE(e->compare);
    ASSERT_TRUE(e->profile);
    EXPECT_LT(e->maxAbsError(), 1e-3);
    EXPECT_GT(e->speedup(), 0);
    EXPECT_EQ(e->reports.size(), e->pipeline.steps.size());
    EXPECT_EQ(experiments.currentId(), 1);
    // The baseline had no profile: the run profiled it with the same settings.
    EXPECT_TRUE(e->baselineProfile);
    EXPECT_TRUE(experiments.store()->baseline()->profile);
    EXPECT_GT(experiments.reportModel()->rowCount(), 0);
    EXPECT_EQ(panel.progressBar()->value(), 100);
    EXPECT_TRUE(panel.runButton()->isEnabled());

    // The optimized model exports; the loaded file is never overwritten.
    QTemporaryDir dir;
    QString error;
    EXPECT_TRUE(experiments.exportExperiment(1, dir.filePath("opt.onnx"), &error)) << error.toStdString();
    EXPECT_TRUE(onnxio::loadModel(dir.filePath("opt.onnx").toStdString()).ok());
    EXPECT_FALSE(experiments.exportExperiment(1, QString::fromStdString(model->sourcePath), &error));
    // Export… saves on a worker: started now, exported when the file is written.
    QSignalSpy started(&experiments, &ExperimentsPanel::exportStarted);
    QSignalSpy exported(&experiments, &ExperimentsPanel::exported);
    ASSERT_TRUE(experiments.startExport(1, dir.filePath("opt_async.onnx")));
    EXPECT_EQ(started.count(), 1);
    EXPECT_TRUE(experiments.isExporting());
    EXPECT_FALSE(experiments.startExport(1, dir.filePath("second.onnx"))); // one at a time
    ASSERT_TRUE(uitest::waitFor([&] { return exported.count() > 0; }));
    EXPECT_FALSE(experiments.isExporting());
    EXPECT_TRUE(onnxio::loadModel(dir.filePath("opt_async.onnx").toStdString()).ok());
}

TEST(PassesPanel, CancelStopsTheRun) {
    uitest::app();
    auto model = loadCommitted("squeezenet1_1");
    ASSERT_TRUE(model);
    PassesPanel panel;
    panel.setModel(model);
    ProfileSettings slow;
    slow.runs = 500; // long enough to be cancelled while profiling at the latest
    slow.warmup = 1;
    slow.roofline = false;
    panel.setProfileSettings(slow);
    panel.applyPreset("all-fusions");
    QSignalSpy cancelled(&panel, &PassesPanel::runCancelled);
    QSignalSpy finished(&panel, &PassesPanel::experimentFinished);
    ASSERT_TRUE(panel.run());
    EXPECT_TRUE(panel.cancelButton()->isEnabled());
    QTest::mouseClick(panel.cancelButton(), Qt::LeftButton);
    ASSERT_TRUE(uitest::waitFor([&] { return !panel.isRunning(); }, 60000));
    QCoreApplication::processEvents();
    EXPECT_EQ(cancelled.count(), 1);
    EXPECT_EQ(finished.count(), 0);
    EXPECT_TRUE(panel.runButton()->isEnabled());
}

TEST(PassesPanel, ReplacingTheModelDropsTheRunningExperiment) {
    uitest::app();
    auto model = loadCommitted("resnet_bn_stack");
    ASSERT_TRUE(model);
    PassesPanel panel;
    panel.setModel(model);
    panel.setProfileSettings(quickSettings());
    panel.setCompareRuns(2);
    QSignalSpy finished(&panel, &PassesPanel::experimentFinished);
    ASSERT_TRUE(panel.run());
    panel.setModel(nullptr); // model closed while the run is in flight
    ASSERT_TRUE(uitest::waitFor([&] { return !panel.isRunning(); }, 60000));
    QCoreApplication::processEvents();
    EXPECT_EQ(finished.count(), 0);
    EXPECT_FALSE(panel.runButton()->isEnabled());
}
