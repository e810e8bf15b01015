// fuse-layernorm below opset 17: the written model is valid at its opsets. The opset is raised to 17
// only when every node keeps its meaning (passes/fusion/opset_raise.cpp), else the fusion is skipped
// with the node that blocks it.
#include "fusion_test_util.h"

using namespace opstudio;
using namespace opstudio::testing;
using ir::DType;

namespace {

/// Decomposed LayerNorm of x [2, 5, 8] at `opset` (ReduceMean with the axes attribute, as every opset
/// before 18 has it), then `tail`: "softmax" (Softmax over the last axis, Clip with input bounds at
/// opset 11), "unsqueeze" (an opset-9 Unsqueeze with the axes attribute), or nothing.
std::shared_ptr<ir::Model> layerNormAt(int64_t opset, const std::string& tail) {
    GraphBuilder b(opset);
    b.input("x", DType::F32, {2, 5, 8})
        .initializer("two", ir::Tensor::scalar<float>(2.f))
        .initializer("eps", ir::Tensor::scalar<float>(1e-5f))
        .initializer("gamma", randomTensor(DType::F32, {8}, 3, 0.5, 1.5))
        .initializer("beta", randomTensor(DType::F32, {8}, 4))
        .node("ReduceMean", {"x"}, {"mu"}, {attrInts("axes", {-1})}, {}, "rm0")
        .node("Sub", {"x", "mu"}, {"d"})
        .node("Pow", {"d", "two"}, {"d2"})
        .node("ReduceMean", {"d2"}, {"var"}, {attrInts("axes", {-1})})
        .node("Add", {"var", "eps"}, {"ve"})
        .node("Sqrt", {"ve"}, {"sd"})
        .node("Div", {"d", "sd"}, {"n"})
        .node("Mul", {"n", "gamma"}, {"g"})
        .node("Add", {"g", "beta"}, {"y"});
    if (tail == "softmax") {
        b.initializer("lo", ir::Tensor::scalar<float>(-0.5f))
            .initializer("hi", ir::Tensor::scalar<float>(0.5f))
            .node("Clip", {"y", "lo", "hi"}, {"c"}, {}, {}, "clip")
            .node("Softmax", {"c"}, {"out"}, {attrInt("axis", 2)}, {}, "softmax")
            .output("out");
    } else if (tail == "unsqueeze") {
        b.node("Unsqueeze", {"y"}, {"out"}, {attrInts("axes", {0})}, {}, "unsq").output("out");
    } else {
        b.output("y");
    }
    return b.build();
}

} // namespace

TEST(LayerNormOpset, Opset11ModelIsRaisedTo17WhenEveryNodeKeepsItsMeaning) {
    auto m = layerNormAt(11, "softmax");
    m->irVersion = 6;
    const auto feeds = randomModelFeeds(*m, 1);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fuse-layernorm");
    EXPECT_EQ(reports[0].applied, 1) << skipsOf(reports[0]);
    EXPECT_EQ(m->opsetFor(""), 17);
    EXPECT_EQ(m->irVersion, 8); // opset 17 needs IR 8
    ASSERT_FALSE(reports[0].notes.empty());
    EXPECT_NE(reports[0].notes[0].find("raised from 11 to 17"), std::string::npos) << reports[0].notes[0];
    ASSERT_NE(findOp(*m, "LayerNormalization"), nullptr);
    EXPECT_EQ(findOp(*m, "LayerNormalization")->domain, "");
    EXPECT_EQ(countOps(*m, "Softmax"), 1);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
    EXPECT_TRUE(onnxio::checkModel(*m).ok()) << onnxio::checkModel(*m).error().describe();
    expectOrtMatches(*m, feeds, 1e-5, "layernorm_opset11");
}

TEST(LayerNormOpset, Opset9ModelIsRaisedTo17AndPassesTheChecker) {
    auto m = layerNormAt(9, "");
    const auto feeds = randomModelFeeds(*m, 2);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fuse-layernorm");
    EXPECT_EQ(reports[0].applied, 1) << skipsOf(reports[0]);
    EXPECT_EQ(m->opsetFor(""), 17);
    EXPECT_EQ(m->graph->nodeCount(), 1u);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
    EXPECT_TRUE(onnxio::checkModel(*m).ok()) << onnxio::checkModel(*m).error().describe();
    expectOrtMatches(*m, feeds, 1e-5, "layernorm_opset9");
}

TEST(LayerNormOpset, Opset9ModelWithAttributeUnsqueezeIsSkippedNamingTheBlocker) {
    auto m = layerNormAt(9, "unsqueeze");
    const size_t nodes = m->graph->nodeCount();
    auto reports = applyPass(*m, "fuse-layernorm");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_EQ(m->graph->nodeCount(), nodes);
    EXPECT_EQ(m->opsetFor(""), 9);
    EXPECT_TRUE(hasSkip(reports[0], "LayerNormalization needs opset 17; raising opset 9 would change a node: "
                                    "Unsqueeze node 'unsq' changed at opset 13 (axes moved from an attribute to an input)"))
        << skipsOf(reports[0]);
    // Untouched, so still valid at opset 9.
    EXPECT_TRUE(onnxio::checkModel(*m).ok()) << onnxio::checkModel(*m).error().describe();
}

TEST(LayerNormOpset, SoftmaxOverFlattenedAxesBlocksTheRaise) {
    // Opset-11 Softmax with the default axis 1 on a rank-3 tensor normalizes over axes 1 and 2 together;
    // at opset 13 it would normalize axis 1 only.
    auto m = layerNormAt(11, "softmax");
    m->graph->forEachNode([](ir::Node& n) {
        if (n.opType == "Softmax") n.attributes.clear();
    });
    auto reports = applyPass(*m, "fuse-layernorm");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "Softmax node 'softmax' changed at opset 13 (normalizes one axis"))
        << skipsOf(reports[0]);
}

TEST(LayerNormOpset, KeepOpsetFormSkipsBelow17AndSaysWhy) {
    auto m = layerNormAt(13, "");
    auto reports = applyPass(*m, "fuse-layernorm:form=keep-opset");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_EQ(m->opsetFor(""), 13);
    EXPECT_TRUE(hasSkip(reports[0], "needs opset 17 and the model is at opset 13 (form=keep-opset")) << skipsOf(reports[0]);
}
