#include "jobs/model_load_job.h"

#include "input_dims.h"
#include "opstudio/onnx/model_io.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace opstudio::ui {

ModelLoadJob::ModelLoadJob(QObject* parent) : QObject(parent) {
    // One current load plus a few abandoned ones; a further start queues until one of them ends.
    m_pool.setMaxThreadCount(4);
}

ModelLoadJob::~ModelLoadJob() { wait(); }

void ModelLoadJob::wait() {
    for (QFuture<void>& f : m_workers) f.waitForFinished();
    m_workers.clear();
}

int ModelLoadJob::workersRunning() const {
    return static_cast<int>(std::count_if(m_workers.begin(), m_workers.end(), [](const QFuture<void>& f) { return !f.isFinished(); }));
}

void ModelLoadJob::start(const QString& path, const BoxMetrics& metrics) {
    // Forget finished workers; an abandoned one still running is left to finish on its own.
    m_workers.erase(std::remove_if(m_workers.begin(), m_workers.end(), [](const QFuture<void>& f) { return f.isFinished(); }),
                    m_workers.end());
    const quint64 generation = ++m_generation;
    m_path = path;
    m_running = true;
    Q_EMIT stageChanged(tr("Loading %1…").arg(path.section('/', -1)));
    // The worker reports back through queued calls on this object; the destructor waits for every
    // worker, so `self` outlives them. A result whose generation is no longer wanted is dropped.
    QPointer<ModelLoadJob> self(this);
    auto hook = m_beforeLoad;
    auto deliver = [self, generation](std::shared_ptr<LoadedModel> out) {
        QMetaObject::invokeMethod(self.data(), [self, generation, out] {
            if (!self || generation != self->m_generation || !self->m_running) return;
            self->m_running = false;
            if (!out->error.isEmpty()) Q_EMIT self->failed(out->path, out->error);
            else Q_EMIT self->finished(out);
        }, Qt::QueuedConnection);
    };
    m_workers.push_back(QtConcurrent::run(&m_pool, [path, metrics, self, generation, hook, deliver]() {
        auto out = std::make_shared<LoadedModel>();
        out->path = path;
        QElapsedTimer timer;
        timer.start();
        try {
            if (hook) hook(path);
            auto loaded = onnxio::loadModel(path.toStdString());
            if (!loaded.ok()) {
                out->error = QString::fromStdString(loaded.error().describe());
                deliver(out);
                return;
            }
            out->model = std::make_shared<ir::Model>(std::move(loaded).value());
            out->namedDims = nameAnonymousInputDims(*out->model->graph);
            out->loadMs = timer.nsecsElapsed() / 1e6;
            QMetaObject::invokeMethod(self.data(), [self, generation] {
                if (self && generation == self->m_generation && self->m_running)
                    Q_EMIT self->stageChanged(tr("Laying out the graph…"));
            }, Qt::QueuedConnection);
            timer.restart();
            out->drawing = buildGraphDrawing(*out->model->graph, metrics);
            out->layoutMs = timer.nsecsElapsed() / 1e6;
        } catch (const Error& e) {
            out->error = QString::fromStdString(e.describe());
        } catch (const std::exception& e) {
            out->error = QString::fromUtf8(e.what());
        }
        deliver(out);
    }));
}

void ModelLoadJob::cancel() {
    if (!m_running) return;
    m_running = false;
    ++m_generation;
    Q_EMIT cancelled();
}

} // namespace opstudio::ui
