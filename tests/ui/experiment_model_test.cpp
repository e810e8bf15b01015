#include "charts/compare_chart.h"
#include "dialogs/compare_dialog.h"
#include "docks/experiments_panel.h"
#include "models/experiment_model.h"
#include "models/pass_report_model.h"
#include "ui_test_app.h"

#include <QAbstractItemModelTester>
#include <QLabel>
#include <QSignalSpy>
#include <QTableWidget>
#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::ui;

namespace {

ir::Node makeNode(const char* name, const char* op, std::vector<ir::NodeId> provenance = {}) {
    ir::Node n;
    n.name = name;
    n.opType = op;
    n.provenance = std::move(provenance);
    return n;
}

/// conv(0) -> bn(1) -> relu(2) -> add(3)
std::shared_ptr<ir::Model> baselineModel() {
    auto m = std::make_shared<ir::Model>();
    m->graph->addNode(makeNode("conv", "Conv"));
    m->graph->addNode(makeNode("bn", "BatchNormalization"));
    m->graph->addNode(makeNode("relu", "Relu"));
    m->graph->addNode(makeNode("add", "Add"));
    return m;
}

/// The same with conv + bn + relu fused into one node (id 4, provenance {0, 1, 2}).
std::shared_ptr<ir::Model> fusedModel() {
    auto m = std::make_shared<ir::Model>(baselineModel()->clone());
    m->graph->addNode(makeNode("conv_fused", "FusedConv", {0, 1, 2}));
    for (ir::NodeId id : {0u, 1u, 2u})
        m->graph->removeNode(id);
    return m;
}

std::shared_ptr<profile::Profile> profileOf(const ir::Model& m, std::map<std::string, double> ms) {
    auto p = std::make_shared<profile::Profile>();
    std::map<std::string, profile::OpTypeProfile> types;
    m.graph->forEachNode([&](const ir::Node& n) {
        profile::NodeProfile np;
        np.name = n.name;
        np.opType = n.opType;
        np.id = n.id;
        np.time.median = ms[n.name];
        np.selfMedianMs = ms[n.name];
        p->total.median += ms[n.name];
        p->nodes.push_back(np);
        auto& t = types[n.opType];
        t.opType = n.opType;
        t.count++;
        t.totalMs += ms[n.name];
    });
    for (auto& [k, t] : types)
        p->opTypes.push_back(t);
    return p;
}

std::shared_ptr<Experiment> fusedExperiment(double maxAbs) {
    auto e = std::make_shared<Experiment>();
    e->name = "Safe fusions";
    e->pipeline.add("remove-identity");
    e->pipeline.add("fuse-conv-batchnorm");
    e->model = fusedModel();
    e->profile = profileOf(*e->model, {{"conv_fused", 2.0}, {"add", 0.5}});
    compare::CompareResult c;
    c.aMs = 5.0;
    c.bMs = 2.5;
    c.speedup = 2.0;
    compare::OutputComparison o;
    o.name = "y";
    o.maxAbs = maxAbs;
    o.cosine = 1;
    o.snrDb = 120;
    c.outputs.push_back(o);
    e->compare = c;
    passes::PassReport r;
    r.pass = "fuse-conv-batchnorm";
    r.applied = 1;
    r.nodesRemoved = 2;
    r.nodesAdded = 1;
    r.skipped.push_back({"conv_b", "Conv", "BatchNormalization output has 2 consumers"});
    e->reports.push_back(r);
    return e;
}

std::vector<passes::PassReport> sampleReports() {
    std::vector<passes::PassReport> rs(3);
    rs[0].pass = "remove-identity";
    rs[0].applied = 2;
    rs[0].nodesRemoved = 2;
    rs[0].wallMs = 0.4;
    rs[1].pass = "fuse-conv-batchnorm";
    rs[1].applied = 3;
    rs[1].weightBytesBefore = 4096;
    rs[1].weightBytesAfter = 2048;
    rs[1].skipped = {{"conv_7", "Conv", "BatchNormalization output has 2 consumers"},
                     {"conv_9", "Conv", "BatchNormalization output has 2 consumers"},
                     {"conv_12", "Conv", "scale is not a constant"}};
    rs[2].pass = "fuse-gelu";
    rs[2].notes = {"nothing to do: no candidate for this pass in the model"};
    return rs;
}

} // namespace

TEST(ExperimentModel, PassesModelTesterThroughAddRemoveRenameReset) {
    uitest::app();
    ExperimentStore store;
    ExperimentModel model(&store);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    EXPECT_EQ(model.rowCount(), 0);
    auto base = baselineModel();
    store.setBaseline(base, profileOf(*base, {{"conv", 2}, {"bn", 1}, {"relu", 1}, {"add", 0.5}}));
    ASSERT_EQ(model.rowCount(), 1);
    EXPECT_EQ(model.columnCount(), ExperimentModel::ColumnCount);
    EXPECT_EQ(model.index(0, ExperimentModel::Name).data().toString(), "Baseline");
    EXPECT_EQ(model.index(0, ExperimentModel::Latency).data().toString(), "4.500");
    EXPECT_EQ(model.index(0, ExperimentModel::Speedup).data().toString(), "1.00×");
    EXPECT_EQ(model.index(0, ExperimentModel::Nodes).data().toString(), "4");
    EXPECT_FALSE(model.flags(model.index(0, ExperimentModel::Name)) & Qt::ItemIsEditable);

    const int id = store.add(*fusedExperiment(1.5e-6));
    EXPECT_EQ(id, 1);
    ASSERT_EQ(model.rowCount(), 2);
    EXPECT_EQ(model.index(1, ExperimentModel::Name).data().toString(), "Safe fusions #1");
    EXPECT_EQ(model.index(1, ExperimentModel::Latency).data().toString(), "2.500");
    EXPECT_EQ(model.index(1, ExperimentModel::Speedup).data().toString(), "2.00×");
    EXPECT_EQ(model.index(1, ExperimentModel::MaxAbsError).data().toString(), "1.5e-06");
    EXPECT_DOUBLE_EQ(model.index(1, ExperimentModel::MaxAbsError).data(ExperimentModel::SortRole).toDouble(),
                     1.5e-6);
    EXPECT_EQ(model.index(1, ExperimentModel::Nodes).data().toString(), "2");
    EXPECT_TRUE(model.index(1, ExperimentModel::Pipeline).data().toString().contains("fuse-conv-batchnorm"));
    EXPECT_EQ(model.index(1, ExperimentModel::Name).data(ExperimentModel::IdRole).toInt(), 1);

    store.add(*fusedExperiment(0.25));
    ASSERT_EQ(model.rowCount(), 3);
    EXPECT_TRUE(model.setData(model.index(2, ExperimentModel::Name), "aggressive"));
    EXPECT_EQ(model.index(2, ExperimentModel::Name).data().toString(), "aggressive");
    EXPECT_TRUE(store.remove(1));
    EXPECT_FALSE(store.remove(0)); // the baseline stays
    ASSERT_EQ(model.rowCount(), 2);
    EXPECT_EQ(model.idAt(1), 2);
    store.setBaseline(nullptr, nullptr);
    EXPECT_EQ(model.rowCount(), 0);
}

TEST(PipelineSummary, CollapsesCleanupRuns) {
    const auto p = passes::Pipeline::preset("safe-fusions");
    const QString s = pipelineSummary(p);
    EXPECT_TRUE(s.startsWith("cleanup ×5")) << s.toStdString();
    EXPECT_TRUE(s.contains("fuse-conv-batchnorm")) << s.toStdString();
    EXPECT_EQ(pipelineSummary({}), "(no passes)");
}

TEST(PassReportModel, PassesModelTesterAndShowsSkipReasons) {
    uitest::app();
    PassReportModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setReports(sampleReports());
    ASSERT_EQ(model.rowCount(), 3);
    EXPECT_EQ(model.totalSkipped(), 3);
    const QModelIndex fuse = model.index(1, PassReportModel::Pass);
    EXPECT_EQ(fuse.data().toString(), "fuse-conv-batchnorm");
    EXPECT_EQ(model.index(1, PassReportModel::Applied).data().toInt(), 3);
    EXPECT_EQ(model.index(1, PassReportModel::Skipped).data().toInt(), 3);
    EXPECT_EQ(model.index(1, PassReportModel::BytesSaved).data().toString(), "2.0 kB");
    // The most frequent reason is summarised on the pass row...
    EXPECT_TRUE(model.index(1, PassReportModel::Details).data().toString().contains("2 consumers"));
    // ...and every skipped candidate is a child row with its reason.
    ASSERT_EQ(model.rowCount(fuse), 3);
    const QModelIndex child = model.index(2, PassReportModel::Details, fuse);
    EXPECT_EQ(child.data().toString(), "skipped: scale is not a constant");
    EXPECT_EQ(model.index(2, PassReportModel::Pass, fuse).data(PassReportModel::NodeNameRole).toString(),
              "conv_12");
    EXPECT_EQ(model.parent(child), fuse);
    // Notes are children too.
    const QModelIndex gelu = model.index(2, 0);
    ASSERT_EQ(model.rowCount(gelu), 1);
    EXPECT_TRUE(model.index(0, PassReportModel::Details, gelu).data().toString().startsWith("nothing to do"));
    EXPECT_EQ(model.index(0, PassReportModel::Nodes).data().toString(), "−2 / +0");
    model.setReports({});
    EXPECT_EQ(model.rowCount(), 0);
}

TEST(CompareChart, NodeGroupsFollowProvenance) {
    uitest::app();
    auto base = baselineModel();
    auto fused = fusedModel();
    auto pa = profileOf(*base, {{"conv", 2}, {"bn", 1}, {"relu", 1}, {"add", 0.5}});
    auto pb = profileOf(*fused, {{"conv_fused", 2.0}, {"add", 0.5}});
    const auto rows = compareByNodeGroup(*base, *pa, *fused, *pb, base.get());
    ASSERT_EQ(rows.size(), 2);
    EXPECT_EQ(rows[0].label, "conv +2");
    EXPECT_DOUBLE_EQ(rows[0].aMs, 4.0);
    EXPECT_DOUBLE_EQ(rows[0].bMs, 2.0);
    EXPECT_EQ(rows[0].originals, (QVector<ir::NodeId>{0, 1, 2}));
    EXPECT_TRUE(rows[0].detail.contains("FusedConv"));
    EXPECT_EQ(rows[1].label, "add");
    EXPECT_DOUBLE_EQ(rows[1].aMs, 0.5);

    const auto ops = compareByOpType(*pa, *pb);
    ASSERT_EQ(ops.size(), 5);
    EXPECT_EQ(ops[0].label, "Conv");
    CompareChart chart;
    chart.setRows(ops, "A", "B", 3);
    ASSERT_EQ(chart.rows().size(), 4); // 3 + "other"
    EXPECT_DOUBLE_EQ(
        chart.rows().back().aMs + chart.rows()[0].aMs + chart.rows()[1].aMs + chart.rows()[2].aMs, 4.5);
}

TEST(CompareDialog, ShowsSpeedupAccuracyAndNodeGroups) {
    uitest::app();
    ExperimentStore store;
    auto base = baselineModel();
    store.setBaseline(base, profileOf(*base, {{"conv", 2}, {"bn", 1}, {"relu", 1}, {"add", 0.5}}));
    auto e = fusedExperiment(1e-6);
    e->compare->firstDivergence = compare::Divergence{"relu", "Relu", "relu_out", 2e-3, 1e-3};
    const int id = store.add(*e);
    CompareDialog dialog(&store, 0, id);
    EXPECT_TRUE(dialog.headline()->text().contains("2.00× faster"))
        << dialog.headline()->text().toStdString();
    EXPECT_EQ(dialog.accuracyTable()->rowCount(), 1);
    EXPECT_EQ(dialog.accuracyTable()->item(0, 0)->text(), "y");
    EXPECT_TRUE(dialog.divergenceLabel()->text().contains("relu"));
    EXPECT_EQ(dialog.nodeChart()->rows().size(), 2);
    QSignalSpy spy(&dialog, &CompareDialog::nodeSelected);
    Q_EMIT dialog.nodeChart()->rowActivated(0);
    ASSERT_EQ(spy.count(), 1);
    EXPECT_EQ(spy.at(0).at(0).value<ir::NodeId>(), 0u);
    dialog.setPair(id, 0); // swapped: slower
    EXPECT_TRUE(dialog.headline()->text().contains("slower"));
}

TEST(ExperimentsPanel, AddSelectsAndShowsPassReport) {
    uitest::app();
    ExperimentsPanel panel;
    auto base = baselineModel();
    panel.setBaseline(base, nullptr);
    const int id = panel.addExperiment(fusedExperiment(0));
    EXPECT_EQ(panel.currentId(), id);
    EXPECT_EQ(panel.reportModel()->rowCount(), 1);
    EXPECT_EQ(panel.reportModel()->totalSkipped(), 1);
    // Baseline latency comes from the comparison when the baseline was not profiled.
    EXPECT_EQ(panel.model()->index(0, ExperimentModel::Latency).data().toString(), "5.000");
    QSignalSpy recipe(&panel, &ExperimentsPanel::recipeActivated);
    panel.setCurrentId(0);
    EXPECT_EQ(panel.reportModel()->rowCount(), 0);
}

TEST(ParetoChart, FrontKeepsOnlyUndominatedExperiments) {
    uitest::app();
    ParetoChart chart;
    chart.setPoints({{0, "Baseline", 5.0, 0, true},
                     {1, "exact", 4.0, 0, false},
                     {2, "slow and wrong", 4.5, 0.1, false},
                     {3, "fast", 2.0, 0.01, false},
                     {4, "fastest", 1.5, 0.5, false}});
    EXPECT_EQ(chart.front(), (QVector<int>{4, 3, 1}));
}

TEST(ExperimentsPanel, ParetoFollowsTheStore) {
    uitest::app();
    ExperimentsPanel panel;
    auto base = baselineModel();
    panel.setBaseline(base, nullptr);
    panel.addExperiment(fusedExperiment(0));
    panel.addExperiment(fusedExperiment(0.5));
    ASSERT_EQ(panel.paretoChart()->points().size(), 3);
    EXPECT_DOUBLE_EQ(panel.paretoChart()->points()[0].latencyMs, 5.0); // baseline, from the comparison
    Q_EMIT panel.paretoChart()->experimentActivated(2);
    EXPECT_EQ(panel.currentId(), 2);
}
