#include "opstudio/profile/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace opstudio::profile {

namespace {
// Sorted input: value at fractional rank p·(n−1), interpolated between its two neighbours.
double sortedPercentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const double pos = std::clamp(p, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}
} // namespace

double percentile(std::vector<double> samples, double p) {
    std::sort(samples.begin(), samples.end());
    return sortedPercentile(samples, p);
}

Summary summarize(const std::vector<double>& samples) {
    Summary s;
    if (samples.empty()) return s;
    std::vector<double> sorted = samples;
    std::sort(sorted.begin(), sorted.end());
    s.count = static_cast<int>(sorted.size());
    s.median = sortedPercentile(sorted, 0.5);
    s.p10 = sortedPercentile(sorted, 0.1);
    s.p90 = sortedPercentile(sorted, 0.9);
    s.min = sorted.front();
    s.max = sorted.back();
    s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(sorted.size());
    return s;
}

} // namespace opstudio::profile
