#pragma once
// Profiles a model on a worker thread (session build, warm-up, timed runs). Progress comes from
// the profiler's clock calls; cancel() makes the next clock call raise, which ends the run cleanly.
#include "opstudio/ir/graph.h"
#include "opstudio/profile/profiler.h"

#include <QFutureWatcher>
#include <QObject>
#include <QTimer>

#include <atomic>
#include <map>
#include <memory>

namespace opstudio::ui {

struct ProfileSettings {
    int threads = 1;
    int runs = 20;
    int warmup = 3;
    std::map<std::string, int64_t> dims; // symbolic dims
    bool roofline = true;
};

struct ProfileOutcome {
    std::shared_ptr<profile::Profile> profile;
    QString error;
    bool cancelled = false;
};

class ProfileJob : public QObject {
    Q_OBJECT
public:
    explicit ProfileJob(QObject* parent = nullptr);
    ~ProfileJob() override;
    void start(std::shared_ptr<const ir::Model> model, const ProfileSettings& settings);
    void cancel();
    bool isRunning() const { return m_running; }
    void wait();

Q_SIGNALS:
    void progress(int percent);
    void finished(std::shared_ptr<opstudio::profile::Profile> profile);
    void failed(const QString& message);
    void cancelled();

private:
    struct State {
        std::atomic<bool> cancel{false};
        std::atomic<int64_t> clockCalls{0};
        int64_t expectedCalls = 1;
    };
    QFutureWatcher<ProfileOutcome> m_watcher;
    std::shared_ptr<State> m_state;
    QTimer m_poll;
    bool m_running = false;
};

} // namespace opstudio::ui
