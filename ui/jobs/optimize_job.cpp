#include "jobs/optimize_job.h"

#include "opstudio/profile/machine.h"

#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace opstudio::ui {

namespace {

/// Thrown from the instrument to leave Pipeline::run between passes.
struct Cancelled {};

class ProgressInstrument final : public passes::PassInstrument {
public:
    using Callback = std::function<void(const passes::PassInfo&, bool before)>;
    explicit ProgressInstrument(Callback cb) : m_cb(std::move(cb)) {}
    void beforePass(const passes::PassInfo& info, const ir::Model&) override { m_cb(info, true); }
    void afterPass(const passes::PassInfo& info, const ir::Model&, const passes::PassReport&) override {
        m_cb(info, false);
    }

private:
    Callback m_cb;
};

} // namespace

OptimizeJob::OptimizeJob(QObject* parent) : QObject(parent) {
    m_poll.setInterval(100);
    connect(&m_poll, &QTimer::timeout, this, [this] {
        if (!m_state) return;
        // Passes take the first 40 %, profiling the next 45 %, the comparison the rest.
        double p = 0;
        const int phase = m_state->phase.load();
        if (phase == 0)
            p = 40.0 * m_state->passesDone.load() / std::max(1, m_state->passCount);
        else if (phase == 1)
            p = 40 + 45.0 * std::min(1.0, double(m_state->clockCalls.load()) /
                                              double(m_state->expectedClockCalls));
        else
            p = 90;
        Q_EMIT progress(std::clamp(static_cast<int>(p), 0, 99));
        QString stage;
        {
            std::lock_guard lock(m_state->mutex);
            stage = m_state->stage;
        }
        if (stage != m_lastStage) {
            m_lastStage = stage;
            Q_EMIT stageChanged(stage);
        }
    });
    connect(&m_watcher, &QFutureWatcher<OptimizeOutcome>::finished, this, [this] {
        m_running = false;
        m_poll.stop();
        const OptimizeOutcome out = m_watcher.result();
        if (out.cancelled)
            Q_EMIT cancelled();
        else if (!out.error.isEmpty())
            Q_EMIT failed(out.error);
        else {
            Q_EMIT progress(100);
            Q_EMIT finished(out.experiment);
        }
    });
}

OptimizeJob::~OptimizeJob() {
    if (m_state) m_state->cancel = true;
    wait();
}

void OptimizeJob::wait() {
    m_watcher.waitForFinished();
}

void OptimizeJob::cancel() {
    if (m_state) m_state->cancel = true;
}

bool OptimizeJob::start(std::shared_ptr<const ir::Model> baseline,
                        std::shared_ptr<const profile::Profile> baselineProfile,
                        const passes::Pipeline& pipeline, const Options& options) {
    if (m_running || !baseline) return false;
    auto state = std::make_shared<State>();
    state->passCount = std::max<int>(1, static_cast<int>(pipeline.steps.size()));
    state->stage = tr("Preparing");
    m_state = state;
    m_running = true;
    m_lastStage.clear();
    m_poll.start();
    Q_EMIT progress(0);
    const bool profileBaseline = baselineProfile == nullptr;
    m_watcher.setFuture(QtConcurrent::run([baseline, profileBaseline, pipeline, options, state]() {
        OptimizeOutcome out;
        auto setStage = [&](const QString& s) {
            std::lock_guard lock(state->mutex);
            state->stage = s;
        };
        auto isCancelled = [state] { return state->cancel.load(std::memory_order_relaxed); };
        try {
            auto model = std::make_shared<ir::Model>(baseline->clone());
            auto exp = std::make_shared<Experiment>();
            exp->pipeline = pipeline;

            // 1. Passes.
            int index = 0;
            ProgressInstrument instrument([&](const passes::PassInfo& info, bool before) {
                if (before) {
                    if (isCancelled()) throw Cancelled{};
                    ++index;
                    setStage(tr("Running %1 (%2/%3)")
                                 .arg(QString::fromStdString(info.name))
                                 .arg(index)
                                 .arg(pipeline.steps.size()));
                } else {
                    state->passesDone.fetch_add(1);
                }
            });
            auto reports = pipeline.run(*model, &instrument, nullptr, isCancelled);
            if (isCancelled()) {
                out.cancelled = true;
                return out;
            }
            if (!reports.ok()) {
                out.error = QString::fromStdString(reports.error().describe());
                return out;
            }
            exp->reports = std::move(reports).value();
            // sourcePath stays: saveModel refuses to write the optimized model over the loaded file.
            exp->model = model;

            // 2. Profile the optimized model (and the baseline when it has no profile yet) with the
            //    baseline's settings, so the per-op and per-node views compare like with like.
            state->phase = 1;
            const int64_t nodes =
                std::max<int64_t>(1, static_cast<int64_t>(model->graph->totalNodeCount())) +
                (profileBaseline ? static_cast<int64_t>(baseline->graph->totalNodeCount()) : 0);
            state->expectedClockCalls =
                (2 * nodes + 4) * (std::max(1, options.profile.warmup) + options.profile.runs);
            auto profileOne = [&](std::shared_ptr<const ir::Model> m) -> std::shared_ptr<profile::Profile> {
                rt::SessionOptions so;
                so.threads = options.profile.threads;
                so.dims = options.profile.dims;
                auto session = rt::Session::create(m, so);
                if (!session.ok()) throw Error(session.error().describe());
                rt::Session& s = *session.value();
                const auto feeds = rt::randomFeeds(s, /*seed=*/1);
                profile::ProfileOptions po;
                po.runs = options.profile.runs;
                po.warmup = options.profile.warmup;
                po.recordTrace = false;
                if (options.profile.roofline) po.machine = profile::machineCeilings();
                auto base = profile::steadyClock();
                po.clock = [base, state]() -> int64_t {
                    if (state->cancel.load(std::memory_order_relaxed)) throw Error("cancelled");
                    state->clockCalls.fetch_add(1, std::memory_order_relaxed);
                    return base();
                };
                auto prof = profile::Profiler(s, po).run(feeds);
                if (!prof.ok()) throw Error(prof.error().describe());
                auto p = std::make_shared<profile::Profile>(std::move(prof).value());
                p->model = baseline->sourcePath;
                return p;
            };
            setStage(tr("Profiling optimized model"));
            try {
                exp->profile = profileOne(model);
            } catch (const Error& e) {
                if (isCancelled()) throw;
                out.error = tr("optimized model does not run: %1").arg(QString::fromStdString(e.describe()));
                return out;
            }
            if (profileBaseline) {
                setStage(tr("Profiling baseline"));
                exp->baselineProfile = profileOne(baseline);
            }
            if (isCancelled()) {
                out.cancelled = true;
                return out;
            }

            // 3. Compare with the baseline on the same seeded inputs.
            state->phase = 2;
            setStage(tr("Comparing with baseline"));
            compare::CompareOptions co;
            co.threads = options.profile.threads;
            co.runs = options.compareRuns;
            co.warmup = std::max(1, std::min(options.profile.warmup, 2));
            co.dims = options.profile.dims;
            co.findDivergence = options.findDivergence;
            auto cmp = compare::compareModels(baseline, model, {}, co);
            if (isCancelled()) {
                out.cancelled = true;
                return out;
            }
            if (!cmp.ok()) {
                out.error = tr("comparison failed: %1").arg(QString::fromStdString(cmp.error().describe()));
                return out;
            }
            exp->compare = std::move(cmp).value();
            out.experiment = exp;
        } catch (const Cancelled&) {
            out.cancelled = true;
        } catch (const Error& e) {
            if (isCancelled())
                out.cancelled = true;
            else
                out.error = QString::fromStdString(e.describe());
        } catch (const std::exception& e) {
            if (isCancelled())
                out.cancelled = true;
            else
                out.error = QString::fromUtf8(e.what());
        }
        return out;
    }));
    return true;
}

} // namespace opstudio::ui
