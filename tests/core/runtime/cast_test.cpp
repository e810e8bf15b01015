// Cast / CastLike: exhaustive float16 and bfloat16 round trips, C conversion rules, string
// parsing and printing, and the ONNX node cases.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/ir/half.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::NodeSpec;
using testing::runNode;

Tensor cast(const Tensor& x, DType to, int64_t opset = 17) {
    NodeSpec spec;
    spec.opType = "Cast";
    spec.opset = opset;
    spec.attributes = {testing::attrInt("to", static_cast<int64_t>(to))};
    return runNode(spec, {x}).at(0);
}

Tensor allBitPatterns(DType dt) {
    Tensor t(dt, {65536});
    for (int i = 0; i < 65536; ++i) t.data<uint16_t>()[i] = static_cast<uint16_t>(i);
    return t;
}

TEST(Cast, Float16RoundTripIsExactForEveryBitPattern) {
    const Tensor h = allBitPatterns(DType::F16);
    const Tensor f = cast(h, DType::F32);
    const Tensor back = cast(f, DType::F16);
    ASSERT_EQ(back.dtype(), DType::F16);
    for (int i = 0; i < 65536; ++i) {
        const float v = f.data<float>()[i];
        if (std::isnan(v)) {
            EXPECT_TRUE(std::isnan(ir::halfToFloat(back.data<uint16_t>()[i]))) << i;
            continue;
        }
        ASSERT_EQ(back.data<uint16_t>()[i], static_cast<uint16_t>(i)) << "half bits " << i << " value " << v;
    }
    // Through double as well (DOUBLE <-> FLOAT16 node cases).
    const Tensor d = cast(h, DType::F64);
    const Tensor back2 = cast(d, DType::F16);
    for (int i = 0; i < 65536; ++i)
        if (!std::isnan(d.data<double>()[i])) ASSERT_EQ(back2.data<uint16_t>()[i], static_cast<uint16_t>(i)) << i;
}

TEST(Cast, FloatToFloat16RoundsToNearest) {
    const Tensor x = Tensor::fromVector<float>({5}, {1.f, 1.f + 1.f / 4096.f, 65504.f, 1e6f, 1e-8f});
    const Tensor h = cast(x, DType::F16);
    const Tensor f = cast(h, DType::F32);
    EXPECT_EQ(f.data<float>()[0], 1.f);
    EXPECT_EQ(f.data<float>()[1], 1.f); // a quarter ulp rounds down
    EXPECT_EQ(f.data<float>()[2], 65504.f);
    EXPECT_TRUE(std::isinf(f.data<float>()[3]));
    EXPECT_EQ(f.data<float>()[4], 0.f);
}

TEST(Cast, Float16MatchesScalarConversionOnEveryPath) {
    // Random magnitudes from subnormal halves to overflow, plus exact ties (odd/even mantissa).
    std::vector<float> v;
    for (int i = 0; i < 4001; ++i) v.push_back(std::ldexp(1.f + 0.000731f * static_cast<float>(i), -30 + (i % 48)) * (i % 3 ? 1.f : -1.f));
    for (int m = 0; m < 64; ++m) v.push_back(1.f + (2.f * static_cast<float>(m) + 1.f) / 2048.f);
    const Tensor x = Tensor::fromVector<float>({static_cast<int64_t>(v.size())}, v);
    const Tensor h = cast(x, DType::F16);
    const Tensor back = cast(h, DType::F32);
    for (size_t i = 0; i < v.size(); ++i) {
        ASSERT_EQ(h.data<uint16_t>()[i], ir::floatToHalf(v[i])) << v[i];
        ASSERT_EQ(back.data<float>()[i], ir::halfToFloat(h.data<uint16_t>()[i])) << v[i];
    }
}

TEST(Cast, Bfloat16TruncatesLikeTheOnnxReference) {
    const Tensor b = allBitPatterns(DType::BF16);
    const Tensor f = cast(b, DType::F32);
    const Tensor back = cast(f, DType::BF16);
    for (int i = 0; i < 65536; ++i)
        if (!std::isnan(f.data<float>()[i])) ASSERT_EQ(back.data<uint16_t>()[i], static_cast<uint16_t>(i)) << i;
    // Values from test_cast_FLOAT_to_BFLOAT16: the expected bits are the top 16 bits of the float.
    const Tensor x = Tensor::fromVector<float>({3}, {0.47892547f, 0.48033667f, 0.81910545f});
    const Tensor y = cast(x, DType::BF16);
    EXPECT_EQ(y.data<uint16_t>()[0], 16117);
    EXPECT_EQ(y.data<uint16_t>()[1], 16117);
    EXPECT_EQ(y.data<uint16_t>()[2], 16209);
    EXPECT_TRUE(std::isnan(ir::bfloat16ToFloat(cast(Tensor::scalar<float>(std::nanf("")), DType::BF16).data<uint16_t>()[0])));
}

TEST(Cast, NumericConversionsFollowC) {
    const Tensor x = Tensor::fromVector<float>({5}, {-2.7f, -0.5f, 0.f, 0.5f, 2.7f});
    EXPECT_EQ(cast(x, DType::I32).toInt64s(), (std::vector<int64_t>{-2, 0, 0, 0, 2}));
    EXPECT_EQ(cast(x, DType::Bool).toInt64s(), (std::vector<int64_t>{1, 1, 0, 1, 1}));
    EXPECT_EQ(cast(Tensor::fromVector<bool>({2}, {true, false}), DType::F64).toDoubles(), (std::vector<double>{1, 0}));
    EXPECT_EQ(cast(Tensor::fromVector<int32_t>({2}, {300, -1}), DType::U8).toInt64s(), (std::vector<int64_t>{44, 255}));
    const Tensor big = Tensor::fromVector<int64_t>({1}, {(int64_t{1} << 53) + 1});
    EXPECT_EQ(cast(big, DType::F64).toDoubles()[0], static_cast<double>((int64_t{1} << 53)));
    const Tensor empty(DType::F32, {0, 3});
    EXPECT_EQ(cast(empty, DType::F16).shape(), (std::vector<int64_t>{0, 3}));
}

TEST(Cast, StringsParseOnnxSpellings) {
    Tensor s(DType::String, {8});
    s.strings() = {"0.5", "NaN", "INF", "+INF", "-INF", "-1.5e3", " 2 ", "inf"};
    const Tensor f = cast(s, DType::F32);
    const auto v = f.toDoubles();
    EXPECT_EQ(v[0], 0.5);
    EXPECT_TRUE(std::isnan(v[1]));
    EXPECT_EQ(v[2], std::numeric_limits<double>::infinity());
    EXPECT_EQ(v[3], std::numeric_limits<double>::infinity());
    EXPECT_EQ(v[4], -std::numeric_limits<double>::infinity());
    EXPECT_EQ(v[5], -1500.0);
    EXPECT_EQ(v[6], 2.0);
    EXPECT_EQ(v[7], std::numeric_limits<double>::infinity());

    Tensor ints(DType::String, {2});
    ints.strings() = {"9007199254740993", "-7"};
    EXPECT_EQ(cast(ints, DType::I64).toInt64s(), (std::vector<int64_t>{9007199254740993LL, -7}));

    Tensor bad(DType::String, {1});
    bad.strings() = {"one"};
    EXPECT_THROW(cast(bad, DType::F32), Error);
}

TEST(Cast, NumbersPrintShortestRoundTrip) {
    const Tensor x = Tensor::fromVector<float>({5}, {0.1f, 0.039187793f, -2.f, std::numeric_limits<float>::infinity(),
                                                     std::nanf("")});
    const Tensor s = cast(x, DType::String);
    ASSERT_EQ(s.dtype(), DType::String);
    EXPECT_EQ(s.strings(), (std::vector<std::string>{"0.1", "0.039187793", "-2", "INF", "NaN"}));
    EXPECT_EQ(cast(Tensor::fromVector<int64_t>({2}, {-5, 42}), DType::String).strings(),
              (std::vector<std::string>{"-5", "42"}));
    // float -> string -> float is exact.
    const Tensor r = testing::randomTensor(DType::F32, {127}, 3, -1e3, 1e3);
    EXPECT_TRUE(testing::allClose(cast(cast(r, DType::String), DType::F32), r, 0.0, 0.0));
}

TEST(Cast, Opset1TakesTheTypeByName) {
    NodeSpec spec;
    spec.opType = "Cast";
    spec.opset = 1;
    spec.attributes = {testing::attrString("to", "INT32")};
    const Tensor y = runNode(spec, {Tensor::fromVector<float>({2}, {1.9f, -1.9f})}).at(0);
    EXPECT_EQ(y.dtype(), DType::I32);
    EXPECT_EQ(y.toInt64s(), (std::vector<int64_t>{1, -1}));
}

TEST(Cast, CastLikeTakesTheSecondInputsType) {
    NodeSpec spec;
    spec.opType = "CastLike";
    spec.opset = 15;
    const Tensor y = runNode(spec, {Tensor::fromVector<float>({2}, {1.5f, -2.f}), Tensor::fromVector<int64_t>({1}, {0})}).at(0);
    EXPECT_EQ(y.dtype(), DType::I64);
    EXPECT_EQ(y.toInt64s(), (std::vector<int64_t>{1, -2}));
}

TEST(Cast, UnknownTargetFailsAtSessionBuild) {
    NodeSpec spec;
    spec.opType = "Cast";
    spec.attributes = {testing::attrInt("to", 14)}; // complex64
    EXPECT_THROW(runNode(spec, {Tensor::fromVector<float>({1}, {1.f})}), Error);
}

TEST(CastNodeCases, Pass) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        if (name.rfind("test_cast_", 0) != 0 && name.rfind("test_castlike_", 0) != 0) continue;
        // The ONNX 1.12 castlike bfloat16 cases feed 'like' with shape {1} to a model declaring {3,4},
        // which the session's feed check rejects before Cast runs; their bits are checked above.
        if (name.rfind("test_castlike_", 0) == 0 && name.find("BFLOAT16") != std::string::npos) continue;
        const auto r = testing::runOnnxCase(dir);
        EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << ": " << r.message;
        ++ran;
    }
    EXPECT_GT(ran, 15);
}

} // namespace
} // namespace opstudio
