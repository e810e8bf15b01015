// Conv / ConvTranspose / FusedConv: oneDNN fast path against the plain-loop reference on odd
// shapes (channels 1, 3, 7, 13; spatial 1, 7, 13; kernels 1, 3, 5; strides, dilations,
// asymmetric pads, groups, depthwise, auto_pad), plus hand-checked values and error paths.
#include "support/test_util.h"

#include "opstudio/ir/half.h"
#include "opstudio/runtime/session.h"
#include "opstudio/util/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

// NodeSpec literals below leave trailing fields (outputs, constantInputs) at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::allClose;
using testing::attrFloats;
using testing::attrInt;
using testing::attrInts;
using testing::attrString;
using testing::NodeSpec;
using testing::randomTensor;
using testing::runNode;

// fp32 sums of up to ~13*5*5*5 products in a different order than the double-accumulating reference.
constexpr double kConvAtol = 2e-4;
constexpr double kConvRtol = 1e-4;

struct ConvCase {
    std::vector<int64_t> x, w;
    std::vector<ir::Attribute> attrs;
    bool bias = true;
};

/// Runs fast (constant weights, packed) and reference, compares; also the fast path with
/// weights fed at run time (reordered per call).
void expectFastMatchesReference(const std::string& op, const ConvCase& c, int64_t outChannels,
                                uint64_t seed) {
    const Tensor x = randomTensor(DType::F32, c.x, seed);
    const Tensor w = randomTensor(DType::F32, c.w, seed + 1);
    std::vector<Tensor> inputs{x, w};
    if (c.bias) inputs.push_back(randomTensor(DType::F32, {outChannels}, seed + 2));
    NodeSpec spec{op, "", 17, c.attrs, 1, {false, true, true}};
    const auto ref = runNode(spec, inputs, /*reference=*/true);
    const auto fast = runNode(spec, inputs, /*reference=*/false);
    ASSERT_EQ(ref.size(), 1u);
    EXPECT_TRUE(allClose(fast[0], ref[0], kConvAtol, kConvRtol))
        << op << " x " << ir::shapeToString(c.x) << " w " << ir::shapeToString(c.w);
    spec.constantInputs = {};
    const auto fastFed = runNode(spec, inputs, /*reference=*/false, /*threads=*/2);
    EXPECT_TRUE(allClose(fastFed[0], ref[0], kConvAtol, kConvRtol))
        << op << " (fed weights) x " << ir::shapeToString(c.x) << " w " << ir::shapeToString(c.w);
}

TEST(Conv, ReferenceMatchesHandComputed) {
    // 1x1x3x3 input 1..9, 2x2 kernel of ones, no pads: sums of each 2x2 window.
    const Tensor x = Tensor::fromVector<float>({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    const Tensor w = Tensor::fromVector<float>({1, 1, 2, 2}, {1, 1, 1, 1});
    const Tensor b = Tensor::fromVector<float>({1}, {0.5f});
    const Tensor expected = Tensor::fromVector<float>({1, 1, 2, 2}, {12.5f, 16.5f, 24.5f, 28.5f});
    for (bool reference : {true, false}) {
        const auto y = runNode({"Conv", "", 11, {}, 1, {false, true, true}}, {x, w, b}, reference);
        EXPECT_TRUE(allClose(y[0], expected)) << (reference ? "reference" : "fast");
    }
}

TEST(Conv, FastMatchesReferenceOnOddShapes) {
    uint64_t seed = 100;
    for (int64_t c : {1, 3, 7, 13})
        for (int64_t hw : {1, 7, 13})
            for (int64_t k : {1, 3, 5}) {
                if (k > hw + 2) continue; // kernel must fit the padded input
                const int64_t m = c == 1 ? 3 : c + 2;
                ConvCase cc{{2, c, hw, hw}, {m, c, k, k}, {attrInts("pads", {1, 0, 1, 2})}};
                expectFastMatchesReference("Conv", cc, m, seed += 3);
            }
}

TEST(Conv, FastMatchesReferenceWithStridesDilationsAndAsymmetricPads) {
    const ConvCase cases[] = {
        {{1, 3, 13, 13}, {7, 3, 3, 3}, {attrInts("strides", {2, 2})}},
        {{1, 7, 13, 13}, {5, 7, 3, 3}, {attrInts("dilations", {2, 2}), attrInts("pads", {2, 1, 0, 3})}},
        {{2, 13, 7, 13},
         {13, 13, 5, 3},
         {attrInts("strides", {2, 1}), attrInts("dilations", {1, 2}), attrInts("pads", {0, 2, 3, 1})}},
        {{1, 3, 13, 7}, {7, 3, 1, 1}, {attrInts("strides", {2, 2})}, false},
    };
    uint64_t seed = 300;
    for (const auto& c : cases)
        expectFastMatchesReference("Conv", c, c.w[0], seed += 3);
}

TEST(Conv, FastMatchesReferencePointwise) {
    // 1x1 / stride 1 / no pads runs on plain layouts (a GEMM); 1-D, 2-D and 3-D.
    const ConvCase cases[] = {
        {{2, 13, 7, 7}, {7, 13, 1, 1}, {}},     {{1, 1, 13, 13}, {3, 1, 1, 1}, {}, false},
        {{1, 127, 1, 1}, {13, 127, 1, 1}, {}},  {{2, 7, 13}, {5, 7, 1}, {}},
        {{1, 3, 5, 7, 7}, {4, 3, 1, 1, 1}, {}},
    };
    uint64_t seed = 1300;
    for (const auto& c : cases)
        expectFastMatchesReference("Conv", c, c.w[0], seed += 3);
}

TEST(Conv, FastMatchesReferenceGroupedAndDepthwise) {
    const ConvCase cases[] = {
        {{1, 6, 13, 13}, {9, 2, 3, 3}, {attrInt("group", 3), attrInts("pads", {1, 1, 1, 1})}},
        {{2, 7, 13, 13}, {7, 1, 3, 3}, {attrInt("group", 7), attrInts("pads", {1, 1, 1, 1})}}, // depthwise
        {{1, 13, 13, 13},
         {26, 1, 5, 5},
         {attrInt("group", 13), attrInts("strides", {2, 2}), attrInts("pads", {2, 2, 2, 2})}}, // multiplier 2
        {{1, 4, 7, 7}, {4, 1, 3, 3}, {attrInt("group", 4), attrInts("dilations", {2, 2})}, false},
    };
    uint64_t seed = 500;
    for (const auto& c : cases)
        expectFastMatchesReference("Conv", c, c.w[0], seed += 3);
}

TEST(Conv, FastMatchesReferenceWithAutoPad) {
    uint64_t seed = 700;
    for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"})
        for (int64_t stride : {1, 2}) {
            ConvCase c{{1, 3, 13, 7},
                       {5, 3, 4, 3},
                       {attrString("auto_pad", mode), attrInts("strides", {stride, stride})}};
            expectFastMatchesReference("Conv", c, 5, seed += 3);
        }
}

TEST(Conv, SameUpperAndLowerDifferInPadPlacement) {
    // Even kernel, stride 1: total pad 1 goes to the end (UPPER) or the start (LOWER).
    const Tensor x = Tensor::fromVector<float>({1, 1, 1, 3}, {1, 2, 3});
    const Tensor w = Tensor::fromVector<float>({1, 1, 1, 2}, {1, 10});
    const auto upper = runNode({"Conv", "", 11, {attrString("auto_pad", "SAME_UPPER")}}, {x, w});
    const auto lower = runNode({"Conv", "", 11, {attrString("auto_pad", "SAME_LOWER")}}, {x, w});
    EXPECT_TRUE(allClose(upper[0], Tensor::fromVector<float>({1, 1, 1, 3}, {21, 32, 3})));
    EXPECT_TRUE(allClose(lower[0], Tensor::fromVector<float>({1, 1, 1, 3}, {10, 21, 32})));
}

TEST(Conv, FastMatchesReferenceIn1dAnd3d) {
    const ConvCase cases[] = {
        {{2, 3, 13}, {7, 3, 3}, {attrInts("pads", {1, 2}), attrInts("strides", {2})}},
        {{1, 4, 7}, {4, 2, 5}, {attrInt("group", 2), attrInts("dilations", {2}), attrInts("pads", {3, 1})}},
        {{1, 3, 7, 7, 7}, {5, 3, 3, 3, 3}, {attrInts("pads", {1, 0, 1, 0, 2, 1})}},
        {{1, 2, 5, 7, 7}, {4, 1, 3, 1, 3}, {attrInt("group", 2), attrInts("strides", {2, 1, 2})}, false},
    };
    uint64_t seed = 900;
    for (const auto& c : cases)
        expectFastMatchesReference("Conv", c, c.w[0], seed += 3);
}

TEST(Conv, ReportsOnednnPathForFloatModels) {
    NodeSpec spec{"Conv", "", 17, {}, 1, {false, true}};
    auto model = std::make_shared<ir::Model>(testing::makeNodeModel(
        spec, {randomTensor(DType::F32, {1, 3, 7, 7}, 1), randomTensor(DType::F32, {4, 3, 3, 3}, 2)}));
    auto session = rt::Session::create(model, {});
    ASSERT_TRUE(session.ok()) << session.error().describe();
    EXPECT_EQ(session.value()->kernelPath(model->graph->order()[0]), "onednn");
}

TEST(Conv, DoubleUsesReference) {
    const Tensor x = randomTensor(DType::F64, {1, 2, 5, 5}, 3);
    const Tensor w = randomTensor(DType::F64, {3, 2, 3, 3}, 4);
    const auto a = runNode({"Conv", "", 17, {}}, {x, w}, false);
    const auto b = runNode({"Conv", "", 17, {}}, {x, w}, true);
    EXPECT_TRUE(allClose(a[0], b[0], 1e-12, 1e-12));
    EXPECT_EQ(a[0].shape(), (std::vector<int64_t>{1, 3, 3, 3}));
}

TEST(Conv, Float16ComputesInFloat) {
    const Tensor x = randomTensor(DType::F32, {1, 3, 7, 7}, 3);
    const Tensor w = randomTensor(DType::F32, {4, 3, 3, 3}, 4);
    auto half = [](const Tensor& t) {
        Tensor out(DType::F16, t.shape());
        for (int64_t i = 0; i < t.numel(); ++i)
            out.data<uint16_t>()[i] = ir::floatToHalf(t.data<float>()[i]);
        return out;
    };
    auto widen = [](const Tensor& t) {
        Tensor out(DType::F32, t.shape());
        for (int64_t i = 0; i < t.numel(); ++i)
            out.data<float>()[i] = ir::halfToFloat(t.data<uint16_t>()[i]);
        return out;
    };
    const Tensor xh = half(x), wh = half(w);
    const Tensor expected = runNode({"Conv", "", 17, {}}, {widen(xh), widen(wh)}, true)[0];
    for (bool reference : {true, false}) {
        const auto y = runNode({"Conv", "", 17, {}, 1, {false, true}}, {xh, wh}, reference);
        ASSERT_EQ(y[0].dtype(), DType::F16);
        EXPECT_TRUE(allClose(widen(y[0]), expected, 1e-2, 1e-2));
    }
}

TEST(Conv, EmptyBatchGivesEmptyOutput) {
    const auto y = runNode({"Conv", "", 17, {}, 1, {false, true}},
                           {Tensor(DType::F32, {0, 3, 7, 7}), randomTensor(DType::F32, {4, 3, 3, 3}, 5)});
    EXPECT_EQ(y[0].shape(), (std::vector<int64_t>{0, 4, 5, 5}));
}

TEST(Conv, BadShapesThrowErrors) {
    const Tensor x = randomTensor(DType::F32, {1, 3, 7, 7}, 1);
    // Channel mismatch.
    EXPECT_THROW(runNode({"Conv", "", 17, {}}, {x, randomTensor(DType::F32, {4, 2, 3, 3}, 2)}), Error);
    // Kernel larger than the input.
    EXPECT_THROW(runNode({"Conv", "", 17, {}}, {x, randomTensor(DType::F32, {4, 3, 9, 9}, 2)}), Error);
    // Wrong number of pads.
    EXPECT_THROW(
        runNode({"Conv", "", 17, {attrInts("pads", {1, 1})}}, {x, randomTensor(DType::F32, {4, 3, 3, 3}, 2)}),
        Error);
    // Rank-2 input.
    EXPECT_THROW(runNode({"Conv", "", 17, {}},
                         {randomTensor(DType::F32, {3, 7}, 1), randomTensor(DType::F32, {4, 3}, 2)}),
                 Error);
    // Bias of the wrong length.
    EXPECT_THROW(runNode({"Conv", "", 17, {}},
                         {x, randomTensor(DType::F32, {4, 3, 3, 3}, 2), randomTensor(DType::F32, {3}, 3)}),
                 Error);
}

// ---------------------------------------------------------------------------------------------
// ConvTranspose

TEST(ConvTranspose, FastMatchesReference) {
    const ConvCase cases[] = {
        {{1, 3, 7, 7}, {3, 5, 3, 3}, {}},
        {{2, 7, 5, 7}, {7, 3, 3, 3}, {attrInts("strides", {2, 2}), attrInts("pads", {1, 0, 0, 1})}},
        {{1, 4, 7, 7},
         {4, 3, 3, 3},
         {attrInt("group", 2), attrInts("strides", {2, 2}), attrInts("output_padding", {1, 1})}},
        {{1, 3, 7, 13},
         {3, 2, 5, 3},
         {attrInts("dilations", {2, 1}), attrInts("strides", {3, 2}), attrInts("output_padding", {2, 0})}},
        {{1, 13, 7}, {13, 1, 3}, {attrInt("group", 13), attrInts("strides", {2})}, false},
        {{1, 2, 3, 4, 5},
         {2, 3, 3, 3, 3},
         {attrInts("strides", {1, 2, 2}), attrInts("pads", {1, 1, 0, 0, 1, 1})}},
        {{1, 3, 7, 7}, {3, 4, 3, 3}, {attrString("auto_pad", "SAME_UPPER"), attrInts("strides", {2, 2})}},
        {{1, 3, 7, 7}, {3, 4, 3, 3}, {attrString("auto_pad", "SAME_LOWER"), attrInts("strides", {2, 2})}},
        {{1, 3, 3, 3}, {3, 2, 3, 3}, {attrInts("output_shape", {10, 8}), attrInts("strides", {3, 2})}},
    };
    uint64_t seed = 1100;
    for (const auto& c : cases) {
        const int64_t groups = [&] {
            for (const auto& a : c.attrs)
                if (a.name == "group") return a.i;
            return int64_t{1};
        }();
        expectFastMatchesReference("ConvTranspose", c, c.w[1] * groups, seed += 3);
    }
}

TEST(ConvTranspose, ReferenceMatchesHandComputed) {
    // 1-D, stride 2: each input spreads the kernel [1, 2] at 2*i.
    const Tensor x = Tensor::fromVector<float>({1, 1, 3}, {1, 2, 3});
    const Tensor w = Tensor::fromVector<float>({1, 1, 2}, {1, 2});
    const auto y = runNode({"ConvTranspose", "", 17, {attrInts("strides", {2})}}, {x, w}, true);
    EXPECT_TRUE(allClose(y[0], Tensor::fromVector<float>({1, 1, 6}, {1, 2, 2, 4, 3, 6})));
}

TEST(ConvTranspose, BadWeightsThrow) {
    EXPECT_THROW(runNode({"ConvTranspose", "", 17, {}}, {randomTensor(DType::F32, {1, 3, 5, 5}, 1),
                                                         randomTensor(DType::F32, {2, 3, 3, 3}, 2)}),
                 Error);
}

// ---------------------------------------------------------------------------------------------
// FusedConv (com.microsoft)

TEST(FusedConv, EqualsConvThenActivation) {
    // 3x3 with pads (oneDNN post-op) and pointwise 1x1 on odd shapes (plain gemm conv; the cheap
    // activations are applied after the primitive there).
    for (const int64_t k : {3, 1}) {
        const Tensor x = randomTensor(DType::F32, {1, 7, 13, 13}, 21);
        const Tensor w = randomTensor(DType::F32, {5, 7, k, k}, 22);
        const Tensor b = randomTensor(DType::F32, {5}, 23);
        const int64_t pad = k / 2;
        const auto conv =
            runNode({"Conv", "", 17, {attrInts("pads", {pad, pad, pad, pad})}}, {x, w, b}, true)[0];
        struct Act {
            const char* name;
            std::vector<float> params;
            float (*f)(float);
        };
        const Act acts[] = {
            {"Relu", {}, [](float v) { return v > 0 ? v : 0.f; }},
            {"LeakyRelu", {0.1f}, [](float v) { return v >= 0 ? v : 0.1f * v; }},
            {"Sigmoid", {}, [](float v) { return 1.f / (1.f + std::exp(-v)); }},
            {"Tanh", {}, [](float v) { return std::tanh(v); }},
            {"Clip", {-0.5f, 0.5f}, [](float v) { return std::min(0.5f, std::max(-0.5f, v)); }},
            {"HardSigmoid",
             {0.2f, 0.5f},
             [](float v) { return std::min(1.f, std::max(0.f, 0.2f * v + 0.5f)); }},
        };
        for (const auto& act : acts) {
            Tensor expected = conv.clone();
            for (float& v : expected.span<float>())
                v = act.f(v);
            std::vector<ir::Attribute> attrs{attrInts("pads", {pad, pad, pad, pad}),
                                             attrString("activation", act.name)};
            if (!act.params.empty()) attrs.push_back(attrFloats("activation_params", act.params));
            for (bool reference : {true, false}) {
                const auto y = runNode({"FusedConv", "com.microsoft", 1, attrs, 1, {false, true, true}},
                                       {x, w, b}, reference);
                EXPECT_TRUE(allClose(y[0], expected, kConvAtol, kConvRtol))
                    << act.name << " k" << k << (reference ? " reference" : " fast");
            }
        }
    }
}

TEST(FusedConv, AddsSumInputBeforeActivation) {
    const Tensor x = randomTensor(DType::F32, {1, 3, 7, 7}, 31);
    for (const int64_t k : {3, 1}) { // 1x1: the activation runs after oneDNN's sum post-op
        const Tensor w = randomTensor(DType::F32, {16, 3, k, k}, 32);
        const Tensor b = randomTensor(DType::F32, {16}, 33);
        const int64_t o = 7 - k + 1;
        const Tensor z = randomTensor(DType::F32, {1, 16, o, o}, 34);
        Tensor expected = runNode({"Conv", "", 17, {}}, {x, w, b}, true)[0].clone();
        const float* zd = z.data<float>();
        float* e = expected.data<float>();
        for (int64_t i = 0; i < expected.numel(); ++i)
            e[i] = std::max(0.f, e[i] + zd[i]);
        for (bool reference : {true, false}) {
            const auto y = runNode(
                {"FusedConv", "com.microsoft", 1, {attrString("activation", "Relu")}, 1, {false, true, true}},
                {x, w, b, z}, reference);
            EXPECT_TRUE(allClose(y[0], expected, kConvAtol, kConvRtol))
                << "k" << k << (reference ? " reference" : " fast");
        }
    }
}

TEST(FusedConv, UnknownActivationFails) {
    EXPECT_THROW(
        runNode({"FusedConv", "com.microsoft", 1, {attrString("activation", "Swish")}},
                {randomTensor(DType::F32, {1, 1, 3, 3}, 1), randomTensor(DType::F32, {1, 1, 1, 1}, 2)}),
        Error);
}

} // namespace
} // namespace opstudio
