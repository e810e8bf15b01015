#include "opstudio/profile/statistics.h"

#include <gtest/gtest.h>

using namespace opstudio::profile;

TEST(Statistics, InterpolatesPercentilesBetweenRanks) {
    // Sorted 1..10: rank p·9 -> p10 at 0.9 (1.9), median at 4.5 (5.5), p90 at 8.1 (9.1).
    const Summary s = summarize({7, 3, 10, 1, 9, 2, 8, 4, 6, 5});
    EXPECT_DOUBLE_EQ(s.median, 5.5);
    EXPECT_DOUBLE_EQ(s.p10, 1.9);
    EXPECT_DOUBLE_EQ(s.p90, 9.1);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 10);
    EXPECT_DOUBLE_EQ(s.mean, 5.5);
    EXPECT_EQ(s.count, 10);
}

TEST(Statistics, OddCountMedianIsTheMiddleSample) {
    const Summary s = summarize({5, 1, 100});
    EXPECT_DOUBLE_EQ(s.median, 5);
    EXPECT_DOUBLE_EQ(s.p90, 5 + (100 - 5) * 0.8);
    EXPECT_DOUBLE_EQ(percentile({5, 1, 100}, 0.0), 1);
    EXPECT_DOUBLE_EQ(percentile({5, 1, 100}, 1.0), 100);
}

TEST(Statistics, EmptyAndSingleSample) {
    const Summary e = summarize({});
    EXPECT_EQ(e.count, 0);
    EXPECT_DOUBLE_EQ(e.median, 0);
    const Summary one = summarize({2.5});
    EXPECT_DOUBLE_EQ(one.median, 2.5);
    EXPECT_DOUBLE_EQ(one.p10, 2.5);
    EXPECT_DOUBLE_EQ(one.p90, 2.5);
}
