#pragma once
// One row per operator of the main graph: static costs (FLOPs, parameters) from the cost model on
// declared shapes, and measured times once a profile is attached.
#include "opstudio/ir/graph.h"
#include "opstudio/profile/profiler.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QString>
#include <QVector>

namespace opstudio::ui {

struct OperatorRow {
    ir::NodeId id = ir::kNoNode;
    QString name;
    QString opType;
    QString outputShape;
    double flops = 0;
    qint64 params = 0;
    bool profiled = false;
    double medianMs = 0;
    double p90Ms = 0;
    double share = 0; // 0..1 of the total median
    double gflops = 0;
    QString bound;
};

/// Rows for every node of `graph` (in graph order); `profile` adds times (nodes at depth 0 by id).
QVector<OperatorRow> buildOperatorRows(const ir::Graph& graph, const profile::Profile* profile);

class OperatorTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, OpType, OutputShape, Flops, Params, MedianMs, P90Ms, Share, GFlops, Bound, ColumnCount };
    /// Numeric value for sorting (double), NodeId for every column.
    enum Role { SortRole = Qt::UserRole + 1, NodeIdRole };

    explicit OperatorTableModel(QObject* parent = nullptr);
    void setRows(QVector<OperatorRow> rows);
    const QVector<OperatorRow>& rows() const { return m_rows; }
    /// Row of a node id, -1 when absent.
    int rowOf(ir::NodeId id) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVector<OperatorRow> m_rows;
    QHash<ir::NodeId, int> m_rowOfId;
};

/// Sorts on OperatorTableModel::SortRole; filters by free text (name or op type) and an exact op type.
class OperatorFilterModel : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit OperatorFilterModel(QObject* parent = nullptr);
    void setText(const QString& text);
    /// Empty: all op types.
    void setOpType(const QString& opType);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QString m_text;
    QString m_opType;
};

} // namespace opstudio::ui
