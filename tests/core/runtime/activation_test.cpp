// Activation kernels: Eigen fast path vs scalar reference on odd shapes, hand-checked formulas,
// Clip's three generations of bounds, PRelu slope broadcasting, and the ONNX node cases on both paths.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include <cctype>
#include <cmath>
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

// Eigen's vectorised exp/tanh/logistic differ from libm by a few float ulps.
constexpr double kEigenVsLibmAtol = 2e-6;

TEST(Activation, FastMatchesReferenceOnOddShapes) {
    struct Case {
        const char* op;
        std::vector<ir::Attribute> attrs;
        int64_t opset;
    };
    const std::vector<Case> cases = {
        {"Relu", {}, 14},
        {"LeakyRelu", {testing::attrFloat("alpha", 0.1f)}, 16},
        {"Elu", {testing::attrFloat("alpha", 0.7f)}, 6},
        {"Selu", {}, 6},
        {"Celu", {testing::attrFloat("alpha", 2.f)}, 12},
        {"ThresholdedRelu", {testing::attrFloat("alpha", 0.3f)}, 10},
        {"Sigmoid", {}, 13},
        {"HardSigmoid", {testing::attrFloat("alpha", 0.3f), testing::attrFloat("beta", 0.4f)}, 6},
        {"HardSwish", {}, 14},
        {"Tanh", {}, 13},
        {"Softplus", {}, 1},
        {"Softsign", {}, 1},
        {"Shrink", {testing::attrFloat("lambd", 0.4f), testing::attrFloat("bias", 0.1f)}, 9},
        {"Clip", {}, 13},
    };
    for (const Shape& shape : {Shape{}, Shape{1}, Shape{7}, Shape{13, 127}, Shape{0, 5}, Shape{2, 17011}}) {
        // Wide range so both sides of every kink and the softplus overflow guard are hit.
        const Tensor x = testing::randomTensor(DType::F32, shape, 5, -30.0, 30.0);
        for (const auto& c : cases) {
            const Tensor ref = runOne(c.op, {x}, true, 1, c.attrs, c.opset);
            for (int threads : {1, 2}) {
                if (threads == 2 && x.numel() < 32768) continue; // no parallel split below that
                const Tensor fast = runOne(c.op, {x}, false, threads, c.attrs, c.opset);
                EXPECT_TRUE(testing::allClose(fast, ref, kEigenVsLibmAtol, 1e-5))
                    << c.op << " " << ir::shapeToString(shape) << " threads=" << threads;
            }
        }
    }
}

TEST(Activation, FormulasAtKnownPoints) {
    const Tensor x = Tensor::fromVector<float>({5}, {-2.f, -0.5f, 0.f, 0.5f, 2.f});
    for (bool reference : {false, true}) {
        EXPECT_TRUE(testing::allClose(runOne("Relu", {x}, reference), Tensor::fromVector<float>({5}, {0, 0, 0, 0.5f, 2})));
        EXPECT_TRUE(testing::allClose(runOne("LeakyRelu", {x}, reference),
                                      Tensor::fromVector<float>({5}, {-0.02f, -0.005f, 0, 0.5f, 2})));
        EXPECT_TRUE(testing::allClose(
            runOne("HardSwish", {x}, reference),
            Tensor::fromVector<float>({5}, {-2.f * (1.f / 6.f), -0.5f * (5.f / 12.f), 0, 0.5f * (7.f / 12.f), 2.f * (5.f / 6.f)})));
        EXPECT_TRUE(testing::allClose(runOne("Shrink", {x}, reference, 1, {testing::attrFloat("bias", 0.5f)}, 9),
                                      Tensor::fromVector<float>({5}, {-1.5f, 0, 0, 0, 1.5f})));
        const Tensor sp = runOne("Softplus", {Tensor::fromVector<float>({2}, {100.f, -100.f})}, reference);
        EXPECT_NEAR(sp.data<float>()[0], 100.f, 1e-4); // log(1 + e^100) without overflowing e^100
        EXPECT_NEAR(sp.data<float>()[1], 0.f, 1e-30);
    }
}

TEST(Activation, SigmoidAndTanhAccurateAtExtremes) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> xs = {-inf, -120.f, -100.f, -88.5f, -87.f, -20.f, -8.f, -7.9f, -1.f, -1e-5f, -0.f, 0.f,
                             1e-7f, 3.9e-4f, 4.1e-4f, 0.3f, 0.625f, 5.f, 7.95f, 20.f, 88.f, 100.f, inf};
    for (int i = 0; i < 2000; ++i) xs.push_back(-25.f + 0.025f * static_cast<float>(i)); // dense sweep
    const Tensor x = Tensor::fromVector<float>({static_cast<int64_t>(xs.size())}, xs);
    const Tensor s = runOne("Sigmoid", {x}, false);
    const Tensor t = runOne("Tanh", {x}, false);
    for (size_t i = 0; i < xs.size(); ++i) {
        const double v = xs[i];
        const double wantS = 1.0 / (1.0 + std::exp(-v));
        const double wantT = std::tanh(v);
        EXPECT_NEAR(s.data<float>()[i], wantS, 1e-7 + 4e-7 * wantS) << "sigmoid(" << v << ")";
        EXPECT_NEAR(t.data<float>()[i], wantT, 1e-7 + 4e-7 * std::fabs(wantT)) << "tanh(" << v << ")";
    }
    const Tensor nan = Tensor::fromVector<float>({1}, {std::nanf("")});
    EXPECT_TRUE(std::isnan(runOne("Sigmoid", {nan}, false).data<float>()[0]));
    EXPECT_TRUE(std::isnan(runOne("Tanh", {nan}, false).data<float>()[0]));
}

TEST(ActivationClip, BoundsFromAttributesBeforeOpset11) {
    const Tensor x = Tensor::fromVector<float>({4}, {-3, -1, 1, 3});
    const std::vector<ir::Attribute> attrs = {testing::attrFloat("min", -2.f), testing::attrFloat("max", 2.f)};
    for (bool reference : {false, true}) {
        EXPECT_EQ(runOne("Clip", {x}, reference, 1, attrs, 6).toDoubles(), (std::vector<double>{-2, -1, 1, 2}));
        // Opset 6 defaults are +-FLT_MAX: no clipping.
        EXPECT_EQ(runOne("Clip", {x}, reference, 1, {}, 6).toDoubles(), (std::vector<double>{-3, -1, 1, 3}));
    }
}

TEST(ActivationClip, BoundsFromOptionalInputsFromOpset11) {
    const Tensor x = Tensor::fromVector<float>({4}, {-3, -1, 1, 3});
    for (bool reference : {false, true}) {
        // Attributes are ignored from opset 11.
        EXPECT_EQ(runOne("Clip", {x}, reference, 1, {testing::attrFloat("min", 0.f)}, 11).toDoubles(),
                  (std::vector<double>{-3, -1, 1, 3}));
        EXPECT_EQ(runOne("Clip", {x, Tensor::scalar<float>(-2.f), Tensor::scalar<float>(2.f)}, reference, 1, {}, 11).toDoubles(),
                  (std::vector<double>{-2, -1, 1, 2}));
        // Only max given: min omitted as an empty input name.
        EXPECT_EQ(runOne("Clip", {x, Tensor(), Tensor::scalar<float>(0.f)}, reference, 1, {}, 13).toDoubles(),
                  (std::vector<double>{-3, -1, 0, 0}));
    }
}

TEST(ActivationClip, IntegerInputsFromOpset12) {
    const Tensor x = Tensor::fromVector<int8_t>({4}, {-100, -1, 1, 100});
    for (bool reference : {false, true}) {
        EXPECT_EQ(runOne("Clip", {x, Tensor::scalar<int8_t>(-5), Tensor::scalar<int8_t>(5)}, reference, 1, {}, 13).toInt64s(),
                  (std::vector<int64_t>{-5, -1, 1, 5}));
        EXPECT_EQ(runOne("Clip", {x}, reference, 1, {}, 12).toInt64s(), (std::vector<int64_t>{-100, -1, 1, 100}));
    }
    EXPECT_THROW(runOne("Clip", {x}, false, 1, {}, 11), Error);
}

TEST(ActivationPRelu, SlopeBroadcastsPerChannelAndFull) {
    const Tensor x = testing::randomTensor(DType::F32, {2, 13, 7, 5}, 41);
    for (const Shape& slopeShape : {Shape{13, 1, 1}, Shape{1}, Shape{5}, Shape{7, 5}, Shape{2, 13, 7, 5}, Shape{13, 7, 1}}) {
        const Tensor slope = testing::randomTensor(DType::F32, slopeShape, 42, 0.0, 0.5);
        const Tensor ref = runOne("PRelu", {x, slope}, true);
        for (int threads : {1, 2}) EXPECT_TRUE(testing::allClose(runOne("PRelu", {x, slope}, false, threads), ref));
        // Check one negative element against the formula directly (per-channel case).
        if (slopeShape == Shape{13, 1, 1}) {
            const float* px = x.data<float>();
            for (int64_t i = 0; i < x.numel(); ++i) {
                const int64_t c = (i / 35) % 13;
                const float want = px[i] < 0 ? slope.data<float>()[c] * px[i] : px[i];
                ASSERT_FLOAT_EQ(ref.data<float>()[i], want);
            }
        }
    }
    const Tensor big = testing::randomTensor(DType::F32, {4, 64, 16, 16}, 43);
    const Tensor slope = testing::randomTensor(DType::F32, {64, 1, 1}, 44);
    EXPECT_TRUE(testing::allClose(runOne("PRelu", {big, slope}, false, 2), runOne("PRelu", {big, slope}, true)));
    EXPECT_THROW(runOne("PRelu", {x, testing::randomTensor(DType::F32, {3}, 1)}, false), Error);
}

TEST(Activation, UnsupportedDtypeFailsCleanly) {
    const Tensor x = Tensor::fromVector<int32_t>({2}, {1, -1});
    EXPECT_THROW(runOne("Sigmoid", {x}, false), Error);
    EXPECT_THROW(runOne("Relu", {x}, false, 1, {}, 13), Error);
    EXPECT_EQ(runOne("Relu", {x}, false, 1, {}, 14).toInt64s(), (std::vector<int64_t>{1, 0}));
}

TEST(Activation, FastPathIsReportedAsEigen) {
    NodeSpec spec;
    spec.opType = "Sigmoid";
    const Tensor x = testing::randomTensor(DType::F32, {7}, 1);
    for (bool reference : {false, true}) {
        rt::SessionOptions options;
        options.reference = reference;
        auto session = rt::Session::create(std::make_shared<ir::Model>(testing::makeNodeModel(spec, {x})), options);
        ASSERT_TRUE(session.ok());
        const ir::Graph& g = *session.value()->model().graph;
        EXPECT_EQ(session.value()->kernelPath(g.order().at(0)), reference ? "reference" : "eigen");
    }
}

TEST(ActivationNodeCases, BothPathsPass) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
    const std::vector<std::string> ops = {"relu", "leakyrelu", "prelu", "elu", "selu", "celu", "thresholdedrelu",
                                          "clip", "sigmoid", "hardsigmoid", "hardswish", "tanh", "softplus",
                                          "softsign", "shrink"};
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        bool mine = false;
        for (const auto& op : ops) {
            const std::string p = "test_" + op;
            if (name.rfind(p, 0) == 0 && (name.size() == p.size() || name[p.size()] == '_')) mine = true;
        }
        if (!mine) continue;
        for (bool reference : {false, true}) {
            testing::CaseOptions options;
            options.reference = reference;
            const auto r = testing::runOnnxCase(dir, options);
            EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << (reference ? " (reference)" : "") << ": " << r.message;
        }
        ++ran;
    }
    EXPECT_GT(ran, 40);
}

} // namespace
} // namespace opstudio
