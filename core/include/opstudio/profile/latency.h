#pragma once
// The one timing mechanism behind every latency OpStudio reports (profile, compare, report, the
// studio): wall time around Session::run with no observer attached, after warm-up runs, median over
// timed runs. Several sessions are timed interleaved (A, B, A, B ...) so that drift of the machine
// (frequency, other load) hits all of them alike.
#include "opstudio/profile/statistics.h"
#include "opstudio/runtime/session.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace opstudio::profile {

/// Monotonic time in nanoseconds. Tests inject a synthetic one.
using Clock = std::function<int64_t()>;
/// std::chrono::steady_clock in nanoseconds.
Clock steadyClock();

/// One session to time with its feeds; `label` names it in errors ("model A").
struct LatencySubject {
    rt::Session* session = nullptr;
    const std::map<std::string, ir::Tensor>* feeds = nullptr;
    std::string label;
};

/// One run of `session` in ms with whatever observer it has (the profiler times its observed runs
/// with the same call); fails with the run's error prefixed by `label`.
Result<double> timeOneRun(rt::Session& session, const std::map<std::string, ir::Tensor>& feeds,
                          const Clock& clock, const std::string& label = {});

/// Warm-up runs, then `runs` timed runs of every subject in turn, observers detached.
/// One Summary (ms) per subject, in order.
Result<std::vector<Summary>> measureLatency(const std::vector<LatencySubject>& subjects, int runs, int warmup,
                                            const Clock& clock = steadyClock());

} // namespace opstudio::profile
