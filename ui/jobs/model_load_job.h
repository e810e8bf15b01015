#pragma once
// Loads a .onnx file and lays its graph out on a worker thread. Loading cannot be interrupted
// inside the parser, so cancel() abandons the job: its result is dropped when it arrives.
#include "graph/graph_drawing.h"

#include <QFutureWatcher>
#include <QObject>
#include <QString>

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
    void start(const QString& path, const BoxMetrics& metrics);
    void cancel();
    bool isRunning() const { return m_running; }
    /// Blocks until the worker is done (used on shutdown).
    void wait();

Q_SIGNALS:
    void stageChanged(const QString& stage);
    void finished(std::shared_ptr<opstudio::ui::LoadedModel> result);
    void failed(const QString& path, const QString& message);
    void cancelled();

private:
    QFutureWatcher<std::shared_ptr<LoadedModel>> m_watcher;
    bool m_running = false;
    bool m_cancelled = false;
};

} // namespace opstudio::ui
