#include "mainwindow.h"

#include "dialogs/input_dims_dialog.h"
#include "dialogs/profile_settings_dialog.h"
#include "docks/experiments_panel.h"
#include "docks/latency_panel.h"
#include "docks/log_panel.h"
#include "docks/operators_panel.h"
#include "docks/passes_panel.h"
#include "docks/properties_panel.h"
#include "graph/graph_panel.h"
#include "graph/graph_scene.h"
#include "graph/graph_view.h"
#include "graph/node_item.h"
#include "node_format.h"
#include "op_metadata.h"
#include "opstudio/onnx/model_io.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabBar>
#include <QTableView>
#include <QThread>
#include <QToolButton>

namespace opstudio::ui {

namespace {
constexpr int kMaxRecent = 10;
QString shortPath(const QString& path) {
    const QFileInfo fi(path);
    return fi.dir().dirName() + "/" + fi.fileName();
}
} // namespace

MainWindow::MainWindow(QWidget* parent) : MainWindow(Options{}, parent) {}

MainWindow::MainWindow(const Options& options, QWidget* parent) : QMainWindow(parent), m_options(options) {
    initResources();
    setObjectName("OpStudioMainWindow");
    setWindowTitle("OpStudio");
    setAcceptDrops(true);
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks | QMainWindow::AllowNestedDocks);
    m_profileSettings.threads = std::max(1, QThread::idealThreadCount());

    m_loadJob = new ModelLoadJob(this);
    m_profileJob = new ProfileJob(this);
    m_saveJob = new ModelSaveJob(this);
    m_reportError = [this](const QString& title, const QString& message) { QMessageBox::critical(this, title, message); };
    m_askInputDims = [this](QVector<InputDim>& dims) {
        InputDimsDialog dialog(QFileInfo(m_path).fileName(), dims, this);
        if (dialog.exec() != QDialog::Accepted) return false;
        dims = dialog.dims();
        return true;
    };

    m_graph = new GraphPanel(this);
    setCentralWidget(m_graph);
    buildDocks();
    buildMenus();
    buildStatusBar();
    resize(1600, 1000);
    restoreSettings();

    connect(m_loadJob, &ModelLoadJob::stageChanged, this, [this](const QString& stage) { setBusy(stage, false); });
    connect(m_loadJob, &ModelLoadJob::finished, this, &MainWindow::onLoaded);
    connect(m_loadJob, &ModelLoadJob::failed, this, [this](const QString& path, const QString& message) {
        setIdle();
        reportError(tr("Cannot open model"), tr("%1\n\n%2").arg(path, message));
        Q_EMIT loadFailed(message);
    });
    connect(m_loadJob, &ModelLoadJob::cancelled, this, [this] {
        setIdle();
        m_log->append(LogPanel::Level::Warning, tr("Loading cancelled."));
    });
    connect(m_saveJob, &ModelSaveJob::finished, this, [this](const QString& path, const QStringList& notes, double ms) {
        setIdle();
        m_log->append(LogPanel::Level::Info, tr("Exported to %1 in %2 ms.").arg(path).arg(ms, 0, 'f', 0));
        for (const QString& n : notes) m_log->append(LogPanel::Level::Info, n);
        Q_EMIT modelExported(path);
    });
    connect(m_saveJob, &ModelSaveJob::failed, this, [this](const QString& path, const QString& message) {
        setIdle();
        reportError(tr("Export failed"), tr("%1\n\n%2").arg(path, message));
        Q_EMIT exportFailed(message);
    });
    connect(m_experiments, &ExperimentsPanel::exportStarted, this,
            [this](const QString& path) { setBusy(tr("Saving %1…").arg(QFileInfo(path).fileName()), false, /*cancellable=*/false); });
    connect(m_experiments, &ExperimentsPanel::exported, this, [this] { setIdle(); });
    connect(m_experiments, &ExperimentsPanel::exportFailed, this, [this] { setIdle(); });
    connect(m_profileJob, &ProfileJob::progress, m_progress, &QProgressBar::setValue);
    connect(m_profileJob, &ProfileJob::finished, this, &MainWindow::onProfiled);
    connect(m_profileJob, &ProfileJob::failed, this, [this](const QString& message) {
        setIdle();
        QString full = message;
        if (!m_inputDims.isEmpty())
            full += tr("\n\nSymbolic input dims: %1 (change them in Run ▸ Profile…, or start with --dim NAME=V).")
                        .arg(describeInputDims(m_inputDims));
        m_latencyLabel->setText(tr("profiling failed"));
        m_logDock->show();
        m_logDock->raise(); // the error stays readable after the message box is gone (and in screenshots)
        reportError(tr("Profiling failed"), full);
        Q_EMIT profileFailed(full);
    });
    connect(m_profileJob, &ProfileJob::cancelled, this, [this] {
        setIdle();
        m_log->append(LogPanel::Level::Warning, tr("Profiling cancelled."));
    });

    connect(m_graph->scene(), &GraphScene::nodeActivated, this,
            [this](ir::NodeId id) { selectNodeIn(m_graph->scene()->graph(), id); });
    connect(m_graph->scene(), &GraphScene::subgraphRequested, this, [this](ir::NodeId id) { openSubgraph(id); });
    connect(m_graph, &GraphPanel::breadcrumbActivated, this, &MainWindow::showBreadcrumb);
    connect(m_graph, &GraphPanel::findActivated, this, [this](ir::NodeId id) { selectNodeIn(m_graph->scene()->graph(), id); });
    connect(m_operators, &OperatorsPanel::nodeActivated, this, &MainWindow::selectNode);
    connect(m_latency->chart(), &LatencyChart::nodeActivated, this, &MainWindow::selectNode);
    connect(m_latency->chart(), &LatencyChart::opTypeActivated, this, [this](const QString& opType) {
        // The heaviest node of that type stands for it.
        if (!m_profile) return;
        const profile::NodeProfile* best = nullptr;
        for (const auto& n : m_profile->nodes)
            if (n.depth == 0 && QString::fromStdString(n.opType) == opType && (!best || n.time.median > best->time.median)) best = &n;
        if (best) selectNode(best->id);
    });
    connect(m_passes, &PassesPanel::runStarted, this, [this] {
        m_log->append(LogPanel::Level::Info, tr("Optimizing: %1").arg(pipelineSummary(m_passes->pipeline())));
    });
    connect(m_passes, &PassesPanel::experimentFinished, this, [this](std::shared_ptr<Experiment> experiment) {
        const int id = m_experiments->addExperiment(std::move(experiment));
        const auto e = m_experiments->store()->find(id);
        if (!e) return;
        int skipped = 0;
        for (const auto& r : e->reports) skipped += static_cast<int>(r.skipped.size());
        m_log->append(LogPanel::Level::Info, tr("%1: %2 → %3 nodes, %4 ms (%5× the baseline), max abs error %6, %7 candidate(s) skipped.")
                                                .arg(e->name)
                                                .arg(m_model ? m_model->graph->nodeCount() : 0)
                                                .arg(e->nodeCount())
                                                .arg(e->latencyMs(), 0, 'f', 3)
                                                .arg(e->speedup(), 0, 'f', 2)
                                                .arg(e->maxAbsError(), 0, 'g', 3)
                                                .arg(skipped));
        m_experimentsDock->show();
        m_experimentsDock->raise();
    });
    connect(m_passes, &PassesPanel::runFailed, this, [this](const QString& message) {
        m_log->append(LogPanel::Level::Error, tr("Optimization failed: %1").arg(message));
    });
    connect(m_passes, &PassesPanel::runCancelled, this,
            [this] { m_log->append(LogPanel::Level::Warning, tr("Optimization cancelled.")); });
    connect(m_experiments, &ExperimentsPanel::nodeSelected, this, &MainWindow::selectNode);
    connect(m_experiments, &ExperimentsPanel::recipeActivated, this, [this](const passes::Pipeline& pipeline) {
        m_passes->setPipeline(pipeline);
        m_passesDock->show();
        m_passesDock->raise();
    });
    connect(m_experiments, &ExperimentsPanel::exported, this, [this](const QString& path) {
        m_log->append(LogPanel::Level::Info, tr("Exported optimized model to %1.").arg(path));
    });
    updateActions();
    updateStatus();
    m_log->append(LogPanel::Level::Info, tr("OpStudio %1 ready: %2 operator types described.")
                                            .arg(OPSTUDIO_VERSION)
                                            .arg(OpMetadata::instance().opCount()));
}

MainWindow::~MainWindow() {
    m_profileJob->cancel();
    m_profileJob->wait();
    m_saveJob->wait();
    m_loadJob->wait();
}

void MainWindow::buildDocks() {
    auto makeDock = [this](const QString& title, const QString& name, QWidget* w) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        d->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetFloatable);
        return d;
    };
    m_operators = new OperatorsPanel(this);
    m_latency = new LatencyPanel(this);
    m_properties = new PropertiesPanel(this);
    m_log = new LogPanel(this);
    m_operatorsDock = makeDock(tr("Operators"), "OperatorsDock", m_operators);
    m_latencyDock = makeDock(tr("Latency"), "LatencyDock", m_latency);
    m_propertiesDock = makeDock(tr("Properties"), "PropertiesDock", m_properties);
    m_logDock = makeDock(tr("Log"), "LogDock", m_log);
    m_passes = new PassesPanel(this);
    m_experiments = new ExperimentsPanel(this);
    m_passesDock = makeDock(tr("Passes"), "PassesDock", m_passes);
    m_experimentsDock = makeDock(tr("Experiments"), "ExperimentsDock", m_experiments);
    // Properties takes the full height on the right (room for the weight histogram).
    setCorner(Qt::TopRightCorner, Qt::RightDockWidgetArea);
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    addDockWidget(Qt::RightDockWidgetArea, m_propertiesDock);
    addDockWidget(Qt::BottomDockWidgetArea, m_operatorsDock);
    splitDockWidget(m_operatorsDock, m_latencyDock, Qt::Horizontal);
    tabifyDockWidget(m_operatorsDock, m_logDock);
    tabifyDockWidget(m_operatorsDock, m_experimentsDock);
    // Passes share the right-hand column with Properties (tabbed): pick passes, run, read results below.
    tabifyDockWidget(m_propertiesDock, m_passesDock);
    m_propertiesDock->raise();
    m_operatorsDock->raise();
    resizeDocks({m_propertiesDock}, {420}, Qt::Horizontal);
    resizeDocks({m_operatorsDock, m_latencyDock}, {700, 480}, Qt::Horizontal);
    resizeDocks({m_operatorsDock}, {340}, Qt::Vertical);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(style()->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open…"), this, &MainWindow::openDialog);
    open->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    m_closeAction = file->addAction(tr("&Close"), this, &MainWindow::closeModel);
    m_closeAction->setShortcut(QKeySequence::Close);
    file->addSeparator();
    m_exportAction = file->addAction(style()->standardIcon(QStyle::SP_DialogSaveButton), tr("&Export…"), this, &MainWindow::exportDialog);
    m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S));
    file->addAction(tr("Export &Optimized Model…"), m_experiments, &ExperimentsPanel::exportDialog);
    file->addSeparator();
    file->addAction(tr("&Load Recipe…"), m_passes, &PassesPanel::loadRecipeDialog);
    file->addAction(tr("Save Re&cipe…"), m_passes, &PassesPanel::saveRecipeDialog);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    updateRecentMenu();

    m_viewMenu = menuBar()->addMenu(tr("&View"));
    QAction* fit = m_viewMenu->addAction(tr("&Fit to Window"), this, [this] { m_graph->view()->fitToWindow(); });
    fit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_0));
    QAction* zin = m_viewMenu->addAction(tr("Zoom &In"), this, [this] { m_graph->view()->zoomBy(1.25); });
    zin->setShortcuts({QKeySequence::ZoomIn, QKeySequence(Qt::CTRL | Qt::Key_Equal)});
    QAction* zout = m_viewMenu->addAction(tr("Zoom &Out"), this, [this] { m_graph->view()->zoomBy(0.8); });
    zout->setShortcut(QKeySequence::ZoomOut);
    QAction* find = m_viewMenu->addAction(tr("&Find…"), this, [this] { m_graph->showFindBar(); });
    find->setShortcut(QKeySequence::Find);
    m_heatmapAction = m_viewMenu->addAction(tr("Latency &Heatmap"));
    m_heatmapAction->setCheckable(true);
    m_heatmapAction->setChecked(true);
    m_heatmapAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_H));
    connect(m_heatmapAction, &QAction::toggled, this, &MainWindow::setHeatmapVisible);
    m_viewMenu->addSeparator();
    for (QDockWidget* d : {m_operatorsDock, m_latencyDock, m_propertiesDock, m_passesDock, m_experimentsDock, m_logDock})
        m_viewMenu->addAction(d->toggleViewAction());

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    m_profileAction = run->addAction(style()->standardIcon(QStyle::SP_MediaPlay), tr("&Profile…"), this, &MainWindow::profileDialog);
    m_profileAction->setShortcut(QKeySequence(Qt::Key_F5));
    m_cancelAction = run->addAction(style()->standardIcon(QStyle::SP_MediaStop), tr("&Cancel"), this, &MainWindow::cancelJob);
    m_cancelAction->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_F5));
    run->addSeparator();
    QAction* optimize = run->addAction(tr("&Optimize (Run Passes)"), this, [this] {
        m_passesDock->show();
        m_passesDock->raise();
        m_passes->run();
    });
    optimize->setShortcut(QKeySequence(Qt::Key_F6));
    QAction* compare = run->addAction(tr("Co&mpare Experiments…"), m_experiments, &ExperimentsPanel::compareSelected);
    compare->setShortcut(QKeySequence(Qt::Key_F7));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About OpStudio"), this, [this] {
        QMessageBox::about(this, tr("About OpStudio"),
                           tr("<b>OpStudio %1</b><br>Run, profile and optimize ONNX models on the CPU.").arg(OPSTUDIO_VERSION));
    });
}

void MainWindow::buildStatusBar() {
    m_modelLabel = new QLabel(this);
    m_latencyLabel = new QLabel(this);
    m_jobLabel = new QLabel(this);
    m_progress = new QProgressBar(this);
    m_progress->setMaximumWidth(180);
    m_progress->setMaximumHeight(16);
    m_progress->setTextVisible(false);
    m_cancelButton = new QToolButton(this);
    m_cancelButton->setText(tr("Cancel"));
    m_cancelButton->setAutoRaise(true);
    connect(m_cancelButton, &QToolButton::clicked, this, &MainWindow::cancelJob);
    statusBar()->addWidget(m_modelLabel, 1);
    statusBar()->addPermanentWidget(m_jobLabel);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancelButton);
    statusBar()->addPermanentWidget(m_latencyLabel);
    m_jobLabel->hide();
    m_progress->hide();
    m_cancelButton->hide();
}

void MainWindow::restoreSettings() {
    if (!m_options.persistSettings) return;
    QSettings s;
    if (s.contains("window/geometry")) restoreGeometry(s.value("window/geometry").toByteArray());
    if (s.contains("window/state")) restoreState(s.value("window/state").toByteArray());
    m_heatmapAction->setChecked(s.value("view/heatmap", true).toBool());
    m_profileSettings.threads = s.value("profile/threads", m_profileSettings.threads).toInt();
    m_profileSettings.runs = s.value("profile/runs", m_profileSettings.runs).toInt();
    m_profileSettings.warmup = s.value("profile/warmup", m_profileSettings.warmup).toInt();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (m_options.persistSettings) {
        QSettings s;
        s.setValue("window/geometry", saveGeometry());
        s.setValue("window/state", saveState());
        s.setValue("view/heatmap", m_heatmapAction->isChecked());
        s.setValue("profile/threads", m_profileSettings.threads);
        s.setValue("profile/runs", m_profileSettings.runs);
        s.setValue("profile/warmup", m_profileSettings.warmup);
    }
    m_profileJob->cancel();
    QMainWindow::closeEvent(event);
}

void MainWindow::updateRecentMenu() {
    m_recentMenu->clear();
    const QStringList recent = m_options.persistSettings ? QSettings().value("recentFiles").toStringList() : QStringList();
    for (const QString& path : recent) m_recentMenu->addAction(shortPath(path), this, [this, path] { openFile(path); })->setToolTip(path);
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::addRecent(const QString& path) {
    if (!m_options.persistSettings) return;
    QSettings s;
    QStringList recent = s.value("recentFiles").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent) recent.removeLast();
    s.setValue("recentFiles", recent);
    updateRecentMenu();
}

void MainWindow::openDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open ONNX model"), QFileInfo(m_path).absolutePath(),
                                                      tr("ONNX models (*.onnx);;All files (*)"));
    if (!path.isEmpty()) openFile(path);
}

void MainWindow::openFile(const QString& path) {
    if (m_profileJob->isRunning() || isSaving()) {
        m_log->append(LogPanel::Level::Warning, tr("Busy: wait for the current job or cancel it first."));
        return;
    }
    const QString abs = QFileInfo(path).absoluteFilePath();
    // A load in progress is abandoned, never waited for: the parser cannot be interrupted, so it
    // finishes on its worker and its result is dropped.
    if (m_loadJob->isRunning())
        m_log->append(LogPanel::Level::Warning, tr("Abandoned loading %1.").arg(QFileInfo(m_loadJob->currentPath()).fileName()));
    m_log->append(LogPanel::Level::Info, tr("Opening %1").arg(abs));
    setBusy(tr("Loading %1…").arg(QFileInfo(abs).fileName()), false);
    m_loadJob->start(abs, measureBoxMetrics());
}

void MainWindow::onLoaded(std::shared_ptr<LoadedModel> result) {
    setIdle();
    m_path = result->path;
    m_model = result->model;
    m_profile.reset();
    m_selectedGraph = nullptr;
    m_selectedNode = ir::kNoNode;
    m_crumbs.clear();
    m_crumbs.push_back({m_model->graph.get(), QFileInfo(m_path).completeBaseName(), result->drawing, -1});
    showCrumb(0);
    m_graph->view()->showStart();
    m_operators->setRows(buildOperatorRows(*m_model->graph, nullptr), false);
    m_latency->setProfile(nullptr);
    m_properties->clear();
    QMap<QString, qint64> remembered;
    if (m_options.persistSettings) {
        QSettings settings;
        remembered = rememberedInputDims(settings, m_path);
    }
    m_inputDims = proposeInputDims(*m_model, m_cliDims, remembered);
    m_inputDimsConfirmed = inputDimsSettled(m_inputDims);
    m_profileSettings.dims = toDimMap(m_inputDims);
    if (!result->namedDims.isEmpty())
        m_log->append(LogPanel::Level::Info, tr("Unnamed dynamic input dims named so they can be set: %1.").arg(result->namedDims.join(", ")));
    if (!m_inputDims.isEmpty()) {
        QStringList parts;
        for (const InputDim& d : m_inputDims)
            parts << tr("%1=%2 (%3%4)").arg(d.symbol).arg(d.value).arg(inputDimSourceName(d.source),
                                                                      d.reason.isEmpty() ? QString() : ": " + d.reason);
        m_log->append(LogPanel::Level::Info, tr("Symbolic input dims: %1.").arg(parts.join(", ")));
    }
    m_passes->setProfileSettings(m_profileSettings);
    m_passes->setModel(m_model);
    m_experiments->setBaseline(m_model, nullptr);
    setWindowFilePath(m_path);
    setWindowTitle(tr("%1 — OpStudio").arg(shortPath(m_path)));
    addRecent(m_path);
    m_log->append(LogPanel::Level::Info, tr("Loaded %1: %2 nodes in %3 ms, laid out in %4 ms (%5 crossings).")
                                            .arg(shortPath(m_path))
                                            .arg(m_model->graph->totalNodeCount())
                                            .arg(result->loadMs, 0, 'f', 0)
                                            .arg(result->layoutMs, 0, 'f', 0)
                                            .arg(result->drawing->layout.crossings));
    updateStatus();
    updateActions();
    Q_EMIT modelLoaded();
}

void MainWindow::closeModel() {
    if (isBusy()) cancelJob();
    m_model.reset();
    m_profile.reset();
    m_path.clear();
    m_crumbs.clear();
    m_selectedGraph = nullptr;
    m_selectedNode = ir::kNoNode;
    m_graph->scene()->setDrawing(nullptr);
    m_graph->setBreadcrumb({});
    m_operators->setRows({}, false);
    m_latency->setProfile(nullptr);
    m_properties->clear();
    m_passes->setModel(nullptr);
    m_experiments->setBaseline(nullptr, nullptr);
    setWindowFilePath(QString());
    setWindowTitle("OpStudio");
    updateStatus();
    updateActions();
}

void MainWindow::showCrumb(int depth) {
    if (depth < 0 || depth >= m_crumbs.size()) return;
    m_crumbs.resize(depth + 1);
    m_graph->scene()->setDrawing(m_crumbs.back().drawing);
    QStringList labels;
    for (const Crumb& c : m_crumbs) labels << c.label;
    m_graph->setBreadcrumb(labels);
    applyHeat();
    if (m_selectedGraph == m_crumbs.back().graph) m_graph->scene()->selectNode(m_selectedNode);
}

void MainWindow::showBreadcrumb(int depth) {
    showCrumb(depth);
    m_graph->view()->showStart();
}

bool MainWindow::openSubgraph(ir::NodeId id, int body) {
    if (m_crumbs.isEmpty()) return false;
    const ir::Graph* g = m_crumbs.back().graph;
    const ir::Node* n = g->node(id);
    if (!n) return false;
    const auto subs = n->subgraphs();
    if (body < 0 || body >= static_cast<int>(subs.size())) return false;
    // Attribute name of the body (then_branch, else_branch, body).
    QString attrName;
    int k = 0;
    for (const auto& a : n->attributes) {
        if (a.type == ir::AttrType::Graph && a.g) {
            if (k++ == body) attrName = QString::fromStdString(a.name);
        }
    }
    int parent = -1;
    if (m_profile) {
        const int wantParent = m_crumbs.back().profileParent;
        for (size_t i = 0; i < m_profile->nodes.size(); ++i) {
            const auto& p = m_profile->nodes[i];
            if (p.id == id && p.parent == wantParent && p.opType == n->opType) {
                parent = static_cast<int>(i);
                break;
            }
        }
    }
    try {
        auto drawing = buildGraphDrawing(*subs[body], measureBoxMetrics());
        m_crumbs.push_back({subs[body], nodeDisplayName(*n) + (attrName.isEmpty() ? QString() : "." + attrName), drawing, parent});
    } catch (const std::exception& e) {
        reportError(tr("Cannot open body"), QString::fromUtf8(e.what()));
        return false;
    }
    showCrumb(m_crumbs.size() - 1);
    m_graph->view()->showStart();
    m_log->append(LogPanel::Level::Info, tr("Opened %1 (%2 nodes).").arg(m_crumbs.back().label).arg(subs[body]->nodeCount()));
    return true;
}

const profile::NodeProfile* MainWindow::profileOf(const ir::Graph* graph, ir::NodeId id) const {
    if (!m_profile || !graph) return nullptr;
    int parent = -1;
    if (m_model && graph != m_model->graph.get()) {
        bool found = false;
        for (const Crumb& c : m_crumbs)
            if (c.graph == graph) {
                parent = c.profileParent;
                found = true;
            }
        if (!found || parent < 0) return nullptr;
    }
    for (const auto& n : m_profile->nodes)
        if (n.id == id && n.parent == parent) return &n;
    return nullptr;
}

void MainWindow::applyHeat() {
    QHash<ir::NodeId, double> share;
    if (m_profile && !m_crumbs.isEmpty()) {
        const int parent = m_crumbs.back().profileParent;
        if (m_crumbs.size() == 1 || parent >= 0)
            for (const auto& n : m_profile->nodes)
                if (n.parent == parent) share.insert(n.id, n.share);
    }
    m_graph->scene()->setHeat(share);
    m_graph->scene()->setHeatmapVisible(m_heatmapAction->isChecked());
    m_graph->view()->viewport()->update();
}

void MainWindow::setHeatmapVisible(bool visible) {
    if (m_heatmapAction->isChecked() != visible) m_heatmapAction->setChecked(visible);
    m_graph->scene()->setHeatmapVisible(visible);
    m_graph->view()->viewport()->update();
}

void MainWindow::selectNode(ir::NodeId id) { selectNodeIn(m_model ? m_model->graph.get() : nullptr, id); }

void MainWindow::selectNodeIn(const ir::Graph* graph, ir::NodeId id) {
    if (m_syncing || !m_model) return;
    m_syncing = true;
    if (graph == m_model->graph.get() && m_crumbs.size() > 1 && id != ir::kNoNode) showCrumb(0); // back to the main graph
    m_selectedGraph = graph;
    m_selectedNode = id;
    GraphScene* scene = m_graph->scene();
    if (scene->graph() == graph) {
        scene->selectNode(id);
        if (NodeItem* item = scene->itemForNode(id)) {
            const QRectF visible = m_graph->view()->mapToScene(m_graph->view()->viewport()->rect()).boundingRect();
            if (!visible.contains(item->boundingRect())) m_graph->view()->focusOn(item->boundingRect());
        }
    }
    const bool main = graph == m_model->graph.get();
    m_operators->selectNode(main ? id : ir::kNoNode);
    const ir::Node* n = graph ? graph->node(id) : nullptr;
    m_latency->chart()->highlight(main ? id : ir::kNoNode, n ? QString::fromStdString(n->opType) : QString());
    m_properties->showNode(graph, id, profileOf(graph, id));
    m_syncing = false;
    Q_EMIT selectionChanged(id);
}

void MainWindow::profileDialog() {
    if (!m_model) return;
    ProfileSettingsDialog dialog(m_profileSettings, ProfileSettingsDialog::symbolicDims(*m_model->graph), this);
    if (dialog.exec() != QDialog::Accepted) return;
    const ProfileSettings chosen = dialog.settings();
    keepInputDims(chosen.dims); // chosen in the dialog: confirmed, not asked again
    startProfile(chosen);
}

void MainWindow::keepInputDims(const std::map<std::string, int64_t>& dims) {
    for (InputDim& d : m_inputDims) {
        auto it = dims.find(d.symbol.toStdString());
        if (it == dims.end()) continue;
        if (d.source != InputDim::Source::CommandLine) d.source = InputDim::Source::Remembered;
        d.value = it->second;
    }
    m_inputDimsConfirmed = true;
    m_profileSettings.dims = toDimMap(m_inputDims);
    if (m_options.persistSettings && !m_inputDims.isEmpty()) {
        QSettings settings;
        rememberInputDims(settings, m_path, m_profileSettings.dims);
    }
    m_passes->setProfileSettings(m_profileSettings);
}

bool MainWindow::confirmInputDims(ProfileSettings& settings) {
    if (m_inputDims.isEmpty()) return true;
    QVector<InputDim> dims = m_inputDims;
    for (InputDim& d : dims) // a caller's explicit value wins over the proposal
        if (auto it = settings.dims.find(d.symbol.toStdString()); it != settings.dims.end()) d.value = it->second;
    if (!m_inputDimsConfirmed) {
        if (!m_askInputDims || !m_askInputDims(dims)) {
            m_log->append(LogPanel::Level::Warning, tr("Profiling cancelled: no values for the symbolic input dims."));
            return false;
        }
        m_inputDims = dims;
        keepInputDims(toDimMap(dims));
    }
    for (const InputDim& d : dims) settings.dims[d.symbol.toStdString()] = d.value;
    return true;
}

void MainWindow::startProfile(const ProfileSettings& requested) {
    if (!m_model || isBusy()) return;
    ProfileSettings settings = requested;
    if (!confirmInputDims(settings)) return;
    m_profileSettings = settings;
    m_log->append(LogPanel::Level::Info, tr("Profiling%4: %1 thread(s), %2 warm-up + %3 timed runs…")
                                            .arg(settings.threads)
                                            .arg(settings.warmup)
                                            .arg(settings.runs)
                                            .arg(m_inputDims.isEmpty() ? QString() : tr(" (input dims %1)").arg(describeInputDims(m_inputDims))));
    setBusy(tr("Profiling…"), true);
    m_profileJob->start(m_model, settings);
}

void MainWindow::onProfiled(std::shared_ptr<profile::Profile> profile) {
    setIdle();
    m_profile = profile;
    m_passes->setProfileSettings(m_profileSettings);
    m_passes->setBaselineProfile(m_profile);
    m_experiments->setBaselineProfile(m_profile);
    applyHeat();
    m_operators->setRows(buildOperatorRows(*m_model->graph, m_profile.get()), true);
    m_latency->setProfile(m_profile);
    if (m_selectedNode != ir::kNoNode) {
        const ir::NodeId keep = m_selectedNode;
        m_selectedNode = ir::kNoNode;
        selectNodeIn(m_selectedGraph, keep);
    }
    QString top;
    if (!profile->opTypes.empty())
        top = tr(" Heaviest op type: %1 (%2 %).")
                  .arg(QString::fromStdString(profile->opTypes.front().opType))
                  .arg(profile->opTypes.front().share * 100, 0, 'f', 1);
    m_log->append(LogPanel::Level::Info, tr("Profiled: median %1 ms, p90 %2 ms over %3 runs.%4")
                                            .arg(profile->total.median, 0, 'f', 3)
                                            .arg(profile->total.p90, 0, 'f', 3)
                                            .arg(profile->runs)
                                            .arg(top));
    updateStatus();
    updateActions();
    Q_EMIT profileFinished();
}

void MainWindow::exportDialog() {
    if (!m_model) return;
    const QFileInfo fi(m_path);
    const QString suggestion = fi.absolutePath() + "/" + fi.completeBaseName() + ".exported.onnx";
    const QString path = QFileDialog::getSaveFileName(this, tr("Export model"), suggestion, tr("ONNX models (*.onnx)"));
    if (!path.isEmpty()) exportModel(path);
}

bool MainWindow::exportModel(const QString& path) {
    if (!m_model) return false;
    const QFileInfo target(path), source(m_path);
    if (target.absoluteFilePath() == source.absoluteFilePath() ||
        (target.exists() && target.canonicalFilePath() == source.canonicalFilePath())) {
        reportError(tr("Export failed"), tr("Refusing to overwrite the opened model %1. Choose a new file.").arg(m_path));
        return false;
    }
    if (isBusy()) {
        m_log->append(LogPanel::Level::Warning, tr("Busy: wait for the current job before exporting."));
        return false;
    }
    if (!m_saveJob->start(m_model, target.absoluteFilePath())) return false;
    setBusy(tr("Saving %1…").arg(target.fileName()), false, /*cancellable=*/false);
    return true;
}

void MainWindow::cancelJob() {
    if (m_loadJob->isRunning()) m_loadJob->cancel();
    if (m_profileJob->isRunning()) {
        m_jobLabel->setText(tr("Cancelling…"));
        m_profileJob->cancel();
    }
}

bool MainWindow::isSaving() const { return m_saveJob->isRunning() || m_experiments->isExporting(); }

bool MainWindow::isBusy() const { return m_loadJob->isRunning() || m_profileJob->isRunning() || isSaving(); }

QString MainWindow::statusBarJobText() const { return m_busyWhat; }

void MainWindow::setBusy(const QString& what, bool determinate, bool cancellable) {
    m_busyWhat = what;
    m_jobLabel->setText(what);
    m_jobLabel->show();
    m_progress->setRange(0, determinate ? 100 : 0);
    m_progress->setValue(0);
    m_progress->show();
    m_cancelButton->setVisible(cancellable); // a write cannot be interrupted
    updateActions();
}

void MainWindow::setIdle() {
    m_busyWhat.clear();
    m_jobLabel->hide();
    m_progress->hide();
    m_cancelButton->hide();
    updateActions();
}

void MainWindow::updateActions() {
    const bool busy = isBusy();
    m_closeAction->setEnabled(m_model != nullptr);
    m_exportAction->setEnabled(m_model != nullptr && !busy);
    m_profileAction->setEnabled(m_model != nullptr && !busy);
    m_cancelAction->setEnabled(busy && !isSaving());
}

QString MainWindow::statusText() const { return m_modelLabel->text() + " | " + m_latencyLabel->text(); }

void MainWindow::updateStatus() {
    if (!m_model) {
        m_modelLabel->setText(tr("No model — File ▸ Open (Ctrl+O) or drop a .onnx file here"));
        m_latencyLabel->clear();
        return;
    }
    const QString name = QFileInfo(m_path).completeBaseName() == "model" ? QFileInfo(m_path).dir().dirName()
                                                                         : QFileInfo(m_path).completeBaseName();
    m_modelLabel->setText(tr("%1  ·  opset %2  ·  %3 nodes  ·  %4 parameters  ·  %5 weights")
                              .arg(name)
                              .arg(m_model->opsetFor(""))
                              .arg(m_model->graph->totalNodeCount())
                              .arg(humanCount(static_cast<double>(m_model->parameterCount())))
                              .arg(QString::number(m_model->weightBytes() / (1024.0 * 1024.0), 'f', 2) + " MB"));
    m_latencyLabel->setText(m_profile ? tr("last run: %1 ms median (%n thread(s))", nullptr, m_profile->threads).arg(m_profile->total.median, 0, 'f', 3)
                                      : tr("not profiled"));
}

void MainWindow::reportError(const QString& title, const QString& message) {
    m_log->append(LogPanel::Level::Error, title + ": " + message);
    if (m_reportError) m_reportError(title, message);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const QMimeData* mime = event->mimeData();
    if (mime->hasUrls() && !mime->urls().isEmpty() && mime->urls().first().isLocalFile() &&
        mime->urls().first().toLocalFile().endsWith(".onnx", Qt::CaseInsensitive))
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.isEmpty()) return;
    event->acceptProposedAction();
    openFile(urls.first().toLocalFile());
}

bool MainWindow::saveScreenshot(const QString& path) {
    QApplication::processEvents();
    const QPixmap pixmap = grab();
    return pixmap.save(path);
}

} // namespace opstudio::ui
