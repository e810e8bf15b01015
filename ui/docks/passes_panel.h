#pragma once
// Passes dock: every registered pass grouped by category in a checkable tree (description as
// secondary text, an "exact"/"lossy" badge), a parameter form generated from each pass's schema,
// presets, recipe save/load, and Run/Cancel. A run clones the model, runs the pipeline off the UI
// thread, profiles and compares the result; experimentFinished hands over the experiment.
#include "jobs/optimize_job.h"

#include <QHash>
#include <QWidget>

#include <functional>

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QStackedWidget;
class QToolButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace opstudio::ui {

class PassesPanel : public QWidget {
    Q_OBJECT
public:
    /// Offers the passes of PassRegistry::global().
    explicit PassesPanel(QWidget* parent = nullptr);
    /// Offers the passes of `registry` (tests); it must outlive the panel.
    explicit PassesPanel(const passes::PassRegistry& registry, QWidget* parent = nullptr);
    ~PassesPanel() override;

    /// The model experiments start from (null disables Run) and its profile (null: each run profiles
    /// the baseline too, with the same settings, and hands it over in Experiment::baselineProfile).
    void setModel(std::shared_ptr<const ir::Model> model,
                  std::shared_ptr<const profile::Profile> profile = nullptr);
    /// The baseline was profiled (again).
    void setBaselineProfile(std::shared_ptr<const profile::Profile> profile) {
        m_profile = std::move(profile);
    }
    std::shared_ptr<const ir::Model> model() const { return m_model; }
    /// Settings used to profile optimized models (use the baseline's, so the numbers compare).
    void setProfileSettings(const ProfileSettings& settings);
    void setCompareRuns(int runs) { m_options.compareRuns = runs; }

    /// The pipeline the checks and parameters describe: checked clean-up passes, then the checked
    /// fusion/quantization/pruning passes, then the clean-up passes once more (as the presets do).
    passes::Pipeline pipeline() const;
    /// Checks the pipeline's passes (everything else unchecked) and shows its parameter values.
    void setPipeline(const passes::Pipeline& pipeline);
    /// Preset keys: "safe-fusions", "all-fusions", "cleanup".
    void applyPreset(const QString& key);
    /// Key of the preset the checks match, or "" (custom).
    QString currentPreset() const;

    bool isPassChecked(const QString& pass) const;
    void setPassChecked(const QString& pass, bool checked);
    /// The editor generated for a parameter (QCheckBox, QSpinBox, QDoubleSpinBox, QComboBox, QLineEdit).
    QWidget* paramWidget(const QString& pass, const QString& param) const;

    bool saveRecipe(const QString& path, QString* error = nullptr) const;
    bool loadRecipe(const QString& path, QString* error = nullptr);

    QTreeWidget* tree() const { return m_tree; }
    QComboBox* presetCombo() const { return m_preset; }
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }
    QProgressBar* progressBar() const { return m_progress; }
    OptimizeJob* job() const { return m_job; }
    bool isRunning() const;

public Q_SLOTS:
    /// Starts an experiment with pipeline(); returns false when no model, nothing checked, or busy.
    bool run();
    void cancel();
    void saveRecipeDialog();
    void loadRecipeDialog();

Q_SIGNALS:
    void runStarted();
    void experimentFinished(std::shared_ptr<opstudio::ui::Experiment> experiment);
    void runFailed(const QString& message);
    void runCancelled();
    /// Stage text of the running job ("Running fuse-conv-batchnorm (3/12)").
    void stageChanged(const QString& stage);

private:
    void build();
    QWidget* buildParamPage(const passes::PassInfo& info);
    void setParamValue(const passes::ParamSpec& spec, QWidget* w, const passes::ParamValue& v);
    passes::Params paramsOf(const passes::PassInfo& info) const;
    void onChecksChanged();
    void showParamsOf(QTreeWidgetItem* item);
    void updateState();
    void setBusy(bool busy);
    void reportError(const QString& title, const QString& message);

    const passes::PassRegistry& m_registry;
    std::shared_ptr<const ir::Model> m_model;
    std::shared_ptr<const profile::Profile> m_profile;
    OptimizeJob::Options m_options;
    OptimizeJob* m_job;
    QHash<QString, QTreeWidgetItem*> m_items;                // pass name -> item
    QHash<QString, QHash<QString, QWidget*>> m_paramWidgets; // pass -> param -> editor
    QHash<QString, int> m_pages;                             // pass -> page in m_params
    QString m_runName;
    bool m_syncing = false;
    bool m_discard = false; // the running job's model was replaced

    QComboBox* m_preset;
    QToolButton* m_load;
    QToolButton* m_save;
    QTreeWidget* m_tree;
    QLabel* m_paramTitle;
    QStackedWidget* m_params;
    QLabel* m_summary;
    QLabel* m_stage;
    QProgressBar* m_progress;
    QPushButton* m_run = nullptr;
    QPushButton* m_cancel;
};

} // namespace opstudio::ui
