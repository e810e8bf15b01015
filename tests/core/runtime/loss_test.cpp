// Loss kernels: hand-computed NLL and softmax cross-entropy values, reductions, ignore_index and
// clear failures on bad labels.
#include "support/test_util.h"

#include <cmath>

namespace opstudio {
namespace {

using ir::Tensor;
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

// Scores for N = 2, C = 3 (already log-probabilities for NLL).
const Tensor kScores = Tensor::fromVector<float>({2, 3}, {-1.f, -2.f, -3.f, -0.5f, -1.5f, -2.5f});
const Tensor kLabels = Tensor::fromVector<int64_t>({2}, {0, 2});

TEST(NegativeLogLikelihoodLoss, NoneGathersNegatedTargetScores) {
    const NodeSpec spec = makeSpec("NegativeLogLikelihoodLoss", 13, {attrString("reduction", "none")});
    const auto out = runNode(spec, {kScores, kLabels});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({2}, {1.f, 2.5f})));
}

TEST(NegativeLogLikelihoodLoss, WeightedMeanDividesByWeightSum) {
    // loss = (-w0 * -1 + -w2 * -2.5) / (w0 + w2) = (2 * 1 + 0.5 * 2.5) / 2.5 = 1.3
    const Tensor w = Tensor::fromVector<float>({3}, {2.f, 1.f, 0.5f});
    const NodeSpec spec = makeSpec("NegativeLogLikelihoodLoss", 13, {});
    const auto out = runNode(spec, {kScores, kLabels, w});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({}, {1.3f})));
}

TEST(NegativeLogLikelihoodLoss, IgnoreIndexDropsElementsFromSumAndMean) {
    const Tensor labels = Tensor::fromVector<int64_t>({2}, {0, -1});
    const NodeSpec mean = makeSpec("NegativeLogLikelihoodLoss", 13, {attrInt("ignore_index", -1)});
    EXPECT_TRUE(testing::allClose(runNode(mean, {kScores, labels})[0], Tensor::fromVector<float>({}, {1.f})));
    const NodeSpec sum = makeSpec("NegativeLogLikelihoodLoss", 13,
                                  {attrInt("ignore_index", -1), attrString("reduction", "sum")});
    EXPECT_TRUE(testing::allClose(runNode(sum, {kScores, labels})[0], Tensor::fromVector<float>({}, {1.f})));
}

TEST(NegativeLogLikelihoodLoss, SpatialDimsFollowTargetShape) {
    // [N=1, C=2, D=2]: class of d0 is 1, of d1 is 0.
    const Tensor x = Tensor::fromVector<float>({1, 2, 2}, {-1.f, -2.f, -3.f, -4.f});
    const Tensor t = Tensor::fromVector<int32_t>({1, 2}, {1, 0});
    const NodeSpec spec = makeSpec("NegativeLogLikelihoodLoss", 13, {attrString("reduction", "none")});
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, t})[0], Tensor::fromVector<float>({1, 2}, {3.f, 2.f})));
}

TEST(NegativeLogLikelihoodLoss, RejectsOutOfRangeLabel) {
    const Tensor labels = Tensor::fromVector<int64_t>({2}, {0, 3});
    const NodeSpec spec = makeSpec("NegativeLogLikelihoodLoss", 13, {});
    EXPECT_THROW(runNode(spec, {kScores, labels}), Error);
}

TEST(NegativeLogLikelihoodLoss, RejectsMismatchedTargetShape) {
    const Tensor labels = Tensor::fromVector<int64_t>({3}, {0, 1, 2});
    const NodeSpec spec = makeSpec("NegativeLogLikelihoodLoss", 13, {});
    EXPECT_THROW(runNode(spec, {kScores, labels}), Error);
}

TEST(SoftmaxCrossEntropyLoss, MatchesLogSoftmaxAndReturnsLogProb) {
    // Row [0, ln 2, ln 5] has softmax [1/8, 2/8, 5/8]; label 2 -> loss = -ln(5/8).
    const Tensor x = Tensor::fromVector<float>({1, 3}, {0.f, std::log(2.f), std::log(5.f)});
    const Tensor t = Tensor::fromVector<int64_t>({1}, {2});
    const NodeSpec spec = makeSpec("SoftmaxCrossEntropyLoss", 13, {attrString("reduction", "none")}, 2);
    const auto out = runNode(spec, {x, t});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({1}, {-std::log(5.f / 8.f)})));
    EXPECT_TRUE(testing::allClose(
        out[1],
        Tensor::fromVector<float>({1, 3}, {std::log(1.f / 8.f), std::log(2.f / 8.f), std::log(5.f / 8.f)})));
}

TEST(SoftmaxCrossEntropyLoss, LargeScoresDoNotOverflow) {
    const Tensor x = Tensor::fromVector<float>({1, 2}, {1000.f, 1000.f});
    const Tensor t = Tensor::fromVector<int64_t>({1}, {0});
    const NodeSpec spec = makeSpec("SoftmaxCrossEntropyLoss", 13, {attrString("reduction", "sum")});
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, t})[0], Tensor::fromVector<float>({}, {std::log(2.f)})));
}

} // namespace
} // namespace opstudio
