#include "opstudio/profile/latency.h"

#include <algorithm>
#include <chrono>

namespace opstudio::profile {

Clock steadyClock() {
    return [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    };
}

Result<double> timeOneRun(rt::Session& session, const std::map<std::string, ir::Tensor>& feeds,
                          const Clock& clock, const std::string& label) {
    const int64_t t0 = clock();
    auto r = session.run(feeds);
    const int64_t t1 = clock();
    if (!r.ok()) {
        if (label.empty()) return r.error();
        return Error(label + ": " + r.error().describe());
    }
    return static_cast<double>(t1 - t0) / 1e6;
}

Result<std::vector<Summary>> measureLatency(const std::vector<LatencySubject>& subjects, int runs, int warmup,
                                            const Clock& clock) {
    for (const auto& s : subjects) {
        if (!s.session || !s.feeds) return Error("measureLatency: a subject has no session or feeds");
        s.session->setObserver(nullptr);
    }
    std::vector<std::vector<double>> samples(subjects.size());
    for (int i = 0; i < warmup + std::max(1, runs); ++i)
        for (size_t k = 0; k < subjects.size(); ++k) {
            auto ms = timeOneRun(*subjects[k].session, *subjects[k].feeds, clock, subjects[k].label);
            if (!ms) return ms.error();
            if (i >= warmup) samples[k].push_back(*ms);
        }
    std::vector<Summary> out;
    for (const auto& s : samples)
        out.push_back(summarize(s));
    return out;
}

} // namespace opstudio::profile
