#include "docks/experiments_panel.h"

#include "dialogs/compare_dialog.h"
#include "opstudio/onnx/model_io.h"

#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMessageBox>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

namespace opstudio::ui {

ExperimentsPanel::ExperimentsPanel(QWidget* parent)
    : QWidget(parent), m_store(new ExperimentStore(this)), m_model(new ExperimentModel(m_store, this)),
      m_proxy(new QSortFilterProxyModel(this)), m_reports(new PassReportModel(this)) {
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(ExperimentModel::SortRole);
    m_saveJob = new ModelSaveJob(this);
    connect(m_saveJob, &ModelSaveJob::finished, this, [this](const QString& path, const QStringList&, double) {
        updateActions();
        Q_EMIT exported(path);
    });
    connect(m_saveJob, &ModelSaveJob::failed, this, [this](const QString&, const QString& message) {
        updateActions();
        reportError(tr("Cannot export model"), message);
        Q_EMIT exportFailed(message);
    });

    auto button = [this](const QString& text, const QString& tip) {
        auto* b = new QToolButton;
        b->setText(text);
        b->setToolTip(tip);
        b->setToolButtonStyle(Qt::ToolButtonTextOnly);
        b->setAutoRaise(true);
        return b;
    };
    m_compare = button(tr("Compare…"),
                       tr("Compare the two selected experiments, or the baseline with the selected one"));
    m_export = button(tr("Export model…"), tr("Save the selected experiment's optimized model as .onnx"));
    m_recipe = button(tr("Save recipe…"), tr("Save the selected experiment's pipeline as a JSON recipe"));
    m_use = button(tr("Use recipe"), tr("Load the selected experiment's pipeline into the Passes panel"));
    m_remove = button(tr("Remove"), tr("Remove the selected experiment"));
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    for (QToolButton* b : {m_compare, m_export, m_recipe, m_use})
        bar->addWidget(b);
    bar->addStretch(1);
    bar->addWidget(m_remove);

    m_table = new QTableView;
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(ExperimentModel::Name, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 8);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->horizontalHeader()->setSectionResizeMode(ExperimentModel::Pipeline, QHeaderView::Stretch);
    m_table->horizontalHeader()->setHighlightSections(false);
    m_table->setColumnWidth(ExperimentModel::Name, 140);
    for (int c = ExperimentModel::Latency; c < ExperimentModel::ColumnCount; ++c)
        m_table->setColumnWidth(c, 84);

    m_empty = new QLabel(tr("No experiments yet. Check passes in the Passes panel and press Run."));
    m_empty->setStyleSheet("color: #6b7280;");
    m_empty->setAlignment(Qt::AlignCenter);

    m_reportTitle = new QLabel(tr("Pass report"));
    QFont tf = m_reportTitle->font();
    tf.setBold(true);
    m_reportTitle->setFont(tf);
    m_reportView = new QTreeView;
    m_reportView->setModel(m_reports);
    m_reportView->setAlternatingRowColors(true);
    m_reportView->setUniformRowHeights(true);
    m_reportView->setAllColumnsShowFocus(true);
    m_reportView->header()->setStretchLastSection(true);
    m_reportView->setColumnWidth(PassReportModel::Pass, 210);
    for (int c = PassReportModel::Applied; c < PassReportModel::Details; ++c)
        m_reportView->setColumnWidth(c, 72);
    m_reportView->setColumnWidth(PassReportModel::Nodes, 80);
    m_reportView->setColumnWidth(PassReportModel::BytesSaved, 86);
    m_details = new QLabel;
    m_details->setWordWrap(true);
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_details->setStyleSheet("color: #374151; padding: 2px;");

    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addLayout(bar);
    topLayout->addWidget(m_table, 1);
    topLayout->addWidget(m_empty);
    auto* reportPage = new QWidget;
    auto* bottomLayout = new QVBoxLayout(reportPage);
    bottomLayout->setContentsMargins(4, 4, 4, 4);
    bottomLayout->addWidget(m_reportTitle);
    bottomLayout->addWidget(m_reportView, 1);
    bottomLayout->addWidget(m_details);
    m_pareto = new ParetoChart;
    m_pareto->setToolTip(tr("Each experiment by latency and error; the dashed line joins the Pareto front "
                            "(nothing else is both faster and more accurate). Click a point to select it."));
    m_tabs = new QTabWidget;
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(reportPage, tr("Pass report"));
    m_tabs->addTab(m_pareto, tr("Latency vs error"));
    QWidget* bottom = m_tabs;
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(bottom);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    split->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(split);

    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        showReportOf(currentId());
        updateActions();
    });
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        showReportOf(-1);
        updateActions();
    });
    connect(m_model, &QAbstractItemModel::rowsInserted, this, &ExperimentsPanel::updateActions);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, &ExperimentsPanel::updateActions);
    for (auto sig : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
        connect(m_model, sig, this, &ExperimentsPanel::updatePareto);
    connect(m_model, &QAbstractItemModel::modelReset, this, &ExperimentsPanel::updatePareto);
    connect(m_model, &QAbstractItemModel::dataChanged, this, &ExperimentsPanel::updatePareto);
    connect(m_pareto, &ParetoChart::experimentActivated, this, &ExperimentsPanel::setCurrentId);
    connect(m_reportView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& idx) {
                if (!idx.isValid()) {
                    m_details->clear();
                    return;
                }
                const QModelIndex row = idx.siblingAtColumn(PassReportModel::Pass);
                const QString what = row.data().toString();
                const QString why = idx.siblingAtColumn(PassReportModel::Details).data().toString();
                m_details->setText(
                    why.isEmpty()
                        ? what
                        : QStringLiteral("<b>%1</b>: %2").arg(what.toHtmlEscaped(), why.toHtmlEscaped()));
            });
    connect(m_reportView, &QTreeView::activated, this, [this](const QModelIndex& idx) {
        const QString node = idx.siblingAtColumn(0).data(PassReportModel::NodeNameRole).toString();
        const auto base = m_store->baseline();
        if (node.isEmpty() || !base || !base->model) return;
        const std::string name = node.toStdString();
        ir::NodeId found = ir::kNoNode;
        base->model->graph->forEachNode([&](const ir::Node& n) {
            if (found == ir::kNoNode && n.name == name) found = n.id;
        });
        if (found != ir::kNoNode) Q_EMIT nodeSelected(found);
    });
    connect(m_compare, &QToolButton::clicked, this, &ExperimentsPanel::compareSelected);
    connect(m_export, &QToolButton::clicked, this, &ExperimentsPanel::exportDialog);
    connect(m_recipe, &QToolButton::clicked, this, &ExperimentsPanel::saveRecipeDialog);
    connect(m_remove, &QToolButton::clicked, this, &ExperimentsPanel::removeCurrent);
    connect(m_use, &QToolButton::clicked, this, [this] {
        if (const auto e = m_store->find(currentId()); e && !e->isBaseline())
            Q_EMIT recipeActivated(e->pipeline);
    });
    updateActions();
}

void ExperimentsPanel::setBaseline(std::shared_ptr<const ir::Model> model,
                                   std::shared_ptr<const profile::Profile> profile) {
    m_store->setBaseline(std::move(model), std::move(profile));
}

void ExperimentsPanel::setBaselineProfile(std::shared_ptr<const profile::Profile> profile) {
    m_store->setBaselineProfile(std::move(profile));
}

int ExperimentsPanel::addExperiment(std::shared_ptr<Experiment> experiment) {
    if (!experiment) return -1;
    if (const auto base = m_store->baseline(); base && !base->profile && experiment->baselineProfile)
        m_store->setBaselineProfile(experiment->baselineProfile);
    const int id = m_store->add(std::move(*experiment));
    setCurrentId(id);
    return id;
}

QList<int> ExperimentsPanel::selectedIds() const {
    QList<int> ids;
    for (const QModelIndex& r : m_table->selectionModel()->selectedRows())
        ids << r.data(ExperimentModel::IdRole).toInt();
    return ids;
}

int ExperimentsPanel::currentId() const {
    const QModelIndex cur = m_table->selectionModel()->currentIndex();
    if (cur.isValid() && m_table->selectionModel()->isRowSelected(cur.row(), {}))
        return cur.data(ExperimentModel::IdRole).toInt();
    const QList<int> ids = selectedIds();
    return ids.isEmpty() ? -1 : ids.front();
}

void ExperimentsPanel::setCurrentId(int id) {
    const int row = m_store->rowOf(id);
    if (row < 0) {
        m_table->clearSelection();
        return;
    }
    const QModelIndex idx = m_proxy->mapFromSource(m_model->index(row, 0));
    m_table->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect |
                                                        QItemSelectionModel::Rows);
    m_table->scrollTo(idx);
}

void ExperimentsPanel::showReportOf(int id) {
    const auto e = m_store->find(id);
    if (!e || e->isBaseline()) {
        m_reports->setReports({});
        m_reportTitle->setText(e ? tr("Pass report — the baseline is the model as loaded")
                                 : tr("Pass report — select an experiment"));
        m_details->clear();
        return;
    }
    m_reports->setReports(e->reports);
    int applied = 0;
    for (const auto& r : e->reports)
        applied += r.applied;
    const int skipped = m_reports->totalSkipped();
    m_reportTitle->setText(tr("Pass report — %1: %2 rewrite(s), %3 candidate(s) skipped")
                               .arg(e->name)
                               .arg(applied)
                               .arg(skipped));
    // Passes with skips open by default: the reasons are the point of this view.
    for (int r = 0; r < m_reports->rowCount(); ++r) {
        const QModelIndex idx = m_reports->index(r, 0);
        if (!e->reports[r].skipped.empty()) m_reportView->expand(idx);
    }
    m_details->setText(skipped > 0 ? tr("Expand a pass to see why candidates were skipped; double-click one "
                                        "to select it in the graph.")
                                   : QString());
}

void ExperimentsPanel::updatePareto() {
    QVector<ParetoPoint> points;
    for (int r = 0; r < m_model->rowCount(); ++r) {
        ParetoPoint p;
        p.id = m_model->idAt(r);
        p.label = m_model->index(r, ExperimentModel::Name).data().toString();
        p.latencyMs = m_model->index(r, ExperimentModel::Latency).data(ExperimentModel::SortRole).toDouble();
        p.maxAbsError =
            m_model->index(r, ExperimentModel::MaxAbsError).data(ExperimentModel::SortRole).toDouble();
        p.baseline = p.id == 0;
        points << p;
    }
    m_pareto->setPoints(points);
}

void ExperimentsPanel::updateActions() {
    const auto e = m_store->find(currentId());
    const bool isExp = e && !e->isBaseline();
    m_export->setEnabled(isExp && !m_saveJob->isRunning());
    m_recipe->setEnabled(isExp);
    m_use->setEnabled(isExp);
    m_remove->setEnabled(isExp);
    m_compare->setEnabled(selectedIds().size() == 2 || isExp);
    m_empty->setVisible(m_store->count() <= 1);
}

bool ExperimentsPanel::exportExperiment(int id, const QString& path, QString* error) const {
    const auto e = m_store->find(id);
    if (!e || !e->model) {
        if (error) *error = tr("no such experiment");
        return false;
    }
    const Status s = onnxio::saveModel(*e->model, path.toStdString());
    if (!s.ok()) {
        if (error) *error = QString::fromStdString(s.error().describe());
        return false;
    }
    return true;
}

bool ExperimentsPanel::saveRecipe(int id, const QString& path, QString* error) const {
    const auto e = m_store->find(id);
    if (!e) {
        if (error) *error = tr("no such experiment");
        return false;
    }
    QFile f(path);
    const QByteArray text = QByteArray::fromStdString(e->pipeline.toJson() + "\n");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(text) != text.size()) {
        if (error) *error = f.errorString();
        return false;
    }
    return true;
}

CompareDialog* ExperimentsPanel::openCompare(int idA, int idB) {
    auto* d = new CompareDialog(m_store, idA, idB, this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    connect(d, &CompareDialog::nodeSelected, this, &ExperimentsPanel::nodeSelected);
    d->show();
    return d;
}

void ExperimentsPanel::compareSelected() {
    QList<int> ids = selectedIds();
    std::sort(ids.begin(), ids.end());
    if (ids.size() == 2)
        openCompare(ids[0], ids[1]);
    else if (const int id = currentId(); id > 0)
        openCompare(0, id);
}

void ExperimentsPanel::removeCurrent() {
    const int id = currentId();
    if (id > 0) m_store->remove(id);
}

void ExperimentsPanel::exportDialog() {
    const auto e = m_store->find(currentId());
    if (!e || e->isBaseline()) {
        QMessageBox::information(this, tr("Export Optimized Model"),
                                 m_store->count() > 1
                                     ? tr("Select an experiment in the Experiments dock first.")
                                     : tr("Run an experiment from the Passes dock first."));
        return;
    }
    QString suggested = QStringLiteral("optimized.onnx");
    if (const auto base = m_store->baseline(); base && base->model && !base->model->sourcePath.empty()) {
        const QFileInfo fi(QString::fromStdString(base->model->sourcePath));
        suggested = fi.absolutePath() + "/" + fi.completeBaseName() + ".optimized.onnx";
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Optimized Model"), suggested,
                                                      tr("ONNX models (*.onnx)"));
    if (path.isEmpty()) return;
    startExport(e->id, path);
}

bool ExperimentsPanel::startExport(int id, const QString& path) {
    const auto e = m_store->find(id);
    if (!e || !e->model || m_saveJob->isRunning()) return false;
    if (!m_saveJob->start(e->model, path)) return false;
    m_export->setEnabled(false);
    Q_EMIT exportStarted(path);
    return true;
}

void ExperimentsPanel::saveRecipeDialog() {
    const auto e = m_store->find(currentId());
    if (!e || e->isBaseline()) return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Save Recipe"), QStringLiteral("recipe.json"),
                                                      tr("Recipes (*.json)"));
    if (path.isEmpty()) return;
    QString error;
    if (!saveRecipe(e->id, path, &error)) reportError(tr("Cannot save recipe"), error);
}

void ExperimentsPanel::reportError(const QString& title, const QString& message) {
    QMessageBox::warning(this, title, message);
}

} // namespace opstudio::ui
