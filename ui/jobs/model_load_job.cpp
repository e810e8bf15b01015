#include "jobs/model_load_job.h"

#include "input_dims.h"
#include "opstudio/onnx/model_io.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

namespace opstudio::ui {

ModelLoadJob::ModelLoadJob(QObject* parent) : QObject(parent) {
    connect(&m_watcher, &QFutureWatcher<std::shared_ptr<LoadedModel>>::finished, this, [this] {
        m_running = false;
        if (m_cancelled) return;
        auto result = m_watcher.result();
        if (!result->error.isEmpty()) Q_EMIT failed(result->path, result->error);
        else Q_EMIT finished(result);
    });
}

ModelLoadJob::~ModelLoadJob() { wait(); }

void ModelLoadJob::wait() { m_watcher.waitForFinished(); }

void ModelLoadJob::start(const QString& path, const BoxMetrics& metrics) {
    wait(); // a previous, abandoned load finishes first (it cannot be interrupted)
    m_cancelled = false;
    m_running = true;
    Q_EMIT stageChanged(tr("Loading %1…").arg(path.section('/', -1)));
    QPointer<ModelLoadJob> self(this);
    m_watcher.setFuture(QtConcurrent::run([path, metrics, self]() {
        auto out = std::make_shared<LoadedModel>();
        out->path = path;
        QElapsedTimer timer;
        timer.start();
        try {
            auto loaded = onnxio::loadModel(path.toStdString());
            if (!loaded.ok()) {
                out->error = QString::fromStdString(loaded.error().describe());
                return out;
            }
            out->model = std::make_shared<ir::Model>(std::move(loaded).value());
            out->namedDims = nameAnonymousInputDims(*out->model->graph);
            out->loadMs = timer.nsecsElapsed() / 1e6;
            QMetaObject::invokeMethod(self.data(), [self] {
                if (self) Q_EMIT self->stageChanged(tr("Laying out the graph…"));
            }, Qt::QueuedConnection);
            timer.restart();
            out->drawing = buildGraphDrawing(*out->model->graph, metrics);
            out->layoutMs = timer.nsecsElapsed() / 1e6;
        } catch (const Error& e) {
            out->error = QString::fromStdString(e.describe());
        } catch (const std::exception& e) {
            out->error = QString::fromUtf8(e.what());
        }
        return out;
    }));
}

void ModelLoadJob::cancel() {
    if (!m_running) return;
    m_cancelled = true;
    Q_EMIT cancelled();
}

} // namespace opstudio::ui
