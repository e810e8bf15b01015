// Quantization kernels: rounding and saturation, per-axis parameters, integer matmul/conv with
// zero points (oneDNN fast path vs plain loops), requantization.
#include "support/test_util.h"

#include <cmath>

// NodeSpec literals below leave constantInputs at its default on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using Shape = std::vector<int64_t>;
using testing::attrInt;
using testing::attrInts;
using testing::NodeSpec;
using testing::randomTensor;
using testing::runNode;

/// Kernel path the session picked for the single node of a one-node model.
std::string pathOf(const NodeSpec& spec, const std::vector<Tensor>& inputs) {
    auto model = std::make_shared<ir::Model>(testing::makeNodeModel(spec, inputs));
    auto session = rt::Session::create(model);
    if (!session) throw session.error();
    return std::string((*session)->kernelPath(model->graph->order()[0]));
}

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
    // x / 2 + 128: 1 -> 0.5 -> 0, 3 -> 1.5 -> 2, 5 -> 2.5 -> 2, -1 -> -0.5 -> 0; 1000 and -1000 clamp.
    const Tensor x = Tensor::fromVector<float>({8}, {0, 1, 3, 5, -1, 1000, -254, -1000});
    const Tensor scale = Tensor::scalar<float>(2.f);
    const Tensor zp = Tensor::scalar<uint8_t>(128);
    NodeSpec spec{"QuantizeLinear", "", 13, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, scale, zp})[0],
                                  Tensor::fromVector<uint8_t>({8}, {128, 128, 130, 130, 128, 255, 1, 0})));
    // int8 zero point selects int8 output; no zero point means uint8 with zp 0.
    const Tensor xi = Tensor::fromVector<float>({3}, {-300, 3, 300});
    EXPECT_TRUE(testing::allClose(runNode(spec, {xi, Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0)})[0],
                                  Tensor::fromVector<int8_t>({3}, {-128, 3, 127})));
    EXPECT_TRUE(testing::allClose(runNode(spec, {xi, Tensor::scalar<float>(1.f)})[0],
                                  Tensor::fromVector<uint8_t>({3}, {0, 3, 255})));
}

TEST(QuantizeLinear, PerAxisScalesFromOpset13) {
    const Tensor x = Tensor::fromVector<float>({1, 3, 2}, {2, 4, 2, 4, 4, 8});
    const Tensor scale = Tensor::fromVector<float>({3}, {1, 2, 4});
    const Tensor zp = Tensor::fromVector<uint8_t>({3}, {0, 1, 2});
    NodeSpec spec{"QuantizeLinear", "", 13, {attrInt("axis", 1)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, scale, zp})[0], Tensor::fromVector<uint8_t>({1, 3, 2}, {2, 4, 2, 3, 3, 4})));
    NodeSpec old{"QuantizeLinear", "", 10, {}, 1};
    EXPECT_THROW(runNode(old, {x, scale, zp}), Error);
    NodeSpec wrongSize{"QuantizeLinear", "", 13, {attrInt("axis", 2)}, 1};
    EXPECT_THROW(runNode(wrongSize, {x, scale, zp}), Error);
}

TEST(QuantizeLinear, ContribDomainIsPerAxis) {
    const Tensor x = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
    const Tensor scale = Tensor::fromVector<float>({2}, {1, 2});
    const Tensor zp = Tensor::fromVector<int8_t>({2}, {0, -1});
    NodeSpec q{"QuantizeLinear", "com.microsoft", 1, {attrInt("axis", 1)}, 1};
    const auto y = runNode(q, {x, scale, zp})[0];
    EXPECT_TRUE(testing::allClose(y, Tensor::fromVector<int8_t>({2, 2}, {1, 0, 3, 1})));
    NodeSpec dq{"DequantizeLinear", "com.microsoft", 1, {attrInt("axis", 1)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(dq, {y, scale, zp})[0], Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4})));
}

TEST(DequantizeLinear, PerTensorPerAxisAndInt32) {
    NodeSpec spec{"DequantizeLinear", "", 13, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {Tensor::fromVector<uint8_t>({3}, {0, 128, 255}), Tensor::scalar<float>(0.5f),
                                                 Tensor::scalar<uint8_t>(128)})[0],
                                  Tensor::fromVector<float>({3}, {-64, 0, 63.5f})));
    EXPECT_TRUE(testing::allClose(
        runNode(spec, {Tensor::fromVector<int32_t>({2}, {-7, 100}), Tensor::scalar<float>(0.25f)})[0],
        Tensor::fromVector<float>({2}, {-1.75f, 25})));
    NodeSpec axis0{"DequantizeLinear", "", 13, {attrInt("axis", 0)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(axis0, {Tensor::fromVector<int8_t>({2, 2}, {1, 2, 3, 4}),
                                                  Tensor::fromVector<float>({2}, {1, 10}), Tensor::fromVector<int8_t>({2}, {0, 1})})[0],
                                  Tensor::fromVector<float>({2, 2}, {1, 2, 20, 30})));
}

TEST(QuantizeLinear, RoundTripsWithinHalfAStep) {
    const Tensor x = randomTensor(DType::F32, {13, 7}, 3, -1, 1);
    const Tensor scale = Tensor::scalar<float>(2.f / 255.f);
    const Tensor zp = Tensor::scalar<uint8_t>(127);
    const auto q = runNode({"QuantizeLinear", "", 13, {}, 1}, {x, scale, zp})[0];
    const auto back = runNode({"DequantizeLinear", "", 13, {}, 1}, {q, scale, zp})[0];
    EXPECT_LE(testing::maxAbsDiff(back, x), 0.5 * 2.0 / 255.0 + 1e-6);
}

TEST(DynamicQuantizeLinear, MatchesOnnxExample) {
    // min -3, max 2 -> scale 5/255, zero point round(3 / scale) = 153.
    const Tensor x = Tensor::fromVector<float>({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f});
    const auto out = runNode({"DynamicQuantizeLinear", "", 11, {}, 3}, {x});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<uint8_t>({6}, {153, 255, 0, 26, 221, 179})));
    EXPECT_TRUE(testing::allClose(out[1], Tensor::scalar<float>(5.f / 255.f)));
    EXPECT_TRUE(testing::allClose(out[2], Tensor::scalar<uint8_t>(153)));
    // All zeros: scale 0, everything maps to 0 instead of dividing by zero.
    const auto zeros = runNode({"DynamicQuantizeLinear", "", 11, {}, 3}, {Tensor::zeros(DType::F32, {4})});
    EXPECT_TRUE(testing::allClose(zeros[0], Tensor::zeros(DType::U8, {4})));
}

TEST(MatMulInteger, HandComputedWithZeroPoints) {
    // (A - 1) . B with B = identity.
    const Tensor a = Tensor::fromVector<uint8_t>({2, 2}, {1, 2, 3, 4});
    const Tensor b = Tensor::fromVector<int8_t>({2, 2}, {1, 0, 0, 1});
    NodeSpec spec{"MatMulInteger", "", 10, {}, 1};
    const auto expected = Tensor::fromVector<int32_t>({2, 2}, {0, 1, 2, 3});
    EXPECT_TRUE(testing::allClose(runNode(spec, {a, b, Tensor::scalar<uint8_t>(1)})[0], expected));
    spec.constantInputs = {false, true, false, false};
    EXPECT_TRUE(testing::allClose(runNode(spec, {a, b, Tensor::scalar<uint8_t>(1)})[0], expected));
}

/// MatMulInteger with constant B (oneDNN fast path) against the reference loops.
void checkMatMulInteger(DType aType, DType bType, Shape aShape, Shape bShape, bool perRow, bool perCol, uint64_t seed) {
    const double aLo = aType == DType::U8 ? 0 : -128, aHi = aType == DType::U8 ? 256 : 128;
    const double bLo = bType == DType::U8 ? 0 : -128, bHi = bType == DType::U8 ? 256 : 128;
    const int64_t m = aShape.size() > 1 ? aShape[aShape.size() - 2] : 1, n = bShape.back();
    const Tensor a = randomTensor(aType, aShape, seed, aLo, aHi);
    const Tensor b = randomTensor(bType, bShape, seed + 1, bLo, bHi);
    const Tensor az = randomTensor(aType, perRow ? Shape{m} : Shape{}, seed + 2, aLo, aHi);
    const Tensor bz = randomTensor(bType, perCol ? Shape{n} : Shape{}, seed + 3, bLo, bHi);
    NodeSpec spec{"MatMulInteger", "", 10, {}, 1};
    spec.constantInputs = {false, true, false, true};
    const auto fast = runNode(spec, {a, b, az, bz}, false, 2);
    const auto ref = runNode(spec, {a, b, az, bz}, true);
    EXPECT_TRUE(testing::allClose(fast[0], ref[0], 0, 0))
        << ir::dtypeName(aType) << " x " << ir::dtypeName(bType) << " " << ir::shapeToString(aShape) << " x "
        << ir::shapeToString(bShape);
}

TEST(MatMulInteger, OnednnMatchesReferenceOnOddShapes) {
    for (DType at : {DType::U8, DType::I8})
        for (DType bt : {DType::U8, DType::I8})
            for (int64_t d : {1, 7, 13, 127}) {
                checkMatMulInteger(at, bt, {d, 13}, {13, d}, false, false, d);
                checkMatMulInteger(at, bt, {2, d, 7}, {7, 13}, true, true, d + 100);
                checkMatMulInteger(at, bt, {1, 127}, {127, d}, false, true, d + 200); // decode-like GEMV
            }
}

TEST(MatMulInteger, UsesOnednnForConstantWeights) {
    NodeSpec spec{"MatMulInteger", "", 10, {}, 1};
    spec.constantInputs = {false, true};
    EXPECT_EQ(pathOf(spec, {randomTensor(DType::U8, {4, 8}, 1, 0, 255), randomTensor(DType::I8, {8, 3}, 2, -128, 127)}),
              "onednn");
}

TEST(MatMulInteger, BatchedWeightsAndVectorsUseReference) {
    // Batched B (no pre-packing) with broadcast batch dims, and 1-D operands.
    NodeSpec spec{"MatMulInteger", "", 10, {}, 1};
    const Tensor a = randomTensor(DType::U8, {3, 1, 4, 5}, 1, 0, 255);
    const Tensor b = randomTensor(DType::I8, {2, 5, 6}, 2, -128, 127);
    const auto out = runNode(spec, {a, b})[0];
    ASSERT_EQ(out.shape(), (Shape{3, 2, 4, 6}));
    // Element [2, 1, 3, 5] by hand.
    int32_t acc = 0;
    for (int k = 0; k < 5; ++k) acc += a.data<uint8_t>()[(2 * 4 + 3) * 5 + k] * b.data<int8_t>()[(1 * 5 + k) * 6 + 5];
    EXPECT_EQ(out.data<int32_t>()[((2 * 2 + 1) * 4 + 3) * 6 + 5], acc);
    const auto vec = runNode(spec, {randomTensor(DType::U8, {5}, 3, 0, 255), randomTensor(DType::I8, {5, 6}, 4, -128, 127)});
    EXPECT_EQ(vec[0].shape(), (Shape{6}));
    EXPECT_THROW(runNode(spec, {randomTensor(DType::U8, {2, 3}, 1, 0, 9), randomTensor(DType::I8, {4, 2}, 1, 0, 9)}), Error);
}

TEST(QLinearMatMul, RequantizesProduct) {
    // real a = [1, 2], real b = [1, 1]^T -> 3; y = 3 / 0.5 + 10 = 16.
    const std::vector<Tensor> in = {Tensor::fromVector<uint8_t>({1, 2}, {2, 4}), Tensor::scalar<float>(0.5f),
                                    Tensor::scalar<uint8_t>(0),                   Tensor::fromVector<int8_t>({2, 1}, {1, 1}),
                                    Tensor::scalar<float>(1.f),                   Tensor::scalar<int8_t>(0),
                                    Tensor::scalar<float>(0.5f),                  Tensor::scalar<uint8_t>(10)};
    NodeSpec spec{"QLinearMatMul", "", 10, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, in)[0], Tensor::fromVector<uint8_t>({1, 1}, {16})));
}

TEST(QLinearMatMul, OnednnMatchesReferenceWithPerColumnScales) {
    for (int64_t d : {1, 7, 13, 127}) {
        const std::vector<Tensor> in = {randomTensor(DType::U8, {3, d, 17}, d, 0, 256),
                                        Tensor::scalar<float>(0.02f),
                                        Tensor::scalar<uint8_t>(120),
                                        randomTensor(DType::I8, {17, d}, d + 1, -128, 128),
                                        randomTensor(DType::F32, {d}, d + 2, 0.001, 0.01),
                                        Tensor::scalar<int8_t>(3),
                                        Tensor::scalar<float>(0.05f),
                                        Tensor::scalar<int8_t>(-5)};
        NodeSpec spec{"QLinearMatMul", "", 10, {}, 1};
        spec.constantInputs = {false, true, true, true, true, true, true, true};
        const auto fast = runNode(spec, in, false, 2)[0];
        const auto ref = runNode(spec, in, true)[0];
        EXPECT_TRUE(testing::allClose(fast, ref, 0, 0)) << d;
        EXPECT_EQ(fast.dtype(), DType::I8);
    }
}

TEST(MatMulIntegerToFloat, ScalesProductAndAddsBias) {
    // (A - 1)(B - 0) * 0.5 * [1, 2] + [10, 20]; A - 1 = [[0, 1], [2, 3]], B = I.
    const std::vector<Tensor> in = {Tensor::fromVector<uint8_t>({2, 2}, {1, 2, 3, 4}), Tensor::fromVector<int8_t>({2, 2}, {1, 0, 0, 1}),
                                    Tensor::scalar<float>(0.5f), Tensor::fromVector<float>({2}, {1, 2}),
                                    Tensor::scalar<uint8_t>(1), Tensor(), Tensor::fromVector<float>({2}, {10, 20})};
    NodeSpec spec{"MatMulIntegerToFloat", "com.microsoft", 1, {}, 1};
    const auto expected = Tensor::fromVector<float>({2, 2}, {10, 21, 11, 23});
    EXPECT_TRUE(testing::allClose(runNode(spec, in)[0], expected));
    spec.constantInputs = {false, true, true, true, true, false, true};
    EXPECT_TRUE(testing::allClose(runNode(spec, in)[0], expected));
}

TEST(DynamicQuantizeMatMul, ApproximatesFloatMatMul) {
    // Per-column int8 weights; error budget: a few activation/weight quantization steps.
    constexpr double kDynamicInt8MaxAbsError = 0.05;
    for (int64_t m : {1, 7, 13}) {
        const int64_t k = 127, n = 13;
        const Tensor a = randomTensor(DType::F32, {m, k}, m, -1, 1);
        const Tensor wf = randomTensor(DType::F32, {k, n}, m + 1, -0.1, 0.1);
        const Tensor bias = randomTensor(DType::F32, {n}, m + 2);
        // Symmetric per-column quantization of the weights.
        std::vector<float> colScale(n, 0.f);
        for (int64_t i = 0; i < k * n; ++i) colScale[i % n] = std::max(colScale[i % n], std::fabs(wf.data<float>()[i]) / 127.f);
        Tensor wq(DType::I8, {k, n});
        for (int64_t i = 0; i < k * n; ++i)
            wq.data<int8_t>()[i] = static_cast<int8_t>(std::nearbyint(wf.data<float>()[i] / colScale[i % n]));
        NodeSpec spec{"DynamicQuantizeMatMul", "com.microsoft", 1, {}, 1};
        spec.constantInputs = {false, true, true, false, true};
        const std::vector<Tensor> in = {a, wq, Tensor::fromVector<float>({n}, colScale), Tensor(), bias};
        const auto fast = runNode(spec, in, false, 2)[0];
        const auto ref = runNode(spec, in, true)[0];
        EXPECT_TRUE(testing::allClose(fast, ref, 1e-5, 1e-5));
        Tensor expected(DType::F32, {m, n});
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double acc = bias.data<float>()[j];
                for (int64_t kk = 0; kk < k; ++kk) acc += a.data<float>()[i * k + kk] * wf.data<float>()[kk * n + j];
                expected.data<float>()[i * n + j] = static_cast<float>(acc);
            }
        EXPECT_LE(testing::maxAbsDiff(fast, expected), kDynamicInt8MaxAbsError);
    }
}

TEST(ConvInteger, HandComputedExample) {
    // x - 1 = 1..9 in a 3x3 plane, 2x2 ones kernel: window sums 12, 16, 24, 28.
    std::vector<uint8_t> xs(9);
    for (int i = 0; i < 9; ++i) xs[i] = static_cast<uint8_t>(i + 2);
    NodeSpec spec{"ConvInteger", "", 10, {}, 1};
    const auto out = runNode(spec, {Tensor::fromVector<uint8_t>({1, 1, 3, 3}, xs), Tensor::fromVector<uint8_t>({1, 1, 2, 2}, {1, 1, 1, 1}),
                                    Tensor::scalar<uint8_t>(1)});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<int32_t>({1, 1, 2, 2}, {12, 16, 24, 28})));
}

/// Float copy of (q - zp[channel]) for comparison with the fp32 Conv kernel.
Tensor shiftedFloat(const Tensor& q, const std::vector<int32_t>& zp) {
    Tensor f(DType::F32, q.shape());
    const auto v = q.toDoubles();
    const int64_t perChannel = q.numel() / q.dim(0);
    for (int64_t i = 0; i < q.numel(); ++i)
        f.data<float>()[i] = static_cast<float>(v[i] - zp[zp.size() == 1 ? 0 : i / perChannel]);
    return f;
}

TEST(ConvInteger, MatchesFloatConvWithGroupsStridesPadsDilations) {
    const Tensor x = randomTensor(DType::U8, {2, 4, 7, 13}, 1, 0, 256);
    const Tensor w = randomTensor(DType::I8, {6, 2, 3, 2}, 2, -128, 128);
    const std::vector<int32_t> wz = {1, -2, 3, 0, 5, -7};
    const std::vector<ir::Attribute> attrs = {attrInt("group", 2), attrInts("strides", {2, 1}), attrInts("pads", {1, 0, 2, 1}),
                                              attrInts("dilations", {1, 2})};
    NodeSpec spec{"ConvInteger", "", 10, attrs, 1};
    std::vector<int8_t> wzv(wz.begin(), wz.end());
    const auto out = runNode(spec, {x, w, Tensor::scalar<uint8_t>(9), Tensor::fromVector<int8_t>({6}, wzv)})[0];
    // Padding acts like the zero point, so the float conv of the shifted tensors pads with 0 too.
    Tensor xf = shiftedFloat(x, {9});
    NodeSpec conv{"Conv", "", 11, attrs, 1};
    const auto expected = runNode(conv, {xf, shiftedFloat(w, wz)}, true)[0];
    ASSERT_EQ(out.shape(), expected.shape());
    const auto got = out.toDoubles(), want = expected.toDoubles();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << i;
}

TEST(ConvInteger, OnednnMatchesReferenceForConstantWeights) {
    struct Case {
        Shape x, w;
        std::vector<ir::Attribute> attrs;
    };
    const std::vector<Case> cases = {
        {{1, 3, 7, 7}, {5, 3, 3, 3}, {attrInts("pads", {1, 1, 1, 1})}},
        {{2, 4, 13, 5}, {6, 2, 3, 2}, {attrInt("group", 2), attrInts("strides", {2, 1}), attrInts("pads", {1, 0, 2, 1}),
                                        attrInts("dilations", {1, 2})}},
        {{1, 16, 1, 1}, {7, 16, 1, 1}, {}},
        {{1, 2, 127}, {3, 2, 5}, {attrInts("strides", {3})}},
        {{1, 4, 5, 5}, {4, 1, 3, 3}, {attrInt("group", 4), testing::attrString("auto_pad", "SAME_UPPER")}},
    };
    uint64_t seed = 1;
    for (const Case& c : cases) {
        for (DType wt : {DType::U8, DType::I8}) {
            const double lo = wt == DType::U8 ? 0 : -128, hi = wt == DType::U8 ? 256 : 128;
            const Tensor x = randomTensor(DType::U8, c.x, seed++, 0, 256);
            const Tensor w = randomTensor(wt, c.w, seed++, lo, hi);
            const Tensor wz = randomTensor(wt, {c.w[0]}, seed++, lo, hi);
            NodeSpec spec{"ConvInteger", "", 10, c.attrs, 1};
            spec.constantInputs = {false, true, false, true};
            const std::vector<Tensor> in = {x, w, Tensor::scalar<uint8_t>(17), wz};
            EXPECT_EQ(pathOf(spec, in), "onednn");
            EXPECT_TRUE(testing::allClose(runNode(spec, in, false, 2)[0], runNode(spec, in, true)[0], 0, 0))
                << ir::shapeToString(c.x) << " * " << ir::shapeToString(c.w) << " " << ir::dtypeName(wt);
        }
    }
}

TEST(QLinearConv, OnednnMatchesReference) {
    const Tensor x = randomTensor(DType::I8, {1, 6, 9, 7}, 1, -128, 128);
    const Tensor w = randomTensor(DType::I8, {4, 3, 3, 3}, 2, -128, 128);
    const std::vector<Tensor> in = {x, Tensor::scalar<float>(0.03f), Tensor::scalar<int8_t>(-3), w,
                                    randomTensor(DType::F32, {4}, 3, 0.001, 0.01), Tensor::zeros(DType::I8, {4}),
                                    Tensor::scalar<float>(0.1f), Tensor::scalar<int8_t>(4),
                                    randomTensor(DType::I32, {4}, 4, -1000, 1000)};
    NodeSpec spec{"QLinearConv", "", 10, {attrInt("group", 2), attrInts("pads", {1, 1, 1, 1})}, 1};
    spec.constantInputs = {false, true, true, true, true, true, true, true, true};
    EXPECT_EQ(pathOf(spec, in), "onednn");
    EXPECT_TRUE(testing::allClose(runNode(spec, in, false, 2)[0], runNode(spec, in, true)[0], 0, 0));
}

TEST(ConvInteger, AutoPadSameUpperKeepsSpatialSize) {
    NodeSpec spec{"ConvInteger", "", 10, {testing::attrString("auto_pad", "SAME_UPPER")}, 1};
    const auto out = runNode(spec, {randomTensor(DType::U8, {1, 3, 7, 5}, 1, 0, 256), randomTensor(DType::U8, {2, 3, 3, 3}, 2, 0, 256)})[0];
    EXPECT_EQ(out.shape(), (Shape{1, 2, 7, 5}));
    NodeSpec badGroup{"ConvInteger", "", 10, {attrInt("group", 2)}, 1};
    EXPECT_THROW(runNode(badGroup, {randomTensor(DType::U8, {1, 3, 5, 5}, 1, 0, 9), randomTensor(DType::U8, {2, 3, 3, 3}, 2, 0, 9)}),
                 Error);
}

TEST(QLinearConv, PerChannelScalesAndBias) {
    // y = saturate(round((acc + B) * x_s * w_s[m] / y_s) + y_zp), acc from ConvInteger.
    const Tensor x = randomTensor(DType::U8, {1, 3, 5, 5}, 1, 0, 256);
    const Tensor w = randomTensor(DType::I8, {4, 3, 3, 3}, 2, -128, 128);
    const std::vector<float> ws = {0.01f, 0.002f, 0.03f, 0.004f};
    const std::vector<int32_t> bias = {100, -2000, 0, 5};
    const float xs = 0.05f, ys = 0.2f;
    const auto acc = runNode({"ConvInteger", "", 10, {}, 1}, {x, w, Tensor::scalar<uint8_t>(7)})[0];
    const auto out = runNode({"QLinearConv", "", 10, {}, 1},
                             {x, Tensor::scalar<float>(xs), Tensor::scalar<uint8_t>(7), w, Tensor::fromVector<float>({4}, ws),
                              Tensor::fromVector<int8_t>({4}, {0, 0, 0, 0}), Tensor::scalar<float>(ys),
                              Tensor::scalar<uint8_t>(128), Tensor::fromVector<int32_t>({4}, bias)})[0];
    ASSERT_EQ(out.shape(), (Shape{1, 4, 3, 3}));
    for (int64_t i = 0; i < out.numel(); ++i) {
        const int64_t m = i / 9;
        const float v = std::nearbyint(static_cast<float>(acc.data<int32_t>()[i] + bias[m]) * (xs * ws[m] / ys)) + 128.f;
        EXPECT_EQ(out.data<uint8_t>()[i], static_cast<uint8_t>(std::min(255.f, std::max(0.f, v)))) << i;
    }
}

TEST(QuantKernels, EmptyTensorsGiveEmptyOutputs) {
    EXPECT_EQ(runNode({"QuantizeLinear", "", 13, {}, 1}, {Tensor(DType::F32, {0, 3}), Tensor::scalar<float>(1.f)})[0].shape(),
              (Shape{0, 3}));
    EXPECT_EQ(runNode({"DynamicQuantizeLinear", "", 11, {}, 3}, {Tensor(DType::F32, {0})})[0].shape(), (Shape{0}));
    for (int64_t m : {0, 3}) {
        NodeSpec spec{"MatMulInteger", "", 10, {}, 1};
        spec.constantInputs = {false, true};
        const int64_t k = m == 0 ? 5 : 0; // empty M, then empty K (all-zero sums)
        const auto out = runNode(spec, {Tensor(DType::U8, {m, k}), randomTensor(DType::I8, {k, 4}, 1, -128, 128)}, false, 2)[0];
        ASSERT_EQ(out.shape(), (Shape{m, 4}));
        for (int64_t i = 0; i < out.numel(); ++i) EXPECT_EQ(out.data<int32_t>()[i], 0);
    }
    NodeSpec conv{"ConvInteger", "", 10, {}, 1};
    conv.constantInputs = {false, true};
    EXPECT_EQ(runNode(conv, {Tensor(DType::U8, {0, 2, 5, 5}), randomTensor(DType::U8, {3, 2, 3, 3}, 1, 0, 256)}, false, 2)[0].shape(),
              (Shape{0, 3, 3, 3}));
}

TEST(MatMulNBits, HandComputedFourBitBlock) {
    // K = 16, N = 1, one block: every nibble 9, default zero point 8, scale 0.5 -> w = 0.5; A = 1 -> 8.
    std::vector<uint8_t> b(8, 0x99);
    const std::vector<ir::Attribute> attrs = {attrInt("K", 16), attrInt("N", 1), attrInt("bits", 4), attrInt("block_size", 16)};
    NodeSpec spec{"MatMulNBits", "com.microsoft", 1, attrs, 1};
    const Tensor a = Tensor::fromVector<float>({1, 16}, std::vector<float>(16, 1.f));
    const std::vector<Tensor> in = {a, Tensor::fromVector<uint8_t>({1, 1, 8}, b), Tensor::fromVector<float>({1}, {0.5f})};
    EXPECT_TRUE(testing::allClose(runNode(spec, in)[0], Tensor::fromVector<float>({1, 1}, {8.f})));
    // Explicit zero point 3 (low nibble of block 0): w = (9 - 3) * 0.5 = 3 -> 48.
    std::vector<Tensor> withZp = in;
    withZp.push_back(Tensor::fromVector<uint8_t>({1}, {0x03}));
    EXPECT_TRUE(testing::allClose(runNode(spec, withZp)[0], Tensor::fromVector<float>({1, 1}, {48.f})));
}

TEST(MatMulNBits, FastMatchesReferenceForDecodeAndPrefill) {
    // K = 100 leaves a partial last block (scalar loops); K = 128 takes the whole-column SIMD path.
    for (auto [bits, k] : {std::pair<int64_t, int64_t>{4, 100}, {8, 100}, {4, 128}}) {
        const int64_t n = 13, block = 32, kBlocks = (k + block - 1) / block, blob = block * bits / 8;
        const Tensor b = randomTensor(DType::U8, {n, kBlocks, blob}, bits + k, 0, 256);
        const Tensor scales = randomTensor(DType::F32, {n * kBlocks}, bits + 1, 0.01, 0.1);
        const int64_t zpPerColumn = (kBlocks * bits + 7) / 8;
        const Tensor zeros = randomTensor(DType::U8, {n * zpPerColumn}, bits + 2, 0, 256);
        const Tensor bias = randomTensor(DType::F32, {n}, bits + 3);
        const std::vector<ir::Attribute> attrs = {attrInt("K", k), attrInt("N", n), attrInt("bits", bits), attrInt("block_size", block)};
        NodeSpec spec{"MatMulNBits", "com.microsoft", 1, attrs, 1};
        spec.constantInputs = {false, true, true, true, false, true};
        for (const Shape& aShape : {Shape{1, k}, Shape{7, k}, Shape{2, 17, k}}) {
            const std::vector<Tensor> in = {randomTensor(DType::F32, aShape, 5), b, scales, zeros, Tensor(), bias};
            const auto fast = runNode(spec, in, false, 2)[0];
            EXPECT_TRUE(testing::allClose(fast, runNode(spec, in, true)[0], 1e-4, 1e-4)) << bits << " " << ir::shapeToString(aShape);
            Shape outShape = aShape;
            outShape.back() = n;
            EXPECT_EQ(fast.shape(), outShape);
        }
    }
    NodeSpec bad{"MatMulNBits", "com.microsoft", 1, {attrInt("K", 16), attrInt("N", 1), attrInt("bits", 3), attrInt("block_size", 16)}, 1};
    EXPECT_THROW(runNode(bad, {randomTensor(DType::F32, {1, 16}, 1), Tensor(DType::U8, {1, 1, 6}), Tensor::fromVector<float>({1}, {1})}),
                 Error);
}

/// accuracy_level 4 quantizes A per block to int8 (as ONNX Runtime does): output error relative to the
/// output's RMS.
constexpr double kNBitsInt8ActivationMaxRelError = 2e-2;

TEST(MatMulNBits, ChunkPathsMatchReferenceOnDecodeShapes) {
    // K a multiple of 64 with 4/8-bit blocks of 32, 64, 128 takes the AVX-512 chunk-order paths (fp32,
    // and int8 VNNI at accuracy_level 4) where the CPU has them, the AVX2 path elsewhere.
    for (int64_t bits : {4, 8})
    for (auto [k, block] : {std::pair<int64_t, int64_t>{128, 32}, {192, 32}, {192, 64}, {256, 128}})
        for (int64_t n : {1, 7, 13})
            for (bool zp : {false, true})
                for (int64_t level : {0, 4}) {
                    const int64_t kBlocks = k / block, blob = block * bits / 8;
                    const Tensor b = randomTensor(DType::U8, {n, kBlocks, blob}, k + n, 0, 256);
                    const Tensor scales = randomTensor(DType::F32, {n * kBlocks}, k + 1, 0.01, 0.1);
                    const Tensor zeros = randomTensor(DType::U8, {n * ((kBlocks * bits + 7) / 8)}, k + 2, 0, 256);
                    const std::vector<ir::Attribute> attrs = {attrInt("K", k), attrInt("N", n), attrInt("bits", bits),
                                                              attrInt("block_size", block), attrInt("accuracy_level", level)};
                    NodeSpec spec{"MatMulNBits", "com.microsoft", 1, attrs, 1};
                    spec.constantInputs = {false, true, true, true};
                    for (const Shape& aShape : {Shape{1, k}, Shape{3, k}}) {
                        std::vector<Tensor> in = {randomTensor(DType::F32, aShape, 5), b, scales};
                        if (zp) in.push_back(zeros);
                        const auto fast = runNode(spec, in, false, 2)[0];
                        const auto ref = runNode(spec, in, true)[0];
                        const std::string what = "bits " + std::to_string(bits) + " k " + std::to_string(k) + " block " + std::to_string(block) + " n " +
                                                 std::to_string(n) + " zp " + std::to_string(zp) + " level " +
                                                 std::to_string(level) + " rows " + std::to_string(aShape[0]);
                        if (level == 0) {
                            EXPECT_TRUE(testing::allClose(fast, ref, 1e-4, 1e-4)) << what;
                            continue;
                        }
                        double err = 0, rms = 0;
                        for (int64_t i = 0; i < ref.numel(); ++i) {
                            const double d = fast.data<float>()[i] - ref.data<float>()[i];
                            err += d * d;
                            rms += static_cast<double>(ref.data<float>()[i]) * ref.data<float>()[i];
                        }
                        EXPECT_LE(std::sqrt(err / std::max(rms, 1e-30)), kNBitsInt8ActivationMaxRelError) << what;
                    }
                }
}

} // namespace
} // namespace opstudio
