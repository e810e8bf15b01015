#pragma once
// Before/after latency bars (QCustomPlot): pairs of horizontal bars per op type or per group of
// original nodes. Per-node rows are mapped through provenance, so a fused node's time is set against
// the original nodes it replaced (Conv + BatchNormalization + Relu → FusedConv is one row).
#include "opstudio/ir/graph.h"
#include "opstudio/profile/profiler.h"

#include <qcustomplot.h>

namespace opstudio::ui {

/// One row of the comparison: time in A and in B.
struct CompareRow {
    QString label;
    QString detail; // tooltip: op types on both sides, node names
    double aMs = 0;
    double bMs = 0;
    /// Original node ids of the group (per-node rows), for selection in the graph.
    QVector<ir::NodeId> originals;
};

/// Op types of both profiles (self times summed), by max(A, B) descending.
QVector<CompareRow> compareByOpType(const profile::Profile& a, const profile::Profile& b);
/// Main-graph nodes of A and B grouped by the original nodes they stand for (provenance, or the
/// node's own id): connected groups of original ids; by max(A, B) descending. `baseline` names the
/// original nodes (may be null: names of A are used).
QVector<CompareRow> compareByNodeGroup(const ir::Model& modelA, const profile::Profile& a,
                                       const ir::Model& modelB, const profile::Profile& b,
                                       const ir::Model* baseline = nullptr);

class CompareChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit CompareChart(QWidget* parent = nullptr);
    /// Shows at most `topN` rows (the rest is summed into "other").
    void setRows(QVector<CompareRow> rows, const QString& nameA, const QString& nameB, int topN = 20);
    const QVector<CompareRow>& rows() const { return m_rows; }
    int rowAt(const QPoint& pos) const;

Q_SIGNALS:
    void rowActivated(int row);

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    QVector<CompareRow> m_rows;
    QCPBars* m_a;
    QCPBars* m_b;
    QCPBarsGroup* m_group;
    QString m_nameA, m_nameB;
};

} // namespace opstudio::ui

namespace opstudio::ui {

/// One experiment as a point of the latency / error trade-off.
struct ParetoPoint {
    int id = -1;
    QString label;
    double latencyMs = 0;
    double maxAbsError = 0; // 0 for exact results
    bool baseline = false;
};

/// Scatter of experiments: latency (x) against max abs error (y, log scale; exact results sit on the
/// bottom line). Points on the Pareto front (nothing else is both faster and more accurate) are
/// joined; clicking a point reports its experiment.
class ParetoChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit ParetoChart(QWidget* parent = nullptr);
    void setPoints(QVector<ParetoPoint> points);
    const QVector<ParetoPoint>& points() const { return m_points; }
    /// Ids of the points on the front, by latency.
    QVector<int> front() const;
    int pointAt(const QPoint& pos) const;

Q_SIGNALS:
    void experimentActivated(int id);

protected:
    void mousePressEvent(QMouseEvent* event) override;

private:
    double yOf(const ParetoPoint& p) const;
    QVector<ParetoPoint> m_points;
    QCPGraph* m_all;
    QCPGraph* m_front;
    QCPGraph* m_base;
    double m_floor = 1e-9;
};

} // namespace opstudio::ui
