// Misc, detection and signal kernels: hand-computed values and clear failures on hostile input.
#include "support/test_util.h"

#include <cmath>
#include <numbers>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrFloat;
using testing::attrInt;
using testing::attrString;
using testing::NodeSpec;
using testing::runNode;

/// NodeSpec for a default-domain op (spelled out so every field is initialised).
NodeSpec makeSpec(const std::string& op, int64_t opset, std::vector<ir::Attribute> attrs = {},
                  int outputs = 1) {
    NodeSpec s;
    s.opType = op;
    s.opset = opset;
    s.attributes = std::move(attrs);
    s.outputs = outputs;
    return s;
}

std::vector<int64_t> ints(const Tensor& t) {
    return t.toInt64s();
}

// ---- misc ----------------------------------------------------------------------------------

TEST(Lrn, NormalizesOverNeighbouringChannels) {
    // C = 2, size 3: every channel's window holds both channels, sum of squares 3^2 + 4^2 = 25.
    // y = x / (1 + 0.3 / 3 * 25)^0.5 = x / sqrt(3.5)
    const Tensor x = Tensor::fromVector<float>({1, 2, 1, 1}, {3.f, 4.f});
    const NodeSpec spec = makeSpec(
        "LRN", 13,
        {attrInt("size", 3), attrFloat("alpha", 0.3f), attrFloat("beta", 0.5f), attrFloat("bias", 1.f)});
    const float s = std::sqrt(3.5f);
    EXPECT_TRUE(testing::allClose(runNode(spec, {x})[0],
                                  Tensor::fromVector<float>({1, 2, 1, 1}, {3.f / s, 4.f / s})));
}

TEST(Det, ComputesBatchedDeterminantsWithPivoting) {
    // [[0, 1], [2, 3]] needs a row swap: det = -2. [[2, 0, 0], ...] diagonal.
    const Tensor a = Tensor::fromVector<float>({2, 2, 2}, {0, 1, 2, 3, 4, 0, 0, 0.5f});
    const NodeSpec spec = makeSpec("Det", 13, {});
    EXPECT_TRUE(testing::allClose(runNode(spec, {a})[0], Tensor::fromVector<float>({2}, {-2.f, 2.f})));
}

TEST(Det, RejectsNonSquareMatrices) {
    const NodeSpec spec = makeSpec("Det", 13, {});
    EXPECT_THROW(runNode(spec, {Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6})}), Error);
}

TEST(ReverseSequence, ReversesPrefixPerBatch) {
    // batch_axis 0, time_axis 1: row b reverses its first lens[b] entries.
    const Tensor x = Tensor::fromVector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor lens = Tensor::fromVector<int64_t>({2}, {2, 3});
    const NodeSpec spec =
        makeSpec("ReverseSequence", 10, {attrInt("batch_axis", 0), attrInt("time_axis", 1)});
    EXPECT_EQ(ints(runNode(spec, {x, lens})[0]), (std::vector<int64_t>{2, 1, 3, 6, 5, 4}));
}

TEST(ReverseSequence, RejectsTooLongSequence) {
    const Tensor x = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
    const Tensor lens = Tensor::fromVector<int64_t>({2}, {3, 1});
    const NodeSpec spec = makeSpec("ReverseSequence", 10, {});
    EXPECT_THROW(runNode(spec, {x, lens}), Error);
}

TEST(Unique, SortedFlatOutputsAllFour) {
    const Tensor x = Tensor::fromVector<float>({6}, {2, 1, 1, 3, 4, 3});
    const NodeSpec spec = makeSpec("Unique", 11, {}, 4);
    const auto out = runNode(spec, {x});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({4}, {1, 2, 3, 4})));
    EXPECT_EQ(ints(out[1]), (std::vector<int64_t>{1, 0, 3, 4}));
    EXPECT_EQ(ints(out[2]), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
    EXPECT_EQ(ints(out[3]), (std::vector<int64_t>{2, 1, 2, 1}));
}

TEST(Unique, UnsortedKeepsFirstOccurrenceOrder) {
    const Tensor x = Tensor::fromVector<int64_t>({6}, {2, 1, 1, 3, 4, 3});
    const NodeSpec spec = makeSpec("Unique", 11, {attrInt("sorted", 0)}, 4);
    const auto out = runNode(spec, {x});
    EXPECT_EQ(ints(out[0]), (std::vector<int64_t>{2, 1, 3, 4}));
    EXPECT_EQ(ints(out[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
}

TEST(Unique, AxisComparesWholeSlices) {
    // Columns along axis 1: (1,2) (0,5) (1,2) -> unique sorted (0,5) (1,2).
    const Tensor x = Tensor::fromVector<float>({2, 3}, {1, 0, 1, 2, 5, 2});
    const NodeSpec spec = makeSpec("Unique", 11, {attrInt("axis", 1)}, 4);
    const auto out = runNode(spec, {x});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({2, 2}, {0, 1, 5, 2})));
    EXPECT_EQ(ints(out[3]), (std::vector<int64_t>{1, 2}));
}

TEST(MaxRoiPool, TakesBinMaxima) {
    // 4x4 image of 0..15; roi (0,0)-(3,3) is the whole image, 2x2 bins of 2x2 pixels.
    std::vector<float> v(16);
    for (int i = 0; i < 16; ++i)
        v[static_cast<size_t>(i)] = static_cast<float>(i);
    const Tensor x = Tensor::fromVector<float>({1, 1, 4, 4}, v);
    const Tensor rois = Tensor::fromVector<float>({1, 5}, {0, 0, 0, 3, 3});
    const NodeSpec spec = makeSpec("MaxRoiPool", 13, {testing::attrInts("pooled_shape", {2, 2})});
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, rois})[0],
                                  Tensor::fromVector<float>({1, 1, 2, 2}, {5, 7, 13, 15})));
}

TEST(MaxRoiPool, RejectsBadBatchIndex) {
    const Tensor x = Tensor::fromVector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
    const Tensor rois = Tensor::fromVector<float>({1, 5}, {2, 0, 0, 1, 1});
    const NodeSpec spec = makeSpec("MaxRoiPool", 13, {testing::attrInts("pooled_shape", {1, 1})});
    EXPECT_THROW(runNode(spec, {x, rois}), Error);
}

// ---- detection -----------------------------------------------------------------------------

TEST(NonMaxSuppression, SuppressesOverlapsAndAppliesScoreThreshold) {
    // Box 1 overlaps box 0 with IoU 0.9/1.1 > 0.5; box 2 is far away; box 3 scores below threshold.
    const Tensor boxes =
        Tensor::fromVector<float>({1, 4, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 10, 1, 11, 0, 20, 1, 21});
    const Tensor scores = Tensor::fromVector<float>({1, 1, 4}, {0.9f, 0.95f, 0.5f, 0.1f});
    const NodeSpec spec = makeSpec("NonMaxSuppression", 11, {});
    const auto out =
        runNode(spec, {boxes, scores, Tensor::fromVector<int64_t>({1}, {10}),
                       Tensor::fromVector<float>({1}, {0.5f}), Tensor::fromVector<float>({1}, {0.2f})});
    EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(ints(out[0]), (std::vector<int64_t>{0, 0, 1, 0, 0, 2}));
}

TEST(NonMaxSuppression, NoLimitSelectsNothing) {
    const Tensor boxes = Tensor::fromVector<float>({1, 1, 4}, {0, 0, 1, 1});
    const Tensor scores = Tensor::fromVector<float>({1, 1, 1}, {0.9f});
    const NodeSpec spec = makeSpec("NonMaxSuppression", 11, {});
    EXPECT_EQ(runNode(spec, {boxes, scores})[0].shape(), (std::vector<int64_t>{0, 3}));
}

TEST(NonMaxSuppression, RejectsMismatchedScores) {
    const Tensor boxes = Tensor::fromVector<float>({1, 2, 4}, {0, 0, 1, 1, 0, 0, 1, 1});
    const Tensor scores = Tensor::fromVector<float>({1, 1, 3}, {0.9f, 0.8f, 0.7f});
    const NodeSpec spec = makeSpec("NonMaxSuppression", 11, {});
    EXPECT_THROW(runNode(spec, {boxes, scores}), Error);
}

TEST(RoiAlign, AveragesBilinearSamplesOfALinearRamp) {
    // X[y, x] = x on a 4x4 image; bilinear sampling of a ramp returns the sample's x, so a 1x1 bin
    // over roi x in [0.5, 2.5] (half_pixel shifts to [0, 2]) averages to 1.
    std::vector<float> ramp;
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x)
            ramp.push_back(static_cast<float>(x));
    const Tensor x = Tensor::fromVector<float>({1, 1, 4, 4}, ramp);
    const Tensor rois = Tensor::fromVector<float>({1, 4}, {0.5f, 0.5f, 2.5f, 2.5f});
    const Tensor batch = Tensor::fromVector<int64_t>({1}, {0});
    const NodeSpec spec = makeSpec("RoiAlign", 16, {attrInt("sampling_ratio", 2)});
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, rois, batch})[0],
                                  Tensor::fromVector<float>({1, 1, 1, 1}, {1.f})));
}

TEST(RoiAlign, RejectsBadBatchIndex) {
    const Tensor x = Tensor::fromVector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
    const Tensor rois = Tensor::fromVector<float>({1, 4}, {0, 0, 1, 1});
    const NodeSpec spec = makeSpec("RoiAlign", 16, {});
    EXPECT_THROW(runNode(spec, {x, rois, Tensor::fromVector<int64_t>({1}, {3})}), Error);
}

TEST(GridSample, BilinearAlignCornersHitsPixelsAndMidpoints) {
    // align_corners: -1 and 1 are the corner pixel centres; (0, 0) is the image centre.
    const Tensor x = Tensor::fromVector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
    const Tensor grid = Tensor::fromVector<float>({1, 1, 3, 2}, {-1, -1, 1, 1, 0, 0});
    const NodeSpec spec = makeSpec("GridSample", 16, {attrInt("align_corners", 1)});
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, grid})[0],
                                  Tensor::fromVector<float>({1, 1, 1, 3}, {1, 4, 2.5f})));
}

TEST(GridSample, PaddingModesOutsideTheImage) {
    // x = 3 (far right): zeros reads 0, border clamps to the last column.
    const Tensor x = Tensor::fromVector<float>({1, 1, 1, 2}, {5, 7});
    const Tensor grid = Tensor::fromVector<float>({1, 1, 1, 2}, {3, 0});
    const NodeSpec zeros = makeSpec("GridSample", 16, {attrString("padding_mode", "zeros")});
    const NodeSpec border = makeSpec("GridSample", 16, {attrString("padding_mode", "border")});
    EXPECT_TRUE(
        testing::allClose(runNode(zeros, {x, grid})[0], Tensor::fromVector<float>({1, 1, 1, 1}, {0})));
    EXPECT_TRUE(
        testing::allClose(runNode(border, {x, grid})[0], Tensor::fromVector<float>({1, 1, 1, 1}, {7})));
}

TEST(GridSample, NonFiniteGridReadsZero) {
    const Tensor x = Tensor::fromVector<float>({1, 1, 1, 2}, {5, 7});
    const Tensor grid = Tensor::fromVector<float>({1, 1, 1, 2}, {std::nanf(""), 1e30f});
    const NodeSpec spec = makeSpec("GridSample", 16, {attrString("mode", "nearest")});
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, grid})[0], Tensor::fromVector<float>({1, 1, 1, 1}, {0})));
}

// ---- signal --------------------------------------------------------------------------------

TEST(HannWindow, PeriodicAndSymmetric) {
    const NodeSpec periodic = makeSpec("HannWindow", 17, {});
    EXPECT_TRUE(testing::allClose(runNode(periodic, {Tensor::scalar<int64_t>(4)})[0],
                                  Tensor::fromVector<float>({4}, {0, 0.5f, 1, 0.5f}), 1e-6));
    const NodeSpec symmetric = makeSpec("HannWindow", 17, {attrInt("periodic", 0)});
    EXPECT_TRUE(testing::allClose(runNode(symmetric, {Tensor::scalar<int64_t>(3)})[0],
                                  Tensor::fromVector<float>({3}, {0, 1, 0}), 1e-6));
}

TEST(HammingWindow, OutputDatatypeDouble) {
    const NodeSpec spec =
        makeSpec("HammingWindow", 17, {attrInt("output_datatype", static_cast<int64_t>(DType::F64))});
    const auto out = runNode(spec, {Tensor::scalar<int32_t>(2)});
    ASSERT_EQ(out[0].dtype(), DType::F64);
    // n = 0: a0 - a1 = 4/46;  n = 1 (N = 2): a0 + a1 = 1.
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<double>({2}, {4.0 / 46.0, 1.0}), 1e-12));
}

TEST(Dft, RealInputGivesKnownSpectrum) {
    // x = [1, 2, 3, 4]: X = [10, -2 + 2i, -2, -2 - 2i]; onesided keeps the first 3 bins.
    const Tensor x = Tensor::fromVector<float>({1, 4, 1}, {1, 2, 3, 4});
    const NodeSpec full = makeSpec("DFT", 17, {});
    EXPECT_TRUE(testing::allClose(runNode(full, {x})[0],
                                  Tensor::fromVector<float>({1, 4, 2}, {10, 0, -2, 2, -2, 0, -2, -2}), 1e-5));
    const NodeSpec onesided = makeSpec("DFT", 17, {attrInt("onesided", 1)});
    EXPECT_EQ(runNode(onesided, {x})[0].shape(), (std::vector<int64_t>{1, 3, 2}));
}

TEST(Dft, InverseUndoesForward) {
    const Tensor x = Tensor::fromVector<float>({1, 3, 2}, {1, -1, 0.5f, 2, -3, 0});
    const NodeSpec fwd = makeSpec("DFT", 17, {});
    const NodeSpec inv = makeSpec("DFT", 17, {attrInt("inverse", 1)});
    EXPECT_TRUE(testing::allClose(runNode(inv, {runNode(fwd, {x})[0]})[0], x, 1e-5));
}

TEST(Stft, FramesCountAndDcBin) {
    // Ones signal of 8 samples, frames of 4 every 2: 3 frames, DC bin = 4, other bins 0.
    const Tensor x = Tensor::fromVector<float>({1, 8, 1}, std::vector<float>(8, 1.f));
    const NodeSpec spec = makeSpec("STFT", 17, {});
    const auto out = runNode(spec, {x, Tensor::scalar<int64_t>(2), Tensor(), Tensor::scalar<int64_t>(4)});
    ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{1, 3, 3, 2}));
    EXPECT_NEAR(out[0].data<float>()[0], 4.f, 1e-5);
    EXPECT_NEAR(out[0].data<float>()[2], 0.f, 1e-5);
}

TEST(Stft, RejectsZeroStep) {
    const Tensor x = Tensor::fromVector<float>({1, 8, 1}, std::vector<float>(8, 1.f));
    const NodeSpec spec = makeSpec("STFT", 17, {});
    EXPECT_THROW(runNode(spec, {x, Tensor::scalar<int64_t>(0), Tensor(), Tensor::scalar<int64_t>(4)}), Error);
}

TEST(MelWeightMatrix, ShapeAndTriangleRows) {
    const NodeSpec spec = makeSpec("MelWeightMatrix", 17, {});
    const auto out =
        runNode(spec, {Tensor::scalar<int32_t>(8), Tensor::scalar<int32_t>(16), Tensor::scalar<int32_t>(8192),
                       Tensor::scalar<float>(0.f), Tensor::scalar<float>(4096.f)});
    ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{9, 8}));
    // First row of the ONNX reference: filters 0 and 1 both peak at bin 0.
    const float* w = out[0].data<float>();
    EXPECT_FLOAT_EQ(w[0], 1.f);
    EXPECT_FLOAT_EQ(w[1], 1.f);
    EXPECT_FLOAT_EQ(w[2], 0.f);
}

} // namespace
} // namespace opstudio
