#pragma once
// Loads a .onnx file and lays its graph out on a worker thread. Loading cannot be interrupted inside
// the parser, so cancel() and a new start() abandon the running load instead of waiting for it: its
// result is dropped when it arrives, and the window never blocks on it.
#include "graph/graph_drawing.h"

#include <QFuture>
#include <QObject>
#include <QString>
#include <QThreadPool>

#include <functional>
#include <memory>

namespace opstudio::ui {

struct LoadedModel {
    QString path;
    std::shared_ptr<ir::Model> model;
    std::shared_ptr<GraphDrawing> drawing;
    QString error; // non-empty on failure
    QStringList namedDims; // unnamed dynamic input dims given a name (nameAnonymousInputDims)
    double loadMs = 0;
    double layoutMs = 0;
};

class ModelLoadJob : public QObject {
    Q_OBJECT
public:
    explicit ModelLoadJob(QObject* parent = nullptr);
    ~ModelLoadJob() override;
    /// Starts loading `path`; returns at once. A load still running is abandoned (never waited for).
    void start(const QString& path, const BoxMetrics& metrics);
    /// Abandons the running load: cancelled() now, and its result is dropped.
    void cancel();
    bool isRunning() const { return m_running; }
    /// Path of the load in progress (empty when idle).
    QString currentPath() const { return m_running ? m_path : QString(); }
    /// Loads still running on workers, abandoned ones included.
    int workersRunning() const;
    /// Blocks until every worker is done (used on shutdown).
    void wait();
    /// Test hook, called on the worker thread before a file is read.
    void setBeforeLoadForTesting(std::function<void(const QString& path)> hook) { m_beforeLoad = std::move(hook); }

Q_SIGNALS:
    void stageChanged(const QString& stage);
    void finished(std::shared_ptr<opstudio::ui::LoadedModel> result);
    void failed(const QString& path, const QString& message);
    void cancelled();

private:
    // Loads run on their own pool: abandoned parsers still running must not take the global pool's
    // threads from profiling, saving and optimizing (two cores: two threads).
    QThreadPool m_pool;
    QList<QFuture<void>> m_workers;
    std::function<void(const QString&)> m_beforeLoad;
    quint64 m_generation = 0; // the load whose result is wanted
    QString m_path;
    bool m_running = false;
};

} // namespace opstudio::ui
