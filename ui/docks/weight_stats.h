#pragma once
// Summary statistics and a histogram of a weight tensor, for the Properties dock.
#include "opstudio/ir/tensor.h"

#include <cstdint>
#include <vector>

namespace opstudio::ui {

struct WeightStats {
    int64_t count = 0;    // elements looked at (all, or an even sample of huge tensors)
    bool sampled = false;
    double min = 0, max = 0, mean = 0, std = 0;
    double zeroFraction = 0;
    std::vector<double> binCenters;
    std::vector<double> binCounts;
};

/// Statistics over the tensor's values (any numeric dtype); tensors above `maxElements` are sampled evenly.
WeightStats computeWeightStats(const ir::Tensor& t, int bins = 64, int64_t maxElements = 4'000'000);

} // namespace opstudio::ui
