// Elementwise kernels: fast path vs reference on shapes that exercise loop tails and every
// broadcast pattern, hand-computed answers for the sign rules, and the ONNX node cases on both paths.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/ir/half.h"

#include <cctype>
#include <cmath>
#include <algorithm>
#include <filesystem>
#include <limits>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::NodeSpec;
using testing::runNode;
using Shape = std::vector<int64_t>;

Tensor runOne(const std::string& op, const std::vector<Tensor>& inputs, bool reference, int threads = 1,
              std::vector<ir::Attribute> attrs = {}, int64_t opset = 17) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    return runNode(spec, inputs, reference, threads).at(0);
}

/// Fast (1 and 2 threads) must equal the reference path.
void expectFastMatchesReference(const std::string& op, const std::vector<Tensor>& inputs,
                                std::vector<ir::Attribute> attrs = {}, double atol = 1e-6) {
    const Tensor ref = runOne(op, inputs, true, 1, attrs);
    // Two threads only where the parallel split happens (> 32k elements); it is slow on a busy machine.
    int64_t largest = 0;
    for (const Tensor& t : inputs) largest = std::max(largest, t.numel());
    for (int threads : {1, 2}) {
        if (threads == 2 && largest < 32768) continue;
        const Tensor fast = runOne(op, inputs, false, threads, attrs);
        EXPECT_TRUE(testing::allClose(fast, ref, atol, 1e-6)) << op << " threads=" << threads;
    }
}

// Output shape, both-operand broadcast patterns, scalars, rank mismatch, empty tensors, and one
// large case (> 32k elements) that goes through the parallel split.
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{7, 1, 13}, {1, 127, 1}}, {{127, 13}, {127, 13}}, {{127, 13}, {13}},   {{127, 13}, {127, 1}},
    {{}, {7, 13}},             {{7, 13}, {}},         {{1}, {13, 1, 7}},   {{2, 3, 0}, {3, 1}},
    {{0}, {}},                 {{3, 1, 5, 1}, {4, 1, 6}}, {{64, 1031}, {1031}}, {{64, 1, 517}, {1, 3, 1}},
};

TEST(ElementwiseBinary, FastMatchesReferenceOnBroadcastShapes) {
    uint64_t seed = 1;
    for (const auto& [sa, sb] : kBroadcastPairs) {
        const Tensor a = testing::randomTensor(DType::F32, sa, seed++, -2.0, 2.0);
        const Tensor b = testing::randomTensor(DType::F32, sb, seed++, 0.5, 2.0);
        SCOPED_TRACE(ir::shapeToString(sa) + " vs " + ir::shapeToString(sb));
        for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min", "Less", "Equal", "GreaterOrEqual"})
            expectFastMatchesReference(op, {a, b});
        expectFastMatchesReference("Pow", {b, a}, {}, 1e-5);
        const Tensor ia = testing::randomTensor(DType::I32, sa, seed++, -50, 50);
        const Tensor ib = testing::randomTensor(DType::I32, sb, seed++, 1, 9);
        expectFastMatchesReference("Div", {ia, ib});
        expectFastMatchesReference("Mod", {ia, ib});
    }
}

TEST(ElementwiseBinary, BroadcastAddMatchesHandComputedIndexing) {
    const Tensor a = testing::randomTensor(DType::F32, {7, 1, 13}, 3);
    const Tensor b = testing::randomTensor(DType::F32, {1, 127, 1}, 4);
    for (bool reference : {false, true}) {
        const Tensor y = runOne("Add", {a, b}, reference, 2);
        ASSERT_EQ(y.shape(), (Shape{7, 127, 13}));
        const float* pa = a.data<float>();
        const float* pb = b.data<float>();
        const float* py = y.data<float>();
        for (int i = 0; i < 7; ++i)
            for (int j = 0; j < 127; ++j)
                for (int k = 0; k < 13; ++k)
                    ASSERT_EQ(py[(i * 127 + j) * 13 + k], pa[i * 13 + k] + pb[j]) << i << "," << j << "," << k;
    }
}

TEST(ElementwiseBinary, IntegerDivisionTruncatesTowardZero) {
    const Tensor a = Tensor::fromVector<int32_t>({6}, {-7, 7, -7, 7, 5, std::numeric_limits<int32_t>::min()});
    const Tensor b = Tensor::fromVector<int32_t>({6}, {2, -2, -2, 2, 0, -1});
    for (bool reference : {false, true}) {
        const Tensor y = runOne("Div", {a, b}, reference);
        const auto v = y.toInt64s();
        // Division by zero gives 0 and INT_MIN / -1 wraps instead of raising SIGFPE.
        EXPECT_EQ(v, (std::vector<int64_t>{-3, -3, 3, 3, 0, std::numeric_limits<int32_t>::min()}));
    }
}

TEST(ElementwiseBinary, IntegerOverflowWraps) {
    const int32_t kMax = std::numeric_limits<int32_t>::max(), kMin = std::numeric_limits<int32_t>::min();
    const Tensor a = Tensor::fromVector<int32_t>({2}, {kMax, kMin});
    const Tensor one = Tensor::fromVector<int32_t>({1}, {1});
    for (bool reference : {false, true}) {
        EXPECT_EQ(runOne("Add", {a, one}, reference).toInt64s(), (std::vector<int64_t>{kMin, kMin + 1}));
        EXPECT_EQ(runOne("Sub", {a, one}, reference).toInt64s(), (std::vector<int64_t>{kMax - 1, kMax}));
        EXPECT_EQ(runOne("Neg", {a}, reference).toInt64s(), (std::vector<int64_t>{-kMax, kMin}));
        Tensor h(DType::I16, {1});
        h.data<int16_t>()[0] = 300;
        EXPECT_EQ(runOne("Mul", {h, h}, reference).toInt64s(), (std::vector<int64_t>{90000 - 65536}));
    }
}

TEST(ElementwiseBinary, ModFollowsDivisorSignUnlessFmod) {
    const Tensor a = Tensor::fromVector<int64_t>({6}, {-4, 7, 5, 4, -7, 8});
    const Tensor b = Tensor::fromVector<int64_t>({6}, {2, -3, 8, -2, 3, 5});
    for (bool reference : {false, true}) {
        EXPECT_EQ(runOne("Mod", {a, b}, reference).toInt64s(), (std::vector<int64_t>{0, -2, 5, 0, 2, 3}));
        EXPECT_EQ(runOne("Mod", {a, b}, reference, 1, {testing::attrInt("fmod", 1)}).toInt64s(),
                  (std::vector<int64_t>{0, 1, 5, 0, -1, 3}));
    }
    const Tensor fa = Tensor::fromVector<float>({2}, {-7.5f, 7.5f});
    const Tensor fb = Tensor::fromVector<float>({2}, {2.f, -2.f});
    EXPECT_EQ(runOne("Mod", {fa, fb}, false).toDoubles(), (std::vector<double>{0.5, -0.5}));
    EXPECT_EQ(runOne("Mod", {fa, fb}, false, 1, {testing::attrInt("fmod", 1)}).toDoubles(),
              (std::vector<double>{-1.5, 1.5}));
}

TEST(ElementwiseBinary, PowMixesBaseAndExponentTypes) {
    const Tensor ib = Tensor::fromVector<int32_t>({4}, {1, 2, 3, -2});
    const Tensor fe = Tensor::fromVector<float>({4}, {4.f, 5.f, 6.f, 3.f});
    const Tensor ie = Tensor::fromVector<int64_t>({4}, {4, 5, 6, 3});
    for (bool reference : {false, true}) {
        const Tensor y = runOne("Pow", {ib, fe}, reference);
        EXPECT_EQ(y.dtype(), DType::I32);
        EXPECT_EQ(y.toInt64s(), (std::vector<int64_t>{1, 32, 729, -8}));
        EXPECT_EQ(runOne("Pow", {ib, Tensor::fromVector<int32_t>({4}, {4, 5, 6, 3})}, reference).toInt64s(),
                  (std::vector<int64_t>{1, 32, 729, -8}));
        const Tensor fy = runOne("Pow", {Tensor::fromVector<float>({4}, {1.f, 2.f, 3.f, -2.f}), ie}, reference);
        EXPECT_EQ(fy.dtype(), DType::F32);
        EXPECT_EQ(fy.toDoubles(), (std::vector<double>{1, 32, 729, -8}));
    }
    // Scalar exponent shortcuts (x^2, x^0.5) agree with the general path.
    const Tensor x = testing::randomTensor(DType::F32, {127, 13}, 9, 0.0, 3.0);
    expectFastMatchesReference("Pow", {x, Tensor::scalar<float>(2.f)}, {}, 1e-5);
    expectFastMatchesReference("Pow", {x, Tensor::scalar<float>(0.5f)}, {}, 1e-6);
}

TEST(ElementwiseVariadic, SumMeanMaxBroadcastAllInputs) {
    const Tensor a = Tensor::fromVector<float>({3, 1}, {1, 2, 3});
    const Tensor b = Tensor::fromVector<float>({1, 4}, {10, 20, 30, 40});
    const Tensor c = Tensor::fromVector<float>({4}, {100, 200, 300, 400});
    for (bool reference : {false, true}) {
        const Tensor s = runOne("Sum", {a, b, c}, reference);
        ASSERT_EQ(s.shape(), (Shape{3, 4}));
        EXPECT_EQ(s.toDoubles()[0], 111);
        EXPECT_EQ(s.toDoubles()[11], 443);
        const Tensor m = runOne("Mean", {a, b, c}, reference);
        EXPECT_NEAR(m.toDoubles()[11], 443.0 / 3.0, 1e-4);
        const Tensor mx = runOne("Max", {a, b, Tensor::scalar<float>(25.f)}, reference);
        EXPECT_EQ(mx.toDoubles(), (std::vector<double>{25, 25, 30, 40, 25, 25, 30, 40, 25, 25, 30, 40}));
        EXPECT_EQ(runOne("Min", {a}, reference).toDoubles(), (std::vector<double>{1, 2, 3}));
    }
}

TEST(ElementwiseVariadic, MaxPropagatesNaN) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const Tensor a = Tensor::fromVector<float>({2}, {nan, 1.f});
    const Tensor b = Tensor::fromVector<float>({2}, {0.f, nan});
    const auto v = runOne("Max", {a, b}, false).toDoubles();
    EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[1]));
}

TEST(ElementwiseVariadic, Float16IsComputedInFloat) {
    auto half = [](std::vector<float> v) {
        Tensor t(DType::F16, {static_cast<int64_t>(v.size())});
        for (size_t i = 0; i < v.size(); ++i) t.data<uint16_t>()[i] = ir::floatToHalf(v[i]);
        return t;
    };
    const Tensor y = runOne("Max", {half({3, 2, 1}), half({1, 4, 4})}, false);
    ASSERT_EQ(y.dtype(), DType::F16);
    EXPECT_EQ(ir::halfToFloat(y.data<uint16_t>()[1]), 4.f);
}

TEST(ElementwiseWhere, ThreeWayBroadcastMatchesHandComputed) {
    const Tensor c = testing::randomTensor(DType::Bool, {7, 1, 1}, 11);
    const Tensor x = testing::randomTensor(DType::F32, {1, 13, 1}, 12);
    const Tensor y = testing::randomTensor(DType::F32, {1, 1, 5}, 13);
    for (bool reference : {false, true}) {
        const Tensor o = runOne("Where", {c, x, y}, reference, 2);
        ASSERT_EQ(o.shape(), (Shape{7, 13, 5}));
        for (int i = 0; i < 7; ++i)
            for (int j = 0; j < 13; ++j)
                for (int k = 0; k < 5; ++k)
                    ASSERT_EQ(o.data<float>()[(i * 13 + j) * 5 + k],
                              c.data<bool>()[i] ? x.data<float>()[j] : y.data<float>()[k]);
    }
    const Tensor big = testing::randomTensor(DType::Bool, {64, 1031}, 14);
    expectFastMatchesReference("Where", {big, testing::randomTensor(DType::F32, {1031}, 15), Tensor::scalar<float>(0.f)});
}

TEST(ElementwiseUnary, FastMatchesReference) {
    for (const Shape& shape : {Shape{}, Shape{1}, Shape{7}, Shape{127, 13}, Shape{0, 3}, Shape{33000}}) {
        const Tensor x = testing::randomTensor(DType::F32, shape, 21, -0.9, 0.9);
        const Tensor pos = testing::randomTensor(DType::F32, shape, 22, 0.1, 5.0);
        for (const char* op : {"Abs", "Neg", "Floor", "Ceil", "Round", "Sign", "Exp", "Sin", "Cos", "Tan", "Asin",
                               "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Atanh", "Erf"})
            expectFastMatchesReference(op, {x}, {}, 2e-6);
        for (const char* op : {"Sqrt", "Log", "Reciprocal", "Acosh"}) expectFastMatchesReference(op, {pos}, {}, 2e-6);
    }
}

TEST(ElementwiseUnary, ExpAndErfAccurateAtExtremes) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> xs = {-inf, -120.f, -103.f, -95.f, -87.5f, -20.f, -4.5f, -3.9f, -1e-6f, 0.f,
                             1e-30f, 0.5f, 3.99f, 4.f, 10.f, 88.f, 88.7f, 88.8f, 100.f, inf};
    for (int i = 0; i < 2000; ++i) xs.push_back(-30.f + 0.03f * static_cast<float>(i));
    const Tensor x = Tensor::fromVector<float>({static_cast<int64_t>(xs.size())}, xs);
    const Tensor e = runOne("Exp", {x}, false);
    const Tensor f = runOne("Erf", {x}, false);
    for (size_t i = 0; i < xs.size(); ++i) {
        const double v = xs[i];
        const double wantE = std::exp(v);
        const float gotE = e.data<float>()[i];
        if (wantE > std::numeric_limits<float>::max()) EXPECT_TRUE(std::isinf(gotE)) << "exp(" << v << ")";
        else EXPECT_NEAR(gotE, wantE, 1e-38 + 3e-7 * wantE) << "exp(" << v << ")";
        EXPECT_NEAR(f.data<float>()[i], std::erf(v), 1e-7 + 4e-7 * std::fabs(std::erf(v))) << "erf(" << v << ")";
    }
    const Tensor nan = Tensor::fromVector<float>({1}, {std::nanf("")});
    EXPECT_TRUE(std::isnan(runOne("Exp", {nan}, false).data<float>()[0]));
    EXPECT_TRUE(std::isnan(runOne("Erf", {nan}, false).data<float>()[0]));
}

TEST(ElementwiseUnary, RoundHalvesToEven) {
    const Tensor x = Tensor::fromVector<float>({7}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f});
    for (bool reference : {false, true})
        EXPECT_EQ(runOne("Round", {x}, reference).toDoubles(), (std::vector<double>{0, 2, 2, -0.0, -2, 2, -3}));
}

TEST(ElementwiseUnary, IsInfHonoursDetectFlags) {
    const float inf = std::numeric_limits<float>::infinity();
    const Tensor x = Tensor::fromVector<float>({4}, {-inf, std::nanf(""), inf, 1.f});
    EXPECT_EQ(runOne("IsInf", {x}, false).toInt64s(), (std::vector<int64_t>{1, 0, 1, 0}));
    EXPECT_EQ(runOne("IsInf", {x}, false, 1, {testing::attrInt("detect_negative", 0)}).toInt64s(),
              (std::vector<int64_t>{0, 0, 1, 0}));
    EXPECT_EQ(runOne("IsInf", {x}, false, 1, {testing::attrInt("detect_positive", 0)}).toInt64s(),
              (std::vector<int64_t>{1, 0, 0, 0}));
    EXPECT_EQ(runOne("IsNaN", {x}, false).toInt64s(), (std::vector<int64_t>{0, 1, 0, 0}));
}

TEST(ElementwiseBinary, BitShiftAndLogic) {
    Tensor a(DType::U8, {3});
    Tensor b(DType::U8, {3});
    const uint8_t av[] = {16, 4, 1}, bv[] = {1, 2, 9};
    for (int i = 0; i < 3; ++i) a.data<uint8_t>()[i] = av[i], b.data<uint8_t>()[i] = bv[i];
    EXPECT_EQ(runOne("BitShift", {a, b}, false, 1, {testing::attrString("direction", "RIGHT")}).toInt64s(),
              (std::vector<int64_t>{8, 1, 0}));
    EXPECT_EQ(runOne("BitShift", {a, b}, false, 1, {testing::attrString("direction", "LEFT")}).toInt64s(),
              (std::vector<int64_t>{32, 16, 0}));
    const Tensor p = Tensor::fromVector<bool>({2, 2}, {true, true, false, false});
    const Tensor q = Tensor::fromVector<bool>({2}, {true, false});
    EXPECT_EQ(runOne("And", {p, q}, false).toInt64s(), (std::vector<int64_t>{1, 0, 0, 0}));
    EXPECT_EQ(runOne("Or", {p, q}, false).toInt64s(), (std::vector<int64_t>{1, 1, 1, 0}));
    EXPECT_EQ(runOne("Xor", {p, q}, false).toInt64s(), (std::vector<int64_t>{0, 1, 1, 0}));
    EXPECT_EQ(runOne("Not", {q}, false).toInt64s(), (std::vector<int64_t>{0, 1}));
}

TEST(ElementwiseBinary, LegacyBroadcastAxisBeforeOpset7) {
    const Tensor a = testing::randomTensor(DType::F32, {2, 3, 4}, 31);
    const Tensor b = Tensor::fromVector<float>({3}, {10, 20, 30});
    const Tensor y = runOne("Add", {a, b}, false, 1, {testing::attrInt("broadcast", 1), testing::attrInt("axis", 1)}, 6);
    ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
    EXPECT_FLOAT_EQ(y.data<float>()[4 * 1 + 2], a.data<float>()[4 * 1 + 2] + 20.f);
}

TEST(ElementwiseBinary, MismatchedDtypesFailWithNodeName) {
    const Tensor a = Tensor::fromVector<float>({2}, {1, 2});
    const Tensor b = Tensor::fromVector<int32_t>({2}, {1, 2});
    EXPECT_THROW(runOne("Add", {a, b}, false), Error);
    EXPECT_THROW(runOne("Add", {a, Tensor::fromVector<float>({3}, {1, 2, 3})}, false), Error);
}

// Every ONNX backend node case of these operators passes on the reference path too (the
// conformance suite runs the fast path).
TEST(ElementwiseNodeCases, ReferencePathPasses) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
    const std::vector<std::string> ops = {
        "abs", "neg", "reciprocal", "floor", "ceil", "round", "sign", "sqrt", "exp", "log", "sin", "cos", "tan",
        "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "not", "isnan", "isinf",
        "bitshift", "add", "sub", "mul", "div", "pow", "mod", "min", "max", "mean", "sum", "equal", "less",
        "greater", "and", "or", "xor", "where"};
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        // test_<op> followed by nothing, '_' or a digit (test_and2d, test_add_bcast; not test_expand).
        bool mine = false;
        for (const auto& op : ops) {
            const std::string p = "test_" + op;
            if (name.rfind(p, 0) != 0) continue;
            const char next = name.size() > p.size() ? name[p.size()] : '_';
            mine = mine || next == '_' || std::isdigit(static_cast<unsigned char>(next));
        }
        if (!mine) continue;
        testing::CaseOptions options;
        options.reference = true;
        const auto r = testing::runOnnxCase(dir, options);
        EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << ": " << r.message;
        ++ran;
    }
    EXPECT_GT(ran, 150);
}

} // namespace
} // namespace opstudio
