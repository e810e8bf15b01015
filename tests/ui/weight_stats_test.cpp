#include "docks/weight_stats.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace opstudio;
using namespace opstudio::ui;

TEST(WeightStats, HandComputedMomentsZerosAndHistogram) {
    const auto t = ir::Tensor::fromVector<float>({2, 3}, {0.f, 1.f, 2.f, 3.f, 0.f, 6.f});
    const WeightStats s = computeWeightStats(t, /*bins=*/3);
    EXPECT_EQ(s.count, 6);
    EXPECT_DOUBLE_EQ(s.min, 0);
    EXPECT_DOUBLE_EQ(s.max, 6);
    EXPECT_DOUBLE_EQ(s.mean, 2);
    EXPECT_NEAR(s.std, std::sqrt(((4 + 1 + 0 + 1 + 4 + 16) / 6.0)), 1e-12);
    EXPECT_DOUBLE_EQ(s.zeroFraction, 2.0 / 6.0);
    ASSERT_EQ(s.binCounts.size(), 3u);
    // bins [0,2) [2,4) [4,6]: {0,1,0} {2,3} {6}
    EXPECT_EQ(s.binCounts[0], 3);
    EXPECT_EQ(s.binCounts[1], 2);
    EXPECT_EQ(s.binCounts[2], 1);
    EXPECT_FALSE(s.sampled);
}

TEST(WeightStats, ConstantAndSampledTensors) {
    const auto c = ir::Tensor::fromVector<int8_t>({4}, {5, 5, 5, 5});
    const WeightStats s = computeWeightStats(c, 8);
    EXPECT_DOUBLE_EQ(s.std, 0);
    EXPECT_DOUBLE_EQ(s.binCounts[0], 4);
    std::vector<float> big(1000, 1.f);
    const WeightStats b = computeWeightStats(ir::Tensor::fromVector<float>({1000}, big), 4, /*maxElements=*/100);
    EXPECT_TRUE(b.sampled);
    EXPECT_EQ(b.count, 100);
    EXPECT_EQ(computeWeightStats(ir::Tensor()).count, 0);
}
