#pragma once
// Table of experiments (baseline first): name, pipeline, latency, speedup, error, size, nodes.
// Display text is formatted; Qt::UserRole carries the raw number for sorting.
#include "experiments.h"

#include <QAbstractTableModel>

namespace opstudio::ui {

class ExperimentModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Pipeline, Latency, Speedup, MaxAbsError, SizeMb, Nodes, ColumnCount };
    /// Qt::UserRole: raw value for sorting; IdRole: experiment id.
    enum Role { SortRole = Qt::UserRole, IdRole = Qt::UserRole + 1 };

    explicit ExperimentModel(ExperimentStore* store, QObject* parent = nullptr);
    ExperimentStore* store() const { return m_store; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

    int idAt(int row) const;

private:
    ExperimentStore* m_store;
};

} // namespace opstudio::ui
