// Fusion passes on CNN patterns: structure (what disappeared, what appeared, provenance) and numbers.
#include "fusion_test_util.h"

using namespace opstudio;
using namespace opstudio::testing;
using ir::DType;

namespace {

std::shared_ptr<ir::Model> convBnModel(bool secondConsumer, bool withBias = true) {
    GraphBuilder b;
    b.input("x", DType::F32, {1, 3, 9, 9})
        .initializer("w", randomTensor(DType::F32, {4, 3, 3, 3}, 11))
        .initializer("gamma", randomTensor(DType::F32, {4}, 12, 0.5, 1.5))
        .initializer("beta", randomTensor(DType::F32, {4}, 13))
        .initializer("mean", randomTensor(DType::F32, {4}, 14))
        .initializer("var", randomTensor(DType::F32, {4}, 15, 0.1, 2.0));
    std::vector<std::string> convIn = {"x", "w"};
    if (withBias) {
        b.initializer("b", randomTensor(DType::F32, {4}, 16));
        convIn.push_back("b");
    }
    b.node("Conv", convIn, {"c"}, {attrInts("pads", {1, 1, 1, 1})}, {}, "conv0")
        .node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"bn"}, {attrFloat("epsilon", 1e-3f)}, {}, "bn0")
        .node("Relu", {"bn"}, {"y"}, {}, {}, "relu0")
        .output("y");
    if (secondConsumer) b.node("Sigmoid", {"c"}, {"z"}).output("z");
    return b.build();
}

} // namespace

TEST(ConvBatchNormFusion, RemovesBatchNormAndKeepsOutputs) {
    for (bool withBias : {true, false}) {
        auto m = convBnModel(false, withBias);
        const auto feeds = randomModelFeeds(*m, 7);
        const auto before = runModel(*m, feeds);
        const ir::NodeId convId = nodeId(*m, "conv0"), bnId = nodeId(*m, "bn0");
        auto reports = applyPass(*m, "fuse-conv-batchnorm");
        EXPECT_EQ(reports[0].applied, 1);
        EXPECT_EQ(countOps(*m, "BatchNormalization"), 0);
        EXPECT_EQ(countOps(*m, "Conv"), 1);
        const ir::Node* conv = findOp(*m, "Conv");
        ASSERT_NE(conv, nullptr);
        EXPECT_EQ(conv->provenance, (std::vector<ir::NodeId>{convId, bnId}));
        EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
        EXPECT_TRUE(onnxio::checkModel(*m).ok());
    }
}

TEST(ConvBatchNormFusion, DoesNotFireWhenConvOutputHasSecondConsumer) {
    auto m = convBnModel(true);
    auto reports = applyPass(*m, "fuse-conv-batchnorm");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "Conv output has a second consumer"));
    EXPECT_EQ(countOps(*m, "BatchNormalization"), 1);
}

TEST(ConvAddMulFusion, FoldsPerChannelScaleAndBias) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {2, 3, 8, 8})
                 .initializer("w", randomTensor(DType::F32, {5, 3, 3, 3}, 1))
                 .initializer("s", randomTensor(DType::F32, {5, 1, 1}, 2))
                 .initializer("c", randomTensor(DType::F32, {1, 5, 1, 1}, 3))
                 .initializer("full", randomTensor(DType::F32, {5, 6, 6}, 4))
                 .node("Conv", {"x", "w"}, {"a"}, {}, {}, "conv0")
                 .node("Mul", {"a", "s"}, {"b"}, {}, {}, "mul0")
                 .node("Add", {"c", "b"}, {"d"}, {}, {}, "add0")
                 .node("Add", {"d", "full"}, {"y"}, {}, {}, "add_full")
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 5);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fuse-conv-add-mul");
    EXPECT_EQ(reports[0].applied, 2);
    EXPECT_EQ(countOps(*m, "Mul"), 0);
    EXPECT_EQ(countOps(*m, "Add"), 1); // the [5,6,6] constant is not per-channel
    EXPECT_TRUE(hasSkip(reports[0], "is not per-channel"));
    EXPECT_EQ(findOp(*m, "Conv")->provenance.size(), 3u);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
}

TEST(ConvActivationFusion, MakesFusedConvForEachSupportedActivation) {
    struct Case {
        std::string op;
        std::vector<ir::Attribute> attrs;
        std::string activation;
        std::vector<float> params;
    };
    const std::vector<Case> cases = {
        {"Relu", {}, "Relu", {}},
        {"LeakyRelu", {attrFloat("alpha", 0.2f)}, "LeakyRelu", {0.2f}},
        {"Sigmoid", {}, "Sigmoid", {}},
        {"Tanh", {}, "Tanh", {}},
        {"HardSigmoid", {attrFloat("alpha", 0.3f), attrFloat("beta", 0.4f)}, "HardSigmoid", {0.3f, 0.4f}},
        {"Clip", {}, "Clip", {0.f, 6.f}},
    };
    for (const auto& c : cases) {
        GraphBuilder b;
        b.input("x", DType::F32, {1, 4, 7, 7})
            .initializer("w", randomTensor(DType::F32, {4, 2, 3, 3}, 21))
            .initializer("b", randomTensor(DType::F32, {4}, 22))
            .initializer("lo", ir::Tensor::scalar<float>(0.f))
            .initializer("hi", ir::Tensor::scalar<float>(6.f))
            .node("Conv", {"x", "w", "b"}, {"a"}, {attrInt("group", 2)}, {}, "conv0");
        if (c.op == "Clip") b.node("Clip", {"a", "lo", "hi"}, {"y"}, {}, {}, "act");
        else b.node(c.op, {"a"}, {"y"}, c.attrs, {}, "act");
        auto m = b.output("y").build();
        const auto feeds = randomModelFeeds(*m, 9);
        const auto before = runModel(*m, feeds);
        auto reports = applyPass(*m, "fuse-conv-activation");
        EXPECT_EQ(reports[0].applied, 1) << c.op;
        EXPECT_EQ(countOps(*m, c.op), 0) << c.op;
        const ir::Node* fused = findOp(*m, "FusedConv");
        ASSERT_NE(fused, nullptr) << c.op;
        EXPECT_EQ(fused->domain, "com.microsoft");
        EXPECT_EQ(fused->attrString("activation", ""), c.activation);
        EXPECT_EQ(fused->attrFloats("activation_params"), c.params) << c.op;
        EXPECT_EQ(fused->provenance.size(), 2u);
        EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5)) << c.op;
        expectOrtMatches(*m, feeds, 1e-5);
    }
}

TEST(ConvActivationFusion, KeepsHardSwishUnfusedAndSaysWhy) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {1, 2, 5, 5})
                 .initializer("w", randomTensor(DType::F32, {3, 2, 1, 1}, 1))
                 .node("Conv", {"x", "w"}, {"a"})
                 .node("HardSwish", {"a"}, {"y"})
                 .output("y")
                 .build();
    auto reports = applyPass(*m, "fuse-conv-activation");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "the activation is HardSwish"));
    EXPECT_EQ(countOps(*m, "HardSwish"), 1);
}

TEST(ConvFusions, ConvBatchNormReluBecomesOneFusedConvWithFullProvenance) {
    auto m = convBnModel(false);
    const auto feeds = randomModelFeeds(*m, 3);
    const auto before = runModel(*m, feeds);
    applyPass(*m, "fuse-conv-batchnorm");
    applyPass(*m, "fuse-conv-activation");
    ASSERT_EQ(m->graph->nodeCount(), 1u);
    const ir::Node* fused = findOp(*m, "FusedConv");
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(fused->provenance.size(), 3u);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
    expectOrtMatches(*m, feeds, 1e-5);
}
