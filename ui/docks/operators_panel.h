#pragma once
// Operators dock: sortable, filterable table of every node with its costs and measured times.
#include "models/operator_table_model.h"

#include <QWidget>

class QComboBox;
class QLineEdit;
class QTableView;
class QLabel;

namespace opstudio::ui {

class OperatorsPanel : public QWidget {
    Q_OBJECT
public:
    explicit OperatorsPanel(QWidget* parent = nullptr);
    OperatorTableModel* model() const { return m_model; }
    OperatorFilterModel* proxy() const { return m_proxy; }
    QTableView* table() const { return m_table; }
    QLineEdit* filterEdit() const { return m_filter; }
    QComboBox* opTypeCombo() const { return m_opType; }

    void setRows(QVector<OperatorRow> rows, bool profiled);
    /// Selects and scrolls to a node's row without emitting nodeActivated.
    void selectNode(ir::NodeId id);
    /// Selected rows as CSV (header + rows, visible column order, unformatted numbers).
    QString selectedRowsCsv() const;
    void copySelection() const;

Q_SIGNALS:
    void nodeActivated(ir::NodeId id);

private:
    OperatorTableModel* m_model;
    OperatorFilterModel* m_proxy;
    QTableView* m_table;
    QLineEdit* m_filter;
    QComboBox* m_opType;
    QLabel* m_summary;
    bool m_programmatic = false;
};

} // namespace opstudio::ui
