#include "jobs/model_save_job.h"

#include "opstudio/onnx/model_io.h"

#include <QElapsedTimer>
#include <QtConcurrent/QtConcurrentRun>

namespace opstudio::ui {

ModelSaveJob::ModelSaveJob(QObject* parent) : QObject(parent) {
    connect(&m_watcher, &QFutureWatcher<SaveOutcome>::finished, this, [this] {
        m_running = false;
        const SaveOutcome out = m_watcher.result();
        if (!out.error.isEmpty()) Q_EMIT failed(out.path, out.error);
        else Q_EMIT finished(out.path, out.notes, out.saveMs);
    });
}

ModelSaveJob::~ModelSaveJob() { wait(); }

void ModelSaveJob::wait() { m_watcher.waitForFinished(); }

bool ModelSaveJob::start(std::shared_ptr<const ir::Model> model, const QString& path) {
    if (m_running || !model) return false;
    m_running = true;
    auto hook = m_beforeSave;
    m_watcher.setFuture(QtConcurrent::run([model, path, hook]() {
        SaveOutcome out;
        out.path = path;
        QElapsedTimer timer;
        timer.start();
        try {
            if (hook) hook(path);
            std::vector<std::string> notes;
            onnxio::SaveOptions options;
            options.notes = &notes;
            const Status st = onnxio::saveModel(*model, path.toStdString(), options);
            if (!st.ok()) out.error = QString::fromStdString(st.error().describe());
            for (const auto& n : notes) out.notes << QString::fromStdString(n);
        } catch (const Error& e) {
            out.error = QString::fromStdString(e.describe());
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        }
        out.saveMs = timer.nsecsElapsed() / 1e6;
        return out;
    }));
    return true;
}

} // namespace opstudio::ui
