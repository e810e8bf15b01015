#pragma once
// Order statistics over repeated timings.
#include <vector>

namespace opstudio::profile {

/// Distribution of one measured quantity over runs (same unit as the samples).
struct Summary {
    double median = 0;
    double p10 = 0;
    double p90 = 0;
    double min = 0;
    double max = 0;
    double mean = 0;
    int count = 0;
};

/// Percentile p in [0, 1] by linear interpolation between closest ranks (numpy's default):
/// position p·(n−1) in the sorted samples. 0 for an empty set.
double percentile(std::vector<double> samples, double p);
/// Median, p10, p90, min, max and mean of the samples (all zero when empty).
Summary summarize(const std::vector<double>& samples);

} // namespace opstudio::profile
