#pragma once
// Experiments dock: the experiment history (baseline first) with latency, speedup, error, size and
// node count; the selected experiment's pass report (what each pass did, and why candidates were
// skipped); compare, export of the optimized model, and its recipe.
#include "charts/compare_chart.h"
#include "experiments.h"
#include "jobs/model_save_job.h"
#include "models/experiment_model.h"
#include "models/pass_report_model.h"

#include <QWidget>

class QLabel;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;
class QToolButton;
class QTreeView;

namespace opstudio::ui {

class CompareDialog;

class ExperimentsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ExperimentsPanel(QWidget* parent = nullptr);

    ExperimentStore* store() const { return m_store; }
    ExperimentModel* model() const { return m_model; }
    PassReportModel* reportModel() const { return m_reports; }
    QTableView* table() const { return m_table; }
    QTreeView* reportView() const { return m_reportView; }
    ParetoChart* paretoChart() const { return m_pareto; }
    QTabWidget* detailTabs() const { return m_tabs; }

    /// New baseline (model loaded): drops every experiment.
    void setBaseline(std::shared_ptr<const ir::Model> model, std::shared_ptr<const profile::Profile> profile);
    /// The baseline was profiled again.
    void setBaselineProfile(std::shared_ptr<const profile::Profile> profile);
    /// Adds a finished experiment and selects it. Returns its id.
    int addExperiment(std::shared_ptr<Experiment> experiment);

    /// Id of the selected experiment (-1 when none).
    int currentId() const;
    void setCurrentId(int id);

    /// Saves an experiment's model (never over the loaded file), blocking. Error text in `error`.
    bool exportExperiment(int id, const QString& path, QString* error = nullptr) const;
    /// Starts saving an experiment's model on a worker (what Export… does); false when none or busy.
    /// exportStarted now, then exported or exportFailed.
    bool startExport(int id, const QString& path);
    bool isExporting() const { return m_saveJob->isRunning(); }
    ModelSaveJob* saveJob() const { return m_saveJob; }
    bool saveRecipe(int id, const QString& path, QString* error = nullptr) const;
    /// Opens the compare view (non-modal) for two experiment ids.
    CompareDialog* openCompare(int idA, int idB);

public Q_SLOTS:
    /// File dialog, then startExport(currentId()).
    void exportDialog();
    void saveRecipeDialog();
    /// Compares the two selected rows, or the baseline with the selected one.
    void compareSelected();
    void removeCurrent();

Q_SIGNALS:
    /// A node of the baseline (the model shown in the graph) was activated: a skipped candidate, a compare
    /// row.
    void nodeSelected(ir::NodeId id);
    /// "Use recipe": load the experiment's pipeline into the Passes panel.
    void recipeActivated(const opstudio::passes::Pipeline& pipeline);
    void exportStarted(const QString& path);
    void exported(const QString& path);
    void exportFailed(const QString& message);

private:
    void showReportOf(int id);
    void updateActions();
    void updatePareto();
    QList<int> selectedIds() const;
    void reportError(const QString& title, const QString& message);

    ExperimentStore* m_store;
    ExperimentModel* m_model;
    QSortFilterProxyModel* m_proxy;
    PassReportModel* m_reports;
    QTableView* m_table;
    QTreeView* m_reportView;
    QLabel* m_reportTitle;
    QLabel* m_details;
    QToolButton* m_compare;
    QToolButton* m_export;
    QToolButton* m_recipe;
    QToolButton* m_use;
    QToolButton* m_remove;
    QLabel* m_empty;
    QTabWidget* m_tabs;
    ParetoChart* m_pareto;
    ModelSaveJob* m_saveJob;
};

} // namespace opstudio::ui
