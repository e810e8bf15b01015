#pragma once
// The studio window: Graph (central), Operators, Latency, Properties and Log docks, menus, status
// bar with background-job progress, and the one selection every view follows.
#include "input_dims.h"
#include "jobs/model_load_job.h"
#include "jobs/model_save_job.h"
#include "jobs/profile_job.h"

#include <QMainWindow>

#include <functional>
#include <memory>

class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QToolButton;

namespace opstudio::ui {

class GraphPanel;
class LatencyPanel;
class LogPanel;
class OperatorsPanel;
class PropertiesPanel;
class PassesPanel;
class ExperimentsPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    struct Options {
        /// Restore/save window state and recent files in QSettings (off for tests and screenshots).
        bool persistSettings = true;
    };
    /// Shows an error to the user; tests replace it to record instead of opening a modal dialog.
    using ErrorReporter = std::function<void(const QString& title, const QString& message)>;
    /// Asks for the values of symbolic input dims (edits `dims`); false cancels the profile. The default
    /// shows InputDimsDialog; tests and --screenshot replace it.
    using InputDimsAsker = std::function<bool(QVector<InputDim>& dims)>;

    explicit MainWindow(QWidget* parent = nullptr);
    explicit MainWindow(const Options& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Starts loading a model in the background (modelLoaded or loadFailed follow).
    void openFile(const QString& path);
    void closeModel();
    /// Starts profiling with these settings (profileFinished or profileFailed follow).
    void startProfile(const ProfileSettings& settings);
    /// Starts saving the loaded model to a new path (never over the input) on a worker; false when refused
    /// (same file, busy). modelExported or exportFailed follow.
    bool exportModel(const QString& path);
    void cancelJob();
    bool isBusy() const;

    /// Selects a node of the main graph everywhere (kNoNode clears).
    void selectNode(ir::NodeId id);
    /// Selects a node of the graph shown (main graph or an opened body).
    void selectNodeIn(const ir::Graph* graph, ir::NodeId id);
    ir::NodeId selectedNode() const { return m_selectedNode; }
    const ir::Graph* selectedGraph() const { return m_selectedGraph; }
    /// Opens an If/Loop/Scan body of a node of the shown graph (its `body`-th subgraph).
    bool openSubgraph(ir::NodeId id, int body = 0);
    /// Goes back to breadcrumb level `depth` (0: main graph).
    void showBreadcrumb(int depth);

    void setErrorReporter(ErrorReporter reporter) { m_reportError = std::move(reporter); }
    void setInputDimsAsker(InputDimsAsker asker) { m_askInputDims = std::move(asker); }
    /// Values from `--dim NAME=V`: used for every model opened afterwards, never asked for.
    void setCommandLineDims(std::map<std::string, int64_t> dims) { m_cliDims = std::move(dims); }
    /// The symbolic input dims of the opened model with their current values and sources.
    const QVector<InputDim>& inputDims() const { return m_inputDims; }
    void setHeatmapVisible(bool visible);
    /// Renders the window to an image file.
    bool saveScreenshot(const QString& path);

    std::shared_ptr<const ir::Model> model() const { return m_model; }
    std::shared_ptr<const profile::Profile> lastProfile() const { return m_profile; }
    const ProfileSettings& profileSettings() const { return m_profileSettings; }
    GraphPanel* graphPanel() const { return m_graph; }
    OperatorsPanel* operatorsPanel() const { return m_operators; }
    LatencyPanel* latencyPanel() const { return m_latency; }
    PropertiesPanel* propertiesPanel() const { return m_properties; }
    LogPanel* logPanel() const { return m_log; }
    PassesPanel* passesPanel() const { return m_passes; }
    ExperimentsPanel* experimentsPanel() const { return m_experiments; }
    QString statusText() const;
    /// The stage text of the running job in the status bar (empty when idle).
    QString statusBarJobText() const;
    ModelLoadJob* loadJob() const { return m_loadJob; }
    ModelSaveJob* saveJob() const { return m_saveJob; }

Q_SIGNALS:
    void modelLoaded();
    void loadFailed(const QString& message);
    void profileFinished();
    void profileFailed(const QString& message);
    void modelExported(const QString& path);
    void exportFailed(const QString& message);
    void selectionChanged(ir::NodeId id);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    struct Crumb {
        const ir::Graph* graph = nullptr;
        QString label;
        std::shared_ptr<GraphDrawing> drawing;
        int profileParent = -1; // index in Profile::nodes of the node whose body this is
    };

    void buildDocks();
    void buildMenus();
    void buildStatusBar();
    void restoreSettings();
    void updateRecentMenu();
    void addRecent(const QString& path);
    void onLoaded(std::shared_ptr<LoadedModel> result);
    void onProfiled(std::shared_ptr<profile::Profile> profile);
    void showCrumb(int depth);
    void applyHeat();
    void updateStatus();
    void updateActions();
    void setBusy(const QString& what, bool determinate, bool cancellable = true);
    bool isSaving() const;
    void setIdle();
    void reportError(const QString& title, const QString& message);
    const profile::NodeProfile* profileOf(const ir::Graph* graph, ir::NodeId id) const;
    void openDialog();
    void exportDialog();
    void profileDialog();
    /// Before a profile: asks for unconfirmed symbolic dims and puts them into `settings`. False: cancelled.
    bool confirmInputDims(ProfileSettings& settings);
    void keepInputDims(const std::map<std::string, int64_t>& dims);

    Options m_options;
    ErrorReporter m_reportError;
    InputDimsAsker m_askInputDims;
    std::map<std::string, int64_t> m_cliDims;
    QVector<InputDim> m_inputDims;
    bool m_inputDimsConfirmed = true;
    ModelLoadJob* m_loadJob;
    ProfileJob* m_profileJob;
    ModelSaveJob* m_saveJob;
    ProfileSettings m_profileSettings;

    QString m_path;
    std::shared_ptr<ir::Model> m_model;
    std::shared_ptr<const profile::Profile> m_profile;
    QVector<Crumb> m_crumbs;
    const ir::Graph* m_selectedGraph = nullptr;
    ir::NodeId m_selectedNode = ir::kNoNode;
    bool m_syncing = false;
    QString m_busyWhat;

    GraphPanel* m_graph;
    OperatorsPanel* m_operators;
    LatencyPanel* m_latency;
    PropertiesPanel* m_properties;
    LogPanel* m_log;
    PassesPanel* m_passes;
    ExperimentsPanel* m_experiments;
    QDockWidget* m_operatorsDock;
    QDockWidget* m_latencyDock;
    QDockWidget* m_propertiesDock;
    QDockWidget* m_logDock;
    QDockWidget* m_passesDock;
    QDockWidget* m_experimentsDock;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_viewMenu = nullptr;
    QAction* m_closeAction = nullptr;
    QAction* m_exportAction = nullptr;
    QAction* m_profileAction = nullptr;
    QAction* m_cancelAction = nullptr;
    QAction* m_heatmapAction = nullptr;
    QLabel* m_modelLabel;
    QLabel* m_latencyLabel;
    QLabel* m_jobLabel;
    QProgressBar* m_progress;
    QToolButton* m_cancelButton;
};

} // namespace opstudio::ui
