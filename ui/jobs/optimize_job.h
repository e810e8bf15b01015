#pragma once
// Runs one experiment on a worker thread: clone the model, run the pipeline (progress per pass
// through a PassInstrument), profile the optimized model with the baseline's settings, and compare
// it with the baseline (accuracy, latency, first divergence). cancel() stops between passes, inside
// passes that poll the flag, and inside the profile (the profiler's clock raises).
#include "experiments.h"
#include "jobs/profile_job.h"

#include <QFutureWatcher>
#include <QObject>
#include <QTimer>

#include <atomic>
#include <memory>
#include <mutex>

namespace opstudio::ui {

struct OptimizeOutcome {
    std::shared_ptr<Experiment> experiment; // id unset; the store assigns it
    QString error;
    bool cancelled = false;
};

class OptimizeJob : public QObject {
    Q_OBJECT
public:
    struct Options {
        ProfileSettings profile;
        /// Timed runs of each model in the comparison (the median is reported).
        int compareRuns = 10;
        bool findDivergence = true;
    };

    explicit OptimizeJob(QObject* parent = nullptr);
    ~OptimizeJob() override;
    /// Starts unless a run is in progress (returns false then).
    /// `baselineProfile` may be null: the baseline is then profiled too (Experiment::baselineProfile).
    bool start(std::shared_ptr<const ir::Model> baseline,
               std::shared_ptr<const profile::Profile> baselineProfile, const passes::Pipeline& pipeline,
               const Options& options);
    void cancel();
    bool isRunning() const { return m_running; }
    void wait();

Q_SIGNALS:
    void progress(int percent);
    /// "Running fuse-conv-batchnorm (3/12)", "Profiling optimized model", "Comparing with baseline".
    void stageChanged(const QString& stage);
    void finished(std::shared_ptr<opstudio::ui::Experiment> experiment);
    void failed(const QString& message);
    void cancelled();

private:
    struct State {
        std::atomic<bool> cancel{false};
        std::atomic<int> passesDone{0};
        int passCount = 1;
        std::atomic<int> phase{0}; // 0 passes, 1 profile, 2 compare
        std::atomic<int64_t> clockCalls{0};
        int64_t expectedClockCalls = 1;
        std::mutex mutex;
        QString stage;
    };
    QFutureWatcher<OptimizeOutcome> m_watcher;
    std::shared_ptr<State> m_state;
    QTimer m_poll;
    QString m_lastStage;
    bool m_running = false;
};

} // namespace opstudio::ui
