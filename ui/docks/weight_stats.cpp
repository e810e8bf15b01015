#include "docks/weight_stats.h"

#include <algorithm>
#include <cmath>

namespace opstudio::ui {

WeightStats computeWeightStats(const ir::Tensor& t, int bins, int64_t maxElements) {
    WeightStats s;
    if (!t.defined() || t.dtype() == ir::DType::String || t.numel() == 0 || !t.raw()) return s;
    std::vector<double> all;
    try {
        all = t.toDoubles();
    } catch (...) {
        return s;
    }
    std::vector<double> v;
    if (static_cast<int64_t>(all.size()) > maxElements) {
        s.sampled = true;
        const double step = static_cast<double>(all.size()) / static_cast<double>(maxElements);
        v.reserve(static_cast<size_t>(maxElements));
        for (int64_t i = 0; i < maxElements; ++i) v.push_back(all[static_cast<size_t>(i * step)]);
    } else {
        v = std::move(all);
    }
    s.count = static_cast<int64_t>(v.size());
    s.min = v[0];
    s.max = v[0];
    double sum = 0;
    int64_t zeros = 0;
    for (double x : v) {
        s.min = std::min(s.min, x);
        s.max = std::max(s.max, x);
        sum += x;
        zeros += x == 0.0;
    }
    s.mean = sum / static_cast<double>(v.size());
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(sq / static_cast<double>(v.size()));
    s.zeroFraction = static_cast<double>(zeros) / static_cast<double>(v.size());
    bins = std::max(1, bins);
    const double lo = s.min, hi = s.max > s.min ? s.max : s.min + 1.0;
    const double width = (hi - lo) / bins;
    s.binCenters.resize(static_cast<size_t>(bins));
    s.binCounts.assign(static_cast<size_t>(bins), 0.0);
    for (int b = 0; b < bins; ++b) s.binCenters[static_cast<size_t>(b)] = lo + (b + 0.5) * width;
    for (double x : v) {
        int b = static_cast<int>((x - lo) / width);
        b = std::clamp(b, 0, bins - 1);
        s.binCounts[static_cast<size_t>(b)] += 1;
    }
    return s;
}

} // namespace opstudio::ui
