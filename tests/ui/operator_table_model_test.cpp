#include "models/operator_table_model.h"
#include "ui_test_app.h"

#include <QAbstractItemModelTester>
#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::ui;

namespace {
QVector<OperatorRow> sampleRows() {
    QVector<OperatorRow> rows;
    auto add = [&](ir::NodeId id, const char* name, const char* op, double flops, double ms, double share) {
        OperatorRow r;
        r.id = id;
        r.name = name;
        r.opType = op;
        r.outputShape = "1×8×4×4";
        r.flops = flops;
        r.params = static_cast<qint64>(flops / 10);
        r.profiled = ms >= 0;
        r.medianMs = ms;
        r.p90Ms = ms * 1.1;
        r.share = share;
        r.gflops = ms > 0 ? flops / ms / 1e6 : 0;
        r.bound = flops > 1000 ? "compute" : "memory";
        rows.push_back(r);
    };
    add(0, "conv_1", "Conv", 9000, 2.0, 0.5);
    add(1, "relu_1", "Relu", 100, 0.25, 0.0625);
    add(2, "conv_2", "Conv", 90000, 1.5, 0.375);
    add(3, "add, with comma", "Add", 10, 0.25, 0.0625);
    return rows;
}
} // namespace

TEST(OperatorTableModel, PassesModelTesterThroughResets) {
    uitest::app();
    OperatorTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    EXPECT_EQ(model.rowCount(), 0);
    model.setRows(sampleRows());
    EXPECT_EQ(model.rowCount(), 4);
    EXPECT_EQ(model.columnCount(), OperatorTableModel::ColumnCount);
    EXPECT_EQ(model.index(0, OperatorTableModel::Name).data().toString(), "conv_1");
    EXPECT_EQ(model.index(0, OperatorTableModel::Share).data().toString(), "50.0 %");
    EXPECT_EQ(model.index(2, OperatorTableModel::Flops).data().toString(), "90.0 k");
    EXPECT_EQ(model.rowOf(2), 2);
    EXPECT_EQ(model.rowOf(99), -1);
    model.setRows({});
    EXPECT_EQ(model.rowCount(), 0);
}

TEST(OperatorTableModel, ProxySortsNumericallyAndFilters) {
    uitest::app();
    OperatorTableModel model;
    model.setRows(sampleRows());
    OperatorFilterModel proxy;
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::Fatal);
    proxy.setSourceModel(&model);
    // "90.0 k" sorts above "9.0 k" only when the sort is numeric.
    proxy.sort(OperatorTableModel::Flops, Qt::DescendingOrder);
    EXPECT_EQ(proxy.index(0, OperatorTableModel::Name).data().toString(), "conv_2");
    EXPECT_EQ(proxy.index(1, OperatorTableModel::Name).data().toString(), "conv_1");
    proxy.sort(OperatorTableModel::MedianMs, Qt::DescendingOrder);
    EXPECT_EQ(proxy.index(0, OperatorTableModel::Name).data().toString(), "conv_1");

    proxy.setOpType("Conv");
    EXPECT_EQ(proxy.rowCount(), 2);
    proxy.setText("_2");
    EXPECT_EQ(proxy.rowCount(), 1);
    proxy.setOpType("");
    proxy.setText("relu");
    ASSERT_EQ(proxy.rowCount(), 1);
    EXPECT_EQ(proxy.index(0, 0).data(OperatorTableModel::NodeIdRole).toUInt(), 1u);
    proxy.setText("");
    EXPECT_EQ(proxy.rowCount(), 4);
}

TEST(OperatorTableModel, UnprofiledRowsShowCostsButNoTimes) {
    uitest::app();
    OperatorTableModel model;
    auto rows = sampleRows();
    rows[1].profiled = false;
    model.setRows(rows);
    EXPECT_TRUE(model.index(1, OperatorTableModel::MedianMs).data().toString().isEmpty());
    EXPECT_LT(model.index(1, OperatorTableModel::MedianMs).data(OperatorTableModel::SortRole).toDouble(), 0);
    EXPECT_FALSE(model.index(1, OperatorTableModel::Flops).data().toString().isEmpty());
}
