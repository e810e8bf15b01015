// Fusion passes on transformer patterns: LayerNorm, SkipLayerNorm, GELU, SiLU, MatMul, attention.
#include "fusion_test_util.h"

#include "passes/fusion/fusion_util.h"

#include <cmath>

using namespace opstudio;
using namespace opstudio::testing;
using ir::DType;

namespace {

ir::Tensor i64(std::vector<int64_t> v) { return ir::Tensor::fromVector<int64_t>({static_cast<int64_t>(v.size())}, v); }

/// Decomposed LayerNorm over the last axis of "x" [2, 5, 8] -> "y".
std::shared_ptr<ir::Model> decomposedLayerNorm(int64_t opset, bool reciprocal, std::vector<int64_t> axes = {-1}) {
    GraphBuilder b(opset);
    b.input("x", DType::F32, {2, 5, 8})
        .initializer("two", ir::Tensor::scalar<float>(2.f))
        .initializer("eps", ir::Tensor::scalar<float>(1e-5f))
        .initializer("gamma", randomTensor(DType::F32, {8}, 3, 0.5, 1.5))
        .initializer("beta", randomTensor(DType::F32, {8}, 4))
        .node("ReduceMean", {"x"}, {"mu"}, {attrInts("axes", axes)}, {}, "rm0")
        .node("Sub", {"x", "mu"}, {"d"}, {}, {}, "sub0")
        .node("Pow", {"d", "two"}, {"d2"})
        .node("ReduceMean", {"d2"}, {"var"}, {attrInts("axes", axes)})
        .node("Add", {"var", "eps"}, {"ve"})
        .node("Sqrt", {"ve"}, {"sd"});
    if (reciprocal) b.node("Reciprocal", {"sd"}, {"rsd"}).node("Mul", {"d", "rsd"}, {"n"});
    else b.node("Div", {"d", "sd"}, {"n"});
    return b.node("Mul", {"n", "gamma"}, {"g"}).node("Add", {"beta", "g"}, {"y"}).output("y").build();
}

// The masked BERT export is opset 13, the causal GPT one opset 17.
int64_t opsetFor(const std::string& mask) { return mask == "additive" ? 13 : 17; }

/// Self-attention block: x [B, S, 8] -> out [B, S, 8], 2 heads of 4, mask "additive" (from a [B, S]
/// int64 input), "causal" (Where with a constant), "constant" (an unrecognized constant additive mask).
std::shared_ptr<ir::Model> attentionModel(const std::string& mask, int64_t b = 2, int64_t s = 5) {
    const int64_t h = 8, heads = 2, d = 4;
    GraphBuilder g(opsetFor(mask));
    g.input("x", DType::F32, {b, s, h});
    uint64_t seed = 100;
    for (const char* p : {"q", "k", "v"}) {
        const std::string n = p;
        g.initializer("w" + n, randomTensor(DType::F32, {h, h}, seed++))
            .initializer("b" + n, randomTensor(DType::F32, {h}, seed++))
            .initializer("shape_" + n, i64({b, s, heads, d}))
            .node("MatMul", {"x", "w" + n}, {n + "_mm"}, {}, {}, n + "_matmul")
            .node("Add", {"b" + n, n + "_mm"}, {n + "_add"})
            .node("Reshape", {n + "_add", "shape_" + n}, {n + "_r"})
            .node("Transpose", {n + "_r"}, {n + "_t"}, {attrInts("perm", n == "k" ? std::vector<int64_t>{0, 2, 3, 1}
                                                                                   : std::vector<int64_t>{0, 2, 1, 3})});
    }
    g.initializer("sqrt_d", ir::Tensor::scalar<float>(2.f))
        .node("MatMul", {"q_t", "k_t"}, {"qk"}, {}, {}, "qk_matmul")
        .node("Div", {"qk", "sqrt_d"}, {"scores"});
    std::string masked = "scores";
    if (mask == "additive") {
        g.input("attention_mask", DType::I64, {b, s})
            .initializer("ax1", i64({1}))
            .initializer("ax2", i64({2}))
            .initializer("one", ir::Tensor::scalar<float>(1.f))
            .initializer("filter", ir::Tensor::scalar<float>(-10000.f))
            .node("Unsqueeze", {"attention_mask", "ax1"}, {"m1"})
            .node("Unsqueeze", {"m1", "ax2"}, {"m2"})
            .node("Cast", {"m2"}, {"mf"}, {attrInt("to", 1)})
            .node("Sub", {"one", "mf"}, {"inv"})
            .node("Mul", {"inv", "filter"}, {"madd"})
            .node("Add", {"scores", "madd"}, {"masked"});
        masked = "masked";
    } else if (mask == "causal") {
        ir::Tensor cond(DType::Bool, {1, 1, s, s});
        for (int64_t i = 0; i < s; ++i)
            for (int64_t j = 0; j < s; ++j) cond.data<bool>()[i * s + j] = j > i;
        g.initializer("causal", cond)
            .initializer("fill", ir::Tensor::scalar<float>(-10000.f))
            .node("Where", {"causal", "fill", "scores"}, {"masked"});
        masked = "masked";
    } else if (mask == "constant") {
        g.initializer("bias_mask", randomTensor(DType::F32, {1, 1, s, s}, 77)).node("Add", {"scores", "bias_mask"}, {"masked"});
        masked = "masked";
    }
    return g.initializer("merge", i64({b, s, h}))
        .node("Softmax", {masked}, {"p"}, {attrInt("axis", -1)}, {}, "softmax0")
        .node("MatMul", {"p", "v_t"}, {"ctx"})
        .node("Transpose", {"ctx"}, {"ctx_t"}, {attrInts("perm", {0, 2, 1, 3})})
        .node("Reshape", {"ctx_t", "merge"}, {"out"})
        .output("out")
        .build();
}

} // namespace

TEST(LayerNormFusion, FusesDecomposedLayerNormAndRaisesOpset13To17) {
    for (bool reciprocal : {false, true}) {
        auto m = decomposedLayerNorm(13, reciprocal);
        const auto feeds = randomModelFeeds(*m, 1);
        const auto before = runModel(*m, feeds);
        const ir::NodeId rm0 = nodeId(*m, "rm0");
        auto reports = applyPass(*m, "fuse-layernorm");
        EXPECT_EQ(reports[0].applied, 1);
        ASSERT_EQ(m->graph->nodeCount(), 1u);
        const ir::Node* ln = findOp(*m, "LayerNormalization");
        ASSERT_NE(ln, nullptr);
        EXPECT_EQ(ln->domain, "");
        EXPECT_EQ(ln->provenance.size(), reciprocal ? 10u : 9u);
        EXPECT_EQ(ln->provenance.front(), rm0);
        EXPECT_EQ(m->opsetFor(""), 17);
        EXPECT_FALSE(reports[0].notes.empty());
        EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
        EXPECT_TRUE(onnxio::checkModel(*m).ok()) << onnxio::checkModel(*m).error().describe();
        expectOrtMatches(*m, feeds, 1e-5, "layernorm");
    }
}

TEST(LayerNormFusion, DoesNotFireOnOtherAxisAndSaysWhy) {
    auto m = decomposedLayerNorm(13, false, {1});
    auto reports = applyPass(*m, "fuse-layernorm");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "does not reduce only the last axis")) << skipsOf(reports[0]);
}

TEST(SkipLayerNormFusion, FusesResidualAddAndKeepsTheSumWhenReused) {
    auto m = GraphBuilder()
                 .input("a", DType::F32, {2, 3, 8})
                 .input("r", DType::F32, {2, 3, 8})
                 .initializer("gamma", randomTensor(DType::F32, {8}, 5))
                 .initializer("beta", randomTensor(DType::F32, {8}, 6))
                 .node("Add", {"a", "r"}, {"sum"})
                 .node("LayerNormalization", {"sum", "gamma", "beta"}, {"ln"}, {attrFloat("epsilon", 1e-5f)})
                 .node("Relu", {"ln"}, {"z"})
                 .node("Add", {"sum", "z"}, {"y"}) // pre-LN residual: the sum is read again
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 3);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fuse-skip-layernorm");
    EXPECT_EQ(reports[0].applied, 1);
    const ir::Node* skip = findOp(*m, "SkipLayerNormalization");
    ASSERT_NE(skip, nullptr);
    ASSERT_EQ(skip->outputs.size(), 4u);
    EXPECT_EQ(skip->outputs[3], "sum");
    EXPECT_EQ(countOps(*m, "LayerNormalization"), 0);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
    expectOrtMatches(*m, feeds, 1e-5, "skip_ln");
}

TEST(GeluFusion, FusesErfFormInBothOrderingsAndBias) {
    for (int ordering = 0; ordering < 2; ++ordering) {
        GraphBuilder b(13);
        b.input("a", DType::F32, {2, 3, 6})
            .initializer("bias", randomTensor(DType::F32, {6}, 8))
            .initializer("sqrt2", ir::Tensor::scalar<float>(std::sqrt(2.f)))
            .initializer("one", ir::Tensor::scalar<float>(1.f))
            .initializer("half", ir::Tensor::scalar<float>(0.5f))
            .node("Add", {"bias", "a"}, {"x"})
            .node("Div", {"x", "sqrt2"}, {"xs"})
            .node("Erf", {"xs"}, {"e"}, {}, {}, "erf0")
            .node("Add", {"e", "one"}, {"e1"});
        if (ordering == 0) b.node("Mul", {"x", "e1"}, {"xe"}).node("Mul", {"xe", "half"}, {"y"});
        else b.node("Mul", {"half", "x"}, {"hx"}).node("Mul", {"hx", "e1"}, {"y"});
        auto m = b.output("y").build();
        const auto feeds = randomModelFeeds(*m, 4);
        const auto before = runModel(*m, feeds);
        auto reports = applyPass(*m, "fuse-gelu");
        EXPECT_EQ(reports[0].applied, 1) << skipsOf(reports[0]);
        ASSERT_EQ(m->graph->nodeCount(), 1u) << ordering;
        EXPECT_EQ(findOp(*m, "BiasGelu")->provenance.size(), 6u);
        EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
        expectOrtMatches(*m, feeds, 1e-5, "biasgelu");
    }
    // Without the bias option: Gelu, the Add stays.
    auto m = GraphBuilder(13)
                 .input("x", DType::F32, {4, 6})
                 .initializer("c", ir::Tensor::scalar<float>(0.70710678f))
                 .initializer("one", ir::Tensor::scalar<float>(1.f))
                 .initializer("half", ir::Tensor::scalar<float>(0.5f))
                 .node("Mul", {"x", "c"}, {"xs"})
                 .node("Erf", {"xs"}, {"e"})
                 .node("Add", {"one", "e"}, {"e1"})
                 .node("Mul", {"e1", "x"}, {"xe"})
                 .node("Mul", {"half", "xe"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 5);
    const auto before = runModel(*m, feeds);
    applyPass(*m, "fuse-gelu:bias=false");
    ASSERT_NE(findOp(*m, "Gelu"), nullptr);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
    expectOrtMatches(*m, feeds, 1e-5, "gelu");
}

TEST(GeluFusion, FusesTanhFormIntoFastGelu) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {3, 10})
                 .initializer("k", ir::Tensor::scalar<float>(0.044715f))
                 .initializer("c", ir::Tensor::scalar<float>(0.7978845608f))
                 .initializer("one", ir::Tensor::scalar<float>(1.f))
                 .initializer("half", ir::Tensor::scalar<float>(0.5f))
                 .node("Mul", {"x", "x"}, {"x2"})
                 .node("Mul", {"x", "x2"}, {"x3"})
                 .node("Mul", {"k", "x3"}, {"kx3"})
                 .node("Add", {"x", "kx3"}, {"inner"})
                 .node("Mul", {"c", "inner"}, {"ci"})
                 .node("Tanh", {"ci"}, {"t"})
                 .node("Add", {"one", "t"}, {"t1"})
                 .node("Mul", {"x", "t1"}, {"xt"})
                 .node("Mul", {"half", "xt"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 6);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fuse-gelu");
    EXPECT_EQ(reports[0].applied, 1);
    ASSERT_EQ(m->graph->nodeCount(), 1u);
    EXPECT_EQ(findOp(*m, "FastGelu")->provenance.size(), 9u);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-5));
    expectOrtMatches(*m, feeds, 1e-5, "fastgelu");
}

TEST(GeluFusion, DoesNotFireOnAnotherErfUseAndSaysWhy) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {4})
                 .initializer("sqrt2", ir::Tensor::scalar<float>(1.5f))
                 .node("Div", {"x", "sqrt2"}, {"xs"})
                 .node("Erf", {"xs"}, {"y"})
                 .output("y")
                 .build();
    auto reports = applyPass(*m, "fuse-gelu");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "GELU pattern not recognized")) << skipsOf(reports[0]);
}

TEST(SiluFusion, FusesXTimesSigmoidIntoQuickGelu) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {2, 7})
                 .node("Sigmoid", {"x"}, {"s"})
                 .node("Mul", {"s", "x"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 7);
    const auto before = runModel(*m, feeds);
    applyPass(*m, "fuse-silu");
    const ir::Node* q = findOp(*m, "QuickGelu");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->attrFloat("alpha", 0.f), 1.f);
    EXPECT_EQ(m->graph->nodeCount(), 1u);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-6, 1e-6));
    expectOrtMatches(*m, feeds, 1e-5, "silu");
}

TEST(SiluFusion, SkipsSiluAfterConvUnlessAskedAndSaysWhy) {
    auto build = [] {
        return GraphBuilder()
            .input("x", DType::F32, {1, 2, 5, 5})
            .initializer("w", randomTensor(DType::F32, {3, 2, 1, 1}, 1))
            .node("Conv", {"x", "w"}, {"c"})
            .node("Sigmoid", {"c"}, {"s"})
            .node("Mul", {"c", "s"}, {"y"})
            .output("y")
            .build();
    };
    auto m = build();
    auto reports = applyPass(*m, "fuse-silu");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "channels-last")) << skipsOf(reports[0]);
    auto m2 = build();
    const auto feeds = randomModelFeeds(*m2, 3);
    const auto before = runModel(*m2, feeds);
    EXPECT_EQ(applyPass(*m2, "fuse-silu:after_conv=true")[0].applied, 1);
    EXPECT_TRUE(allClose(runModel(*m2, feeds)[0], before[0], 1e-6, 1e-6));
}

TEST(MatMulFusions, MatMulAddBecomesGemmOnlyFor2D) {
    auto m = GraphBuilder()
                 .input("a", DType::F32, {3, 4})
                 .input("a3", DType::F32, {2, 3, 4})
                 .initializer("w", randomTensor(DType::F32, {4, 5}, 1))
                 .initializer("bias", randomTensor(DType::F32, {5}, 2))
                 .node("MatMul", {"a", "w"}, {"m"})
                 .node("Add", {"m", "bias"}, {"y"})
                 .node("MatMul", {"a3", "w"}, {"m3"})
                 .node("Add", {"bias", "m3"}, {"y3"})
                 .output("y")
                 .output("y3")
                 .build();
    const auto feeds = randomModelFeeds(*m, 8);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fuse-matmul-add");
    EXPECT_EQ(reports[0].applied, 1);
    EXPECT_EQ(countOps(*m, "Gemm"), 1);
    EXPECT_TRUE(hasSkip(reports[0], "Gemm needs 2-D")) << skipsOf(reports[0]);
    const auto after = runModel(*m, feeds);
    EXPECT_TRUE(allClose(after[0], before[0], 1e-5, 1e-5));
    EXPECT_TRUE(allClose(after[1], before[1], 0, 0));
    EXPECT_TRUE(onnxio::checkModel(*m).ok());
}

TEST(MatMulFusions, ScaleBecomesFusedMatMulAlphaAndGemmReluFusedGemm) {
    auto m = GraphBuilder()
                 .input("a", DType::F32, {2, 3, 4})
                 .input("g", DType::F32, {3, 4})
                 .input("h", DType::F32, {3, 4})
                 .initializer("w", randomTensor(DType::F32, {4, 5}, 1))
                 .initializer("c", randomTensor(DType::F32, {5}, 2))
                 .initializer("eight", ir::Tensor::scalar<float>(8.f))
                 .initializer("lo", ir::Tensor::scalar<float>(0.f))
                 .node("MatMul", {"a", "w"}, {"m"})
                 .node("Div", {"m", "eight"}, {"y"})
                 .node("Gemm", {"g", "w", "c"}, {"gm"})
                 .node("LeakyRelu", {"gm"}, {"y2"}, {attrFloat("alpha", 0.1f)})
                 .node("Gemm", {"h", "w", "c"}, {"gc"})
                 .node("Clip", {"gc", "lo"}, {"y3"})
                 .output("y")
                 .output("y2")
                 .output("y3")
                 .build();
    const auto feeds = randomModelFeeds(*m, 9);
    const auto before = runModel(*m, feeds);
    auto r1 = applyPass(*m, "fuse-matmul-scale");
    auto r2 = applyPass(*m, "fuse-gemm-activation");
    EXPECT_EQ(r1[0].applied, 1);
    EXPECT_EQ(r2[0].applied, 1);
    EXPECT_NEAR(findOp(*m, "FusedMatMul")->attrFloat("alpha", 0.f), 0.125f, 1e-7);
    EXPECT_EQ(findOp(*m, "FusedGemm")->attrString("activation", ""), "LeakyRelu");
    EXPECT_TRUE(hasSkip(r2[0], "the activation is Clip")) << skipsOf(r2[0]);
    const auto after = runModel(*m, feeds);
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(allClose(after[i], before[i], 1e-5, 1e-5)) << i;
    expectOrtMatches(*m, feeds, 1e-5, "fused_matmul_gemm");
}

TEST(AttentionFusion, FusesMaskedAndCausalSelfAttentionWithinBudget) {
    for (const std::string mask : {"additive", "causal", "none"}) {
        auto m = attentionModel(mask);
        auto feeds = randomModelFeeds(*m, 11);
        if (feeds.count("attention_mask")) {
            auto v = feeds["attention_mask"].span<int64_t>();
            for (size_t i = 0; i < v.size(); ++i) v[i] = i % 5 == 3 ? 0 : 1;
        }
        const auto before = runModel(*m, feeds);
        const ir::NodeId qk = nodeId(*m, "qk_matmul"), sm = nodeId(*m, "softmax0"), qmm = nodeId(*m, "q_matmul");
        auto reports = applyPass(*m, "fuse-attention");
        EXPECT_EQ(reports[0].applied, 1) << mask << "\n" << skipsOf(reports[0]);
        const ir::Node* att = findOp(*m, "Attention");
        ASSERT_NE(att, nullptr) << mask;
        EXPECT_EQ(att->domain, "com.microsoft");
        EXPECT_EQ(att->attrInt("num_heads", 0), 2);
        EXPECT_EQ(att->attrInt("unidirectional", 0), mask == "causal" ? 1 : 0);
        EXPECT_EQ(countOps(*m, "Softmax"), 0);
        EXPECT_EQ(countOps(*m, "MatMul"), 0);
        EXPECT_EQ(countOps(*m, "Unsqueeze"), 0); // the old mask chain is gone
        for (ir::NodeId id : {qk, sm, qmm})
            EXPECT_NE(std::find(att->provenance.begin(), att->provenance.end(), id), att->provenance.end());
        EXPECT_LE(maxAbsDiff(runModel(*m, feeds)[0], before[0]), passes::fusion::kAttentionFusionMaxAbs) << mask;
        expectOrtMatches(*m, feeds, passes::fusion::kAttentionFusionMaxAbs, "attention_" + mask);
    }
}

TEST(AttentionFusion, DoesNotFireOnUnrecognizedMaskAndSaysWhy) {
    auto m = attentionModel("constant");
    auto reports = applyPass(*m, "fuse-attention");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "mask pattern not recognized")) << skipsOf(reports[0]);
    EXPECT_EQ(countOps(*m, "Softmax"), 1);
}

TEST(AttentionKernel, FastMatchesReferenceOnOddShapes) {
    for (int64_t s : {1, 7, 13}) {
        for (int64_t heads : {1, 3}) {
            const int64_t hidden = heads * 5, in = 6, b = 2;
            std::vector<ir::Tensor> inputs = {randomTensor(DType::F32, {b, s, in}, 1),
                                              randomTensor(DType::F32, {in, 3 * hidden}, 2),
                                              randomTensor(DType::F32, {3 * hidden}, 3)};
            ir::Tensor mask(DType::I32, {b, s});
            for (int64_t i = 0; i < b * s; ++i) mask.data<int32_t>()[i] = (i % 4 == 1 && s > 1) ? 0 : 1;
            inputs.push_back(mask);
            for (int causal : {0, 1}) {
                NodeSpec spec;
                spec.opType = "Attention";
                spec.domain = "com.microsoft";
                spec.opset = 1;
                spec.attributes = {attrInt("num_heads", heads), attrInt("unidirectional", causal)};
                spec.constantInputs = {false, true, true, false};
                const auto fast = runNode(spec, inputs, false);
                const auto ref = runNode(spec, inputs, true);
                EXPECT_TRUE(allClose(fast[0], ref[0], 1e-5, 1e-4)) << "s=" << s << " heads=" << heads << " causal=" << causal;
                EXPECT_EQ(fast[0].shape(), (std::vector<int64_t>{b, s, hidden}));
            }
        }
    }
}


TEST(QuickGeluKernel, FastMatchesReferenceOnOddShapes) {
    for (int64_t n : {0, 1, 7, 13, 127, 5000}) {
        for (float alpha : {1.f, 1.702f}) {
            NodeSpec spec;
            spec.opType = "QuickGelu";
            spec.domain = "com.microsoft";
            spec.opset = 1;
            spec.attributes = {attrFloat("alpha", alpha)};
            const auto x = randomTensor(DType::F32, {n}, 3, -20.0, 20.0);
            const auto fast = runNode(spec, {x}, false);
            const auto ref = runNode(spec, {x}, true);
            EXPECT_TRUE(allClose(fast[0], ref[0], 1e-6, 1e-6)) << n << " " << alpha;
        }
    }
}
