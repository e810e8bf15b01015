#pragma once
// What each pass of an experiment did: one row per pass (applied, skipped, nodes −/+, bytes saved,
// time), and under it one child row per skipped candidate with the reason and per note. Fusions
// that did not happen are never silent: a pass with skips shows their count and the reasons.
#include "opstudio/passes/pass.h"

#include <QAbstractItemModel>

#include <vector>

namespace opstudio::ui {

class PassReportModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Column { Pass, Applied, Skipped, Nodes, BytesSaved, Ms, Details, ColumnCount };
    /// Qt::UserRole: raw value for sorting; NodeNameRole: the skipped node's name (child rows).
    enum Role { SortRole = Qt::UserRole, NodeNameRole = Qt::UserRole + 1 };

    explicit PassReportModel(QObject* parent = nullptr);
    void setReports(std::vector<passes::PassReport> reports);
    const std::vector<passes::PassReport>& reports() const { return m_reports; }
    /// Total skipped candidates over all passes.
    int totalSkipped() const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    // internalId: 0 for pass rows, pass row + 1 for child rows.
    std::vector<passes::PassReport> m_reports;
};

} // namespace opstudio::ui
