#include "support/graph_builder.h"

#include "opstudio/compare/compare.h"
#include "opstudio/compare/compare_export.h"
#include "opstudio/onnx/model_io.h"
#include "opstudio/passes/graph_edit.h"
#include "opstudio/passes/pipeline.h"

#include <cmath>

using namespace opstudio;
using namespace opstudio::testing;
using ir::DType;

namespace {

compare::CompareOptions fastOptions() {
    compare::CompareOptions o;
    o.runs = 1;
    o.warmup = 0;
    return o;
}

/// Rounds every element to a multiple of `step` (what a coarse quantizer does to a weight).
ir::Tensor rounded(const ir::Tensor& t, float step) {
    ir::Tensor out = t.clone();
    for (float& x : out.span<float>())
        x = std::round(x / step) * step;
    return out;
}

/// conv1 -> relu1 -> conv2 -> relu2 -> conv3 -> GlobalAveragePool -> Flatten -> Gemm (10 logits).
/// `conv2Step` > 0 rounds conv2's weight (a lossy change in the middle of the network).
std::shared_ptr<ir::Model> convStack(float conv2Step = 0) {
    const auto pads = attrInts("pads", {1, 1, 1, 1});
    ir::Tensor w2 = randomTensor(DType::F32, {4, 4, 3, 3}, 12, -0.5, 0.5);
    if (conv2Step > 0) w2 = rounded(w2, conv2Step);
    return GraphBuilder()
        .input("x", DType::F32, {1, 3, 8, 8})
        .initializer("w1", randomTensor(DType::F32, {4, 3, 3, 3}, 11, -0.5, 0.5))
        .initializer("w2", w2)
        .initializer("w3", randomTensor(DType::F32, {4, 4, 3, 3}, 13, -0.5, 0.5))
        .initializer("wf", randomTensor(DType::F32, {10, 4}, 14))
        .node("Conv", {"x", "w1"}, {"c1"}, {pads})
        .node("Relu", {"c1"}, {"r1"})
        .node("Conv", {"r1", "w2"}, {"c2"}, {pads})
        .node("Relu", {"c2"}, {"r2"})
        .node("Conv", {"r2", "w3"}, {"c3"}, {pads})
        .node("GlobalAveragePool", {"c3"}, {"g"})
        .node("Flatten", {"g"}, {"f"})
        .node("Gemm", {"f", "wf"}, {"logits"}, {attrInt("transB", 1)})
        .output("logits")
        .build();
}

/// x -> Relu -> Neg -> Neg -> Sigmoid: the two Negs are the group a "pass" replaces below.
std::shared_ptr<ir::Model> negChain() {
    return GraphBuilder()
        .input("x", DType::F32, {2, 8})
        .node("Relu", {"x"}, {"r"})
        .node("Neg", {"r"}, {"n1"})
        .node("Neg", {"n1"}, {"n2"})
        .node("Sigmoid", {"n2"}, {"y"})
        .output("y")
        .build();
}

const ir::Node* nodeNamed(const ir::Graph& g, const std::string& name) {
    const ir::Node* found = nullptr;
    g.forEachNode([&](const ir::Node& n) {
        if (n.name == name) found = &n;
    });
    return found;
}

/// Replaces the two Negs of negChain() by one node (fresh output name "fused") with provenance.
std::shared_ptr<ir::Model> negChainRewritten(const ir::Model& a, const std::string& op, float scale,
                                             const std::string& output = "fused") {
    auto b = std::make_shared<ir::Model>(a.clone());
    ir::Graph& g = *b->graph;
    const ir::Node* n1 = nodeNamed(g, "Neg_n1");
    const ir::Node* n2 = nodeNamed(g, "Neg_n2");
    const std::vector<ir::NodeId> group{n1->id, n2->id};
    ir::Node fused;
    fused.name = "fused_negs";
    fused.opType = op;
    fused.inputs = {"r"};
    if (op == "Mul") {
        g.initializers["scale"] = ir::Tensor::scalar<float>(scale);
        fused.inputs.push_back("scale");
    }
    fused.outputs = {output};
    fused.provenance = group;
    for (ir::NodeId id : group)
        g.removeNode(id);
    g.addNode(std::move(fused));
    if (output != "n2") passes::replaceAllUses(g, "n2", output);
    g.rebuildIndex();
    g.topologicalSort();
    return b;
}

} // namespace

TEST(CompareTensors, HandComputedMetrics) {
    const auto a = ir::Tensor::fromVector<float>({4}, {1, 2, 3, 4});
    const auto b = ir::Tensor::fromVector<float>({4}, {1, 2, 3, 5});
    const auto c = compare::compareTensors("t", a, b);
    EXPECT_EQ(c.name, "t");
    EXPECT_DOUBLE_EQ(c.maxAbs, 1.0);
    EXPECT_DOUBLE_EQ(c.meanAbs, 0.25);
    EXPECT_DOUBLE_EQ(c.maxRel, 0.25);
    EXPECT_NEAR(c.cosine, 34.0 / std::sqrt(30.0 * 39.0), 1e-12);
    EXPECT_NEAR(c.snrDb, 10.0 * std::log10(30.0), 1e-9);
    EXPECT_FALSE(c.classifier);
}

TEST(CompareTensors, IdenticalTensorsAgreeCompletely) {
    const auto a = randomTensor(DType::F32, {3, 7}, 5);
    const auto c = compare::compareTensors("t", a, a.clone());
    EXPECT_EQ(c.maxAbs, 0);
    EXPECT_EQ(c.meanAbs, 0);
    EXPECT_EQ(c.maxRel, 0);
    EXPECT_DOUBLE_EQ(c.cosine, 1);
    EXPECT_EQ(c.snrDb, compare::kIdenticalSnrDb);
    EXPECT_TRUE(c.classifier);
    EXPECT_EQ(c.top1Agreement, 1);
    EXPECT_EQ(c.top5Agreement, 1);
}

TEST(CompareTensors, TopKAgreementOverRows) {
    // Row 0: A ranks 5 > 4 > 3 > 2 > 1 > 0; B moves class 0 to the top: top-1 differs and
    // B's top-5 {0,4,3,2,1} shares 4 of A's {5,4,3,2,1}. Row 1 is identical.
    const auto a = ir::Tensor::fromVector<float>({2, 6}, {0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1});
    const auto b = ir::Tensor::fromVector<float>({2, 6}, {5, 1, 2, 3, 4, 0, 6, 5, 4, 3, 2, 1});
    const auto c = compare::compareTensors("logits", a, b);
    ASSERT_TRUE(c.classifier);
    EXPECT_DOUBLE_EQ(c.top1Agreement, 0.5);
    EXPECT_DOUBLE_EQ(c.top5Agreement, 0.9);
}

TEST(CompareTensors, ClassifierShapes) {
    const auto classifier = [](std::vector<int64_t> shape) {
        const auto t = ir::Tensor::zeros(DType::F32, shape);
        return compare::compareTensors("t", t, t).classifier;
    };
    EXPECT_TRUE(classifier({1, 3, 1, 1}));
    EXPECT_TRUE(classifier({4, 2}));
    EXPECT_FALSE(classifier({1, 1}));
    EXPECT_FALSE(classifier({2, 3, 4}));
    EXPECT_FALSE(classifier({1, 3, 2, 1}));
}

TEST(CompareTensors, ZeroAndOppositeTensors) {
    const auto z = ir::Tensor::zeros(DType::F32, {3});
    const auto a = ir::Tensor::fromVector<float>({3}, {1, -2, 3});
    const auto neg = ir::Tensor::fromVector<float>({3}, {-1, 2, -3});
    EXPECT_DOUBLE_EQ(compare::compareTensors("t", z, z).cosine, 1);
    EXPECT_DOUBLE_EQ(compare::compareTensors("t", a, z).cosine, 0);
    EXPECT_NEAR(compare::compareTensors("t", a, neg).cosine, -1, 1e-12);
    // |a - b| = 2|a| everywhere: SNR = 10 log10(1/4).
    EXPECT_NEAR(compare::compareTensors("t", a, neg).snrDb, 10 * std::log10(0.25), 1e-9);
}

TEST(CompareTensors, OtherDtypesAndShapeMismatch) {
    const auto a = ir::Tensor::fromVector<int64_t>({3}, {1, 2, 3});
    const auto b = ir::Tensor::fromVector<float>({3}, {1, 2, 4});
    EXPECT_DOUBLE_EQ(compare::compareTensors("t", a, b).maxAbs, 1);
    const auto c = ir::Tensor::fromVector<float>({4}, {1, 2, 3, 4});
    try {
        compare::compareTensors("out", b, c);
        FAIL() << "shape mismatch accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
    }
}

TEST(CompareModels, IdenticalModelsHaveNoErrorAndNoDivergence) {
    auto a = convStack();
    auto b = convStack();
    auto r = compare::compareModels(a, b, {}, fastOptions());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_EQ(r->outputs.size(), 1u);
    const auto& o = r->outputs[0];
    EXPECT_EQ(o.name, "logits");
    EXPECT_EQ(o.maxAbs, 0);
    EXPECT_DOUBLE_EQ(o.cosine, 1);
    EXPECT_TRUE(o.classifier);
    EXPECT_EQ(o.top1Agreement, 1);
    EXPECT_FALSE(r->firstDivergence.has_value());
    EXPECT_GT(r->aMs, 0);
    EXPECT_GT(r->bMs, 0);
    EXPECT_GT(r->speedup, 0);
    EXPECT_EQ(r->aNodes, 8);
    EXPECT_EQ(r->aWeightBytes, r->bWeightBytes);
    EXPECT_EQ(r->aWeightBytes, a->weightBytes());
}

TEST(CompareModels, PerturbedWeightDivergesAtThatNode) {
    auto a = convStack();
    auto b = convStack(/*conv2Step=*/0.125f);
    auto r = compare::compareModels(a, b, {}, fastOptions());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_GT(r->outputs[0].maxAbs, 0);
    EXPECT_LT(r->outputs[0].cosine, 1);
    ASSERT_TRUE(r->firstDivergence.has_value());
    EXPECT_EQ(r->firstDivergence->node, "Conv_c2");
    EXPECT_EQ(r->firstDivergence->opType, "Conv");
    EXPECT_EQ(r->firstDivergence->value, "c2");
    EXPECT_GT(r->firstDivergence->relativeError, 1e-3);
    EXPECT_GT(r->firstDivergence->maxAbs, 0);

    // A threshold above the error hides it; the search can be switched off.
    auto loose = fastOptions();
    loose.divergenceThreshold = 1e9;
    auto r2 = compare::compareModels(a, b, {}, loose);
    ASSERT_TRUE(r2.ok());
    EXPECT_FALSE(r2->firstDivergence.has_value());
    auto off = fastOptions();
    off.findDivergence = false;
    auto r3 = compare::compareModels(a, b, {}, off);
    ASSERT_TRUE(r3.ok());
    EXPECT_FALSE(r3->firstDivergence.has_value());
}

TEST(CompareModels, GivenFeedsAreUsed) {
    auto a = convStack();
    auto b = convStack(0.125f);
    const auto feeds = randomModelFeeds(*a, 99);
    auto r1 = compare::compareModels(a, b, feeds, fastOptions());
    auto r2 = compare::compareModels(a, b, feeds, fastOptions());
    ASSERT_TRUE(r1.ok() && r2.ok());
    EXPECT_EQ(r1->outputs[0].maxAbs, r2->outputs[0].maxAbs);
}

TEST(CompareModels, ModelsFromFilesMatchNodesByName) {
    const std::string dir = ::testing::TempDir();
    ASSERT_TRUE(onnxio::saveModel(*convStack(), dir + "/cmp_a.onnx").ok());
    ASSERT_TRUE(onnxio::saveModel(*convStack(0.125f), dir + "/cmp_b.onnx").ok());
    auto a = onnxio::loadModel(dir + "/cmp_a.onnx");
    auto b = onnxio::loadModel(dir + "/cmp_b.onnx");
    ASSERT_TRUE(a.ok() && b.ok());
    auto r = compare::compareModels(std::make_shared<ir::Model>(std::move(a).value()),
                                    std::make_shared<ir::Model>(std::move(b).value()), {}, fastOptions());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_TRUE(r->firstDivergence.has_value());
    EXPECT_EQ(r->firstDivergence->node, "Conv_c2");
}

TEST(CompareModels, ProvenanceMapsFusedNodeToLastOriginalNode) {
    auto a = negChain();
    // Exact replacement: Neg(Neg(r)) == Identity(r).
    auto exact = negChainRewritten(*a, "Identity", 1);
    const auto map = compare::correspondingValues(*a->graph, *exact->graph);
    ASSERT_TRUE(map.count("fused"));
    EXPECT_EQ(map.at("fused"), "n2"); // the group's value that leaves it
    EXPECT_EQ(map.at("r"), "r");      // untouched nodes match themselves
    EXPECT_EQ(map.count("n1"), 0u);   // internal to the group: nothing in B stands for it
    auto r = compare::compareModels(a, exact, {}, fastOptions());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_FALSE(r->firstDivergence.has_value());
    EXPECT_EQ(r->bNodes, 3);

    // Lossy replacement: the divergence is reported at the group's last original node.
    auto lossy = negChainRewritten(*a, "Mul", 1.01f);
    auto r2 = compare::compareModels(a, lossy, {}, fastOptions());
    ASSERT_TRUE(r2.ok()) << r2.error().describe();
    ASSERT_TRUE(r2->firstDivergence.has_value());
    EXPECT_EQ(r2->firstDivergence->node, "Neg_n2");
    EXPECT_EQ(r2->firstDivergence->value, "n2");
    EXPECT_NEAR(r2->firstDivergence->relativeError, 0.01, 1e-4);
}

TEST(CompareModels, RewrittenNodeKeepingTheLastOutputNameMatchesByName) {
    auto a = negChain();
    // The replacement writes "n2" itself (what passes usually do); no provenance needed.
    auto b = negChainRewritten(*a, "Mul", 1.01f, "n2");
    b->graph->forEachNode([](ir::Node& n) { n.provenance.clear(); });
    const auto map = compare::correspondingValues(*a->graph, *b->graph);
    EXPECT_EQ(map.at("n2"), "n2");
    auto r = compare::compareModels(a, b, {}, fastOptions());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_TRUE(r->firstDivergence.has_value());
    EXPECT_EQ(r->firstDivergence->node, "Neg_n2");
}

TEST(CompareModels, FusedInMemoryThenPerturbedDivergesAtTheFusedGroupsLastNode) {
    // conv1 -> bn1 -> relu -> conv2 -> bn2 -> relu: fuse-conv-batchnorm folds each BN into its Conv
    // (the Conv keeps its name and writes the BN's output, with provenance {conv, bn}).
    const auto bn = [](GraphBuilder& b, const std::string& prefix, uint64_t seed) {
        b.initializer(prefix + "_scale", randomTensor(DType::F32, {4}, seed, 0.5, 1.5))
            .initializer(prefix + "_bias", randomTensor(DType::F32, {4}, seed + 1))
            .initializer(prefix + "_mean", randomTensor(DType::F32, {4}, seed + 2))
            .initializer(prefix + "_var", randomTensor(DType::F32, {4}, seed + 3, 0.5, 1.5));
    };
    GraphBuilder b;
    b.input("x", DType::F32, {1, 3, 8, 8})
        .initializer("w1", randomTensor(DType::F32, {4, 3, 3, 3}, 21, -0.5, 0.5))
        .initializer("w2", randomTensor(DType::F32, {4, 4, 3, 3}, 22, -0.5, 0.5));
    bn(b, "bn1", 30);
    bn(b, "bn2", 40);
    auto a = b.node("Conv", {"x", "w1"}, {"c1"}, {attrInts("pads", {1, 1, 1, 1})})
                 .node("BatchNormalization", {"c1", "bn1_scale", "bn1_bias", "bn1_mean", "bn1_var"}, {"b1"})
                 .node("Relu", {"b1"}, {"r1"})
                 .node("Conv", {"r1", "w2"}, {"c2"}, {attrInts("pads", {1, 1, 1, 1})})
                 .node("BatchNormalization", {"c2", "bn2_scale", "bn2_bias", "bn2_mean", "bn2_var"}, {"b2"})
                 .node("Relu", {"b2"}, {"y"})
                 .output("y")
                 .build();
    auto fused = std::make_shared<ir::Model>(a->clone());
    passes::Pipeline p;
    p.add("fuse-conv-batchnorm");
    auto reports = p.run(*fused);
    ASSERT_TRUE(reports.ok()) << reports.error().describe();
    ASSERT_EQ(countOps(*fused, "BatchNormalization"), 0);
    auto exact = compare::compareModels(a, fused, {}, fastOptions());
    ASSERT_TRUE(exact.ok()) << exact.error().describe();
    EXPECT_FALSE(exact->firstDivergence.has_value()) << exact->firstDivergence->node;

    // Round the second fused Conv's weight: the error shows at bn2's output, the group's last node.
    const ir::Node* conv2 = nodeNamed(*fused->graph, "Conv_c2");
    ASSERT_NE(conv2, nullptr);
    ASSERT_EQ(conv2->provenance.size(), 2u);
    ir::Tensor& w = fused->graph->initializers.at(conv2->inputs[1]);
    w = rounded(w, 0.125f);
    auto lossy = compare::compareModels(a, fused, {}, fastOptions());
    ASSERT_TRUE(lossy.ok()) << lossy.error().describe();
    ASSERT_TRUE(lossy->firstDivergence.has_value());
    EXPECT_EQ(lossy->firstDivergence->node, "BatchNormalization_b2");
    EXPECT_EQ(lossy->firstDivergence->value, "b2");
}

TEST(CompareModels, DifferentOutputCountIsAClearError) {
    auto a = GraphBuilder().input("x", DType::F32, {2, 3}).node("Relu", {"x"}, {"y"}).output("y").build();
    auto b = GraphBuilder()
                 .input("x", DType::F32, {2, 3})
                 .node("Relu", {"x"}, {"y"})
                 .node("Neg", {"x"}, {"z"})
                 .output("y")
                 .output("z")
                 .build();
    auto r = compare::compareModels(a, b, {}, fastOptions());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("outputs"), std::string::npos) << r.error().describe();
}

TEST(CompareModels, DifferentOutputShapeIsAClearError) {
    auto a = GraphBuilder().input("x", DType::F32, {2, 3}).node("Relu", {"x"}, {"y"}).output("y").build();
    auto b = GraphBuilder()
                 .input("x", DType::F32, {2, 3})
                 .node("ReduceSum", {"x"}, {"y"}, {attrInts("axes", {1}), attrInt("keepdims", 0)})
                 .opset("", 12)
                 .output("y")
                 .build();
    auto r = compare::compareModels(a, b, {}, fastOptions());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("shape"), std::string::npos) << r.error().describe();
}

TEST(CompareModels, MissingInputIsAClearError) {
    auto a = GraphBuilder().input("x", DType::F32, {2, 3}).node("Relu", {"x"}, {"y"}).output("y").build();
    auto b =
        GraphBuilder().input("other", DType::F32, {2, 3}).node("Relu", {"other"}, {"y"}).output("y").build();
    auto r = compare::compareModels(a, b, {}, fastOptions());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("'other'"), std::string::npos) << r.error().describe();
}

TEST(CompareExport, JsonHasTheDocumentedKeys) {
    auto r = compare::compareModels(convStack(), convStack(0.125f), {}, fastOptions());
    ASSERT_TRUE(r.ok());
    const auto j = compare::toJson(r.value());
    for (const char* k :
         {"a_ms", "b_ms", "speedup", "outputs", "first_divergence", "a_weight_bytes", "b_nodes"})
        EXPECT_TRUE(j.contains(k)) << k;
    const auto& o = j["outputs"][0];
    for (const char* k : {"name", "max_abs", "mean_abs", "max_rel", "cosine", "snr_db", "top1", "top5"})
        EXPECT_TRUE(o.contains(k)) << k;
    EXPECT_EQ(j["first_divergence"]["node"], "Conv_c2");
    for (const char* k : {"node", "op_type", "value", "relative_error", "max_abs"})
        EXPECT_TRUE(j["first_divergence"].contains(k)) << k;
    const std::string table = compare::formatTable(r.value());
    EXPECT_NE(table.find("Conv_c2"), std::string::npos);
    EXPECT_NE(table.find("logits"), std::string::npos);
}
