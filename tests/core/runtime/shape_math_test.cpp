// util/shape_math.h: the one checked place for element counts and byte sizes.
#include "opstudio/ir/tensor.h"
#include "opstudio/util/error.h"
#include "opstudio/util/shape_math.h"

#include <gtest/gtest.h>

namespace opstudio {
namespace {

TEST(ShapeMath, CountsOrdinaryShapes) {
    EXPECT_EQ(util::checkedNumel({}), 1);
    EXPECT_EQ(util::checkedNumel({2, 3, 7}), 42);
    EXPECT_EQ(util::checkedBytes({2, 3, 7}, 4), 168u);
    // A zero dim makes the count 0 whatever the other dims claim.
    EXPECT_EQ(util::checkedNumel({0, int64_t{1} << 40, int64_t{1} << 40}), 0);
}

TEST(ShapeMath, RejectsNegativeOverflowingAndHugeShapes) {
    EXPECT_THROW(util::checkedNumel({2, -1}), Error);
    EXPECT_THROW(util::checkedNumel({int64_t{1} << 32, int64_t{1} << 32}), Error); // wraps to 0 unchecked
    EXPECT_THROW(util::checkedNumel({int64_t{1} << 21, int64_t{1} << 20}), Error); // 2^41 > 2^40 cap
    EXPECT_THROW(util::checkedBytes({int64_t{1} << 39}, 8), Error);                // 4 TiB
    EXPECT_THROW(util::checkedNumel(std::vector<int64_t>(65, 1)), Error);          // rank cap
    EXPECT_THROW(util::checkedMul(int64_t{1} << 40, int64_t{1} << 40), Error);
    try {
        util::checkedNumel({-3}, "tensor 'w'");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("tensor 'w'"), std::string::npos) << e.what();
    }
}

TEST(ShapeMath, LimitsAreConfigurable) {
    const util::ShapeLimits saved = util::shapeLimits();
    util::ShapeLimits tight = saved;
    tight.maxBytes = 1024;
    util::setShapeLimits(tight);
    EXPECT_EQ(util::maxTensorBytes(), 1024u);
    EXPECT_NO_THROW(util::checkedBytes({256}, 4));
    EXPECT_THROW(util::checkedBytes({257}, 4), Error);
    // Tensor allocation goes through the same check.
    EXPECT_THROW(ir::Tensor(ir::DType::F32, {300}), Error);
    util::setShapeLimits(saved);
    EXPECT_NO_THROW(ir::Tensor(ir::DType::F32, {300}));
    EXPECT_GE(util::maxTensorBytes(), uint64_t{1} << 30);
}

} // namespace
} // namespace opstudio
