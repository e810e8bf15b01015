#pragma once
// Saves a model on a worker thread (validation, the ONNX checker where it knows the opsets, an atomic
// write). The write cannot be interrupted, so there is no cancel; the window shows it as busy meanwhile.
#include "opstudio/ir/graph.h"

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>

namespace opstudio::ui {

struct SaveOutcome {
    QString path;
    QString error;     // non-empty on failure
    QStringList notes; // what was not checked and why
    double saveMs = 0;
};

class ModelSaveJob : public QObject {
    Q_OBJECT
public:
    explicit ModelSaveJob(QObject* parent = nullptr);
    ~ModelSaveJob() override;
    /// Starts writing `model` to `path`; false (and nothing started) when a save is running.
    bool start(std::shared_ptr<const ir::Model> model, const QString& path);
    bool isRunning() const { return m_running; }
    void wait();
    /// Test hook, called on the worker thread before the save.
    void setBeforeSaveForTesting(std::function<void(const QString& path)> hook) { m_beforeSave = std::move(hook); }

Q_SIGNALS:
    void finished(const QString& path, const QStringList& notes, double ms);
    void failed(const QString& path, const QString& message);

private:
    QFutureWatcher<SaveOutcome> m_watcher;
    std::function<void(const QString&)> m_beforeSave;
    bool m_running = false;
};

} // namespace opstudio::ui
