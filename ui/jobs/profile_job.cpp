#include "jobs/profile_job.h"

#include "opstudio/profile/machine.h"

#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace opstudio::ui {

ProfileJob::ProfileJob(QObject* parent) : QObject(parent) {
    m_poll.setInterval(100);
    connect(&m_poll, &QTimer::timeout, this, [this] {
        if (!m_state) return;
        const double done = static_cast<double>(m_state->clockCalls.load()) / static_cast<double>(m_state->expectedCalls);
        Q_EMIT progress(std::clamp(static_cast<int>(done * 100), 0, 99));
    });
    connect(&m_watcher, &QFutureWatcher<ProfileOutcome>::finished, this, [this] {
        m_running = false;
        m_poll.stop();
        const ProfileOutcome out = m_watcher.result();
        if (out.cancelled) Q_EMIT cancelled();
        else if (!out.error.isEmpty()) Q_EMIT failed(out.error);
        else {
            Q_EMIT progress(100);
            Q_EMIT finished(out.profile);
        }
    });
}

ProfileJob::~ProfileJob() {
    if (m_state) m_state->cancel = true;
    wait();
}

void ProfileJob::wait() { m_watcher.waitForFinished(); }

void ProfileJob::start(std::shared_ptr<const ir::Model> model, const ProfileSettings& settings) {
    if (m_running) return;
    auto state = std::make_shared<State>();
    // The profiler reads the clock twice per node call and twice per timed run.
    const int64_t nodes = std::max<int64_t>(1, static_cast<int64_t>(model->graph->totalNodeCount()));
    state->expectedCalls = (2 * nodes + 2) * (std::max(1, settings.warmup) + settings.runs);
    m_state = state;
    m_running = true;
    m_poll.start();
    Q_EMIT progress(0);
    m_watcher.setFuture(QtConcurrent::run([model, settings, state]() {
        ProfileOutcome out;
        try {
            rt::SessionOptions so;
            so.threads = settings.threads;
            so.dims = settings.dims;
            auto session = rt::Session::create(model, so);
            if (!session.ok()) {
                out.error = QString::fromStdString(session.error().describe());
                return out;
            }
            rt::Session& s = *session.value();
            const auto feeds = rt::randomFeeds(s, /*seed=*/1);
            profile::ProfileOptions po;
            po.runs = settings.runs;
            po.warmup = settings.warmup;
            po.recordTrace = false;
            if (settings.roofline) po.machine = profile::machineCeilings();
            auto base = profile::steadyClock();
            po.clock = [base, state]() -> int64_t {
                if (state->cancel.load(std::memory_order_relaxed)) throw Error("cancelled");
                state->clockCalls.fetch_add(1, std::memory_order_relaxed);
                return base();
            };
            if (state->cancel) {
                out.cancelled = true;
                return out;
            }
            auto result = profile::Profiler(s, po).run(feeds);
            if (state->cancel) {
                out.cancelled = true;
                return out;
            }
            if (!result.ok()) {
                out.error = QString::fromStdString(result.error().describe());
                return out;
            }
            out.profile = std::make_shared<profile::Profile>(std::move(result).value());
            out.profile->model = model->sourcePath;
        } catch (const Error& e) {
            if (state->cancel) out.cancelled = true;
            else out.error = QString::fromStdString(e.describe());
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        }
        return out;
    }));
}

void ProfileJob::cancel() {
    if (m_state) m_state->cancel = true;
}

} // namespace opstudio::ui
