#include "docks/operators_panel.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QHeaderView>
#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QSet>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace opstudio::ui {

OperatorsPanel::OperatorsPanel(QWidget* parent) : QWidget(parent) {
    m_model = new OperatorTableModel(this);
    m_proxy = new OperatorFilterModel(this);
    m_proxy->setSourceModel(m_model);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    m_filter = new QLineEdit(this);
    m_filter->setPlaceholderText(tr("Filter by name or op type"));
    m_filter->setClearButtonEnabled(true);
    m_opType = new QComboBox(this);
    m_opType->setMinimumContentsLength(14);
    m_opType->addItem(tr("All op types"), QString());
    m_summary = new QLabel(this);
    m_summary->setStyleSheet("color: #5b6770;");
    bar->addWidget(m_filter, 2);
    bar->addWidget(m_opType, 1);
    bar->addWidget(m_summary);
    layout->addLayout(bar);

    m_table = new QTableView(this);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    // ONNX node names are paths ("/features/features.18/features.18.0/Conv"): keep both ends.
    m_table->setTextElideMode(Qt::ElideMiddle);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    // Time columns next to the op type: after a profile they are what the table is read for, and at
    // 1600 px they were scrolled out of the dock behind the shape, FLOPs and parameter columns.
    QHeaderView* header = m_table->horizontalHeader();
    int to = header->visualIndex(OperatorTableModel::OpType);
    for (int column : {OperatorTableModel::MedianMs, OperatorTableModel::Share, OperatorTableModel::P90Ms})
        header->moveSection(header->visualIndex(column), ++to);
    m_table->sortByColumn(-1, Qt::AscendingOrder); // graph order until there are times to sort by
    m_table->setContextMenuPolicy(Qt::ActionsContextMenu);
    auto* copy = new QAction(tr("Copy as CSV"), m_table);
    copy->setShortcut(QKeySequence::Copy);
    copy->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(copy, &QAction::triggered, this, &OperatorsPanel::copySelection);
    m_table->addAction(copy);
    layout->addWidget(m_table, 1);

    connect(m_filter, &QLineEdit::textChanged, m_proxy, &OperatorFilterModel::setText);
    connect(m_opType, &QComboBox::currentIndexChanged, this,
            [this](int i) { m_proxy->setOpType(m_opType->itemData(i).toString()); });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (m_programmatic || !current.isValid()) return;
        Q_EMIT nodeActivated(current.data(OperatorTableModel::NodeIdRole).toUInt());
    });
}

void OperatorsPanel::setRows(QVector<OperatorRow> rows, bool profiled) {
    QSet<QString> types;
    for (const auto& r : rows) types.insert(r.opType);
    QStringList sorted(types.begin(), types.end());
    sorted.sort();
    const QString keep = m_opType->currentData().toString();
    m_opType->blockSignals(true);
    m_opType->clear();
    m_opType->addItem(tr("All op types"), QString());
    for (const auto& t : sorted) m_opType->addItem(t, t);
    const int idx = m_opType->findData(keep);
    m_opType->setCurrentIndex(idx < 0 ? 0 : idx);
    m_opType->blockSignals(false);
    m_proxy->setOpType(m_opType->currentData().toString());

    m_summary->setText(tr("%n node(s)", nullptr, rows.size()));
    m_model->setRows(std::move(rows));
    // Measured columns appear with the first profile; before it they would be five empty columns
    // between the op type and the FLOPs and parameters that are already known.
    for (int column : {OperatorTableModel::MedianMs, OperatorTableModel::P90Ms, OperatorTableModel::Share,
                       OperatorTableModel::GFlops, OperatorTableModel::Bound})
        m_table->setColumnHidden(column, !profiled);
    m_table->sortByColumn(profiled ? OperatorTableModel::MedianMs : -1, profiled ? Qt::DescendingOrder : Qt::AscendingOrder);
    m_table->resizeColumnsToContents();
    m_table->setColumnWidth(OperatorTableModel::Name, std::min(m_table->columnWidth(OperatorTableModel::Name), 220));
}

void OperatorsPanel::selectNode(ir::NodeId id) {
    const int row = m_model->rowOf(id);
    m_programmatic = true;
    if (row < 0) {
        m_table->clearSelection();
    } else {
        const QModelIndex idx = m_proxy->mapFromSource(m_model->index(row, 0));
        if (idx.isValid()) {
            m_table->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
            m_table->scrollTo(idx);
        } else {
            m_table->clearSelection();
        }
    }
    m_programmatic = false;
}

QString OperatorsPanel::selectedRowsCsv() const {
    auto quote = [](QString s) {
        if (s.contains(',') || s.contains('"') || s.contains('\n')) s = '"' + s.replace("\"", "\"\"") + '"';
        return s;
    };
    QStringList lines;
    QStringList header;
    for (int c = 0; c < OperatorTableModel::ColumnCount; ++c)
        header << m_model->headerData(c, Qt::Horizontal).toString();
    lines << header.join(',');
    QModelIndexList rows = m_table->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
    for (const QModelIndex& proxyIndex : rows) {
        const OperatorRow& r = m_model->rows()[m_proxy->mapToSource(proxyIndex).row()];
        QStringList f;
        f << quote(r.name) << quote(r.opType) << quote(r.outputShape) << QString::number(r.flops, 'g', 12)
          << QString::number(r.params);
        if (r.profiled)
            f << QString::number(r.medianMs, 'f', 4) << QString::number(r.p90Ms, 'f', 4) << QString::number(r.share * 100, 'f', 3)
              << QString::number(r.gflops, 'f', 3);
        else
            f << "" << "" << "" << "";
        f << r.bound;
        lines << f.join(',');
    }
    return lines.join('\n') + '\n';
}

void OperatorsPanel::copySelection() const { QApplication::clipboard()->setText(selectedRowsCsv()); }

} // namespace opstudio::ui
