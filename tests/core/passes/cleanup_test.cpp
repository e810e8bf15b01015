#include "support/graph_builder.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/passes/pipeline.h"

using namespace opstudio;
using namespace opstudio::testing;
using ir::DType;

namespace {

std::vector<passes::PassReport> applyPass(ir::Model& model, const std::string& spec) {
    passes::Pipeline p;
    p.steps.push_back(passes::Pipeline::parseStep(spec));
    auto r = p.run(model);
    if (!r) throw r.error();
    return r.value();
}

bool hasSkip(const passes::PassReport& r, const std::string& fragment) {
    for (const auto& s : r.skipped)
        if (s.reason.find(fragment) != std::string::npos) return true;
    return false;
}

} // namespace

TEST(IdentityRemoval, RemovesIdentityAndDropoutAndKeepsOutputs) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {2, 3})
                 .node("Identity", {"x"}, {"a"})
                 .node("Relu", {"a"}, {"b"})
                 .node("Dropout", {"b"}, {"c"})
                 .node("Identity", {"c"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 1);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "remove-identity");
    EXPECT_EQ(reports[0].applied, 3);
    EXPECT_EQ(countOps(*m, "Identity"), 0);
    EXPECT_EQ(countOps(*m, "Dropout"), 0);
    EXPECT_EQ(m->graph->outputs[0], "y"); // the graph output keeps its name
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 0, 0));
    EXPECT_TRUE(onnxio::checkModel(*m).ok());
}

TEST(IdentityRemoval, DoesNotFireOnInputToOutputIdentityAndSaysWhy) {
    auto m = GraphBuilder().input("x", DType::F32, {2}).node("Identity", {"x"}, {"y"}).output("y").build();
    auto reports = applyPass(*m, "remove-identity");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "graph input")) << reports[0].skipped.size();
    EXPECT_EQ(countOps(*m, "Identity"), 1);
}

TEST(ConstantFolding, FoldsConstantSubgraphAndRespectsSizeLimit) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {4})
                 .initializer("a", ir::Tensor::fromVector<float>({4}, {1, 2, 3, 4}))
                 .initializer("b", ir::Tensor::fromVector<float>({4}, {10, 20, 30, 40}))
                 .initializer("big_shape", ir::Tensor::fromVector<int64_t>({2}, {512, 1024}))
                 .node("Add", {"a", "b"}, {"ab"})
                 .node("Mul", {"ab", "ab"}, {"ab2"})
                 .node("Add", {"x", "ab2"}, {"y"})
                 .node("ConstantOfShape", {"big_shape"}, {"z"})
                 .node("ReduceSum", {"z"}, {"zs"}, {attrInt("keepdims", 0)})
                 .node("Add", {"y", "zs"}, {"out"})
                 .output("out")
                 .build();
    const auto feeds = randomModelFeeds(*m, 3);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fold-constants:max_size_kb=64");
    // Add, Mul folded; ConstantOfShape (2 MB > 64 KB, bigger than its input) skipped with a reason.
    EXPECT_EQ(countOps(*m, "Mul"), 0);
    EXPECT_EQ(countOps(*m, "ConstantOfShape"), 1);
    EXPECT_TRUE(hasSkip(reports[0], "max_size_kb=64"));
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 1e-5, 1e-6));
}

TEST(ConstantFolding, TurnsConstantNodesIntoInitializers) {
    ir::Attribute value = attrTensor("value", ir::Tensor::fromVector<float>({2}, {1, 2}));
    auto m = GraphBuilder()
                 .input("x", DType::F32, {2})
                 .node("Constant", {}, {"c"}, {value})
                 .node("Add", {"x", "c"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 4);
    const auto before = runModel(*m, feeds);
    applyPass(*m, "fold-constants");
    EXPECT_EQ(countOps(*m, "Constant"), 0);
    EXPECT_TRUE(m->graph->isInitializer("c"));
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 0, 0));
}

TEST(ShapeFolding, FoldsStaticShapeSubgraphIntoAConstantReshape) {
    // The exporter pattern: Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape.
    auto m = GraphBuilder(13)
                 .input("x", DType::F32, {3, 4, 5})
                 .initializer("zero", ir::Tensor::scalar<int64_t>(0))
                 .initializer("axes", ir::Tensor::fromVector<int64_t>({1}, {0}))
                 .initializer("minus1", ir::Tensor::fromVector<int64_t>({1}, {-1}))
                 .node("Shape", {"x"}, {"s"})
                 .node("Gather", {"s", "zero"}, {"n"}, {attrInt("axis", 0)})
                 .node("Unsqueeze", {"n", "axes"}, {"n1"})
                 .node("Concat", {"n1", "minus1"}, {"target"}, {attrInt("axis", 0)})
                 .node("Reshape", {"x", "target"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 5);
    const auto before = runModel(*m, feeds);
    auto reports = applyPass(*m, "fold-shapes");
    EXPECT_EQ(reports[0].applied, 1);
    applyPass(*m, "fold-constants");
    EXPECT_EQ(m->graph->nodeCount(), 1u);
    EXPECT_EQ(countOps(*m, "Reshape"), 1);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 0, 0));
}

TEST(ShapeFolding, SkipsSymbolicShapesWithAReason) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 13);
    ir::Graph& g = *m->graph;
    g.inputs = {"x"};
    ir::Value& v = g.value("x");
    v.dtype = DType::F32;
    v.shape = std::vector<ir::Dim>{ir::Dim::named("batch"), ir::Dim::of(4)};
    v.hasType = true;
    ir::Node n;
    n.name = "shape_of_x";
    n.opType = "Shape";
    n.inputs = {"x"};
    n.outputs = {"s"};
    g.addNode(n);
    g.outputs = {"s"};
    g.rebuildIndex();
    auto reports = applyPass(*m, "fold-shapes");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "not fully static"));
}

TEST(ChainSimplification, CancelsTransposePairsAndMergesReshapes) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {2, 3, 4})
                 .initializer("s1", ir::Tensor::fromVector<int64_t>({2}, {6, 4}))
                 .initializer("s2", ir::Tensor::fromVector<int64_t>({2}, {4, 6}))
                 .node("Transpose", {"x"}, {"t1"}, {attrInts("perm", {1, 2, 0})})
                 .node("Transpose", {"t1"}, {"t2"}, {attrInts("perm", {2, 0, 1})})
                 .node("Reshape", {"t2", "s1"}, {"r1"})
                 .node("Reshape", {"r1", "s2"}, {"r2"})
                 .node("Relu", {"r2"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 6);
    const auto before = runModel(*m, feeds);
    applyPass(*m, "simplify-chains");
    EXPECT_EQ(countOps(*m, "Transpose"), 0); // perm composition is the identity
    EXPECT_EQ(countOps(*m, "Reshape"), 1);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 0, 0));
}

TEST(ChainSimplification, KeepsLossyCastRoundTripAndSaysWhy) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {4})
                 .node("Cast", {"x"}, {"h"}, {attrInt("to", static_cast<int64_t>(DType::F16))})
                 .node("Cast", {"h"}, {"y"}, {attrInt("to", static_cast<int64_t>(DType::F32))})
                 .output("y")
                 .build();
    auto reports = applyPass(*m, "simplify-chains");
    EXPECT_EQ(countOps(*m, "Cast"), 2);
    EXPECT_TRUE(hasSkip(reports[0], "float16"));
}

TEST(ChainSimplification, RemovesLosslessCastRoundTrip) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {4})
                 .node("Cast", {"x"}, {"d"}, {attrInt("to", static_cast<int64_t>(DType::F64))})
                 .node("Cast", {"d"}, {"f"}, {attrInt("to", static_cast<int64_t>(DType::F32))})
                 .node("Relu", {"f"}, {"y"})
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 7);
    const auto before = runModel(*m, feeds);
    applyPass(*m, "simplify-chains");
    EXPECT_EQ(countOps(*m, "Cast"), 0);
    EXPECT_TRUE(allClose(runModel(*m, feeds)[0], before[0], 0, 0));
}

TEST(DeadNodeElimination, RemovesUnusedChainsAndInitializers) {
    auto m = GraphBuilder()
                 .input("x", DType::F32, {4})
                 .initializer("w", ir::Tensor::fromVector<float>({4}, {1, 2, 3, 4}))
                 .node("Mul", {"x", "w"}, {"unused1"})
                 .node("Relu", {"unused1"}, {"unused2"})
                 .node("Relu", {"x"}, {"y"})
                 .output("y")
                 .build();
    auto reports = applyPass(*m, "eliminate-dead-nodes");
    EXPECT_EQ(m->graph->nodeCount(), 1u);
    EXPECT_FALSE(m->graph->isInitializer("w"));
    EXPECT_EQ(reports[0].nodesRemoved, 2);
}

TEST(Pipeline, RecipeRoundTripsThroughJson) {
    passes::Pipeline p;
    p.add("fold-constants", "max_size_kb=16");
    p.add("remove-identity", "dropout=false");
    auto back = passes::Pipeline::fromJson(p.toJson());
    ASSERT_TRUE(back) << back.error().describe();
    ASSERT_EQ(back.value().steps.size(), 2u);
    EXPECT_EQ(back.value().steps[0].params.getInt("max_size_kb"), 16);
    EXPECT_FALSE(back.value().steps[1].params.getBool("dropout"));
}

TEST(Pipeline, RejectsBadParametersClearly) {
    EXPECT_THROW(passes::Pipeline::parseStep("fold-constants:max_size_kb=-3"), Error);
    EXPECT_THROW(passes::Pipeline::parseStep("fold-constants:nope=1"), Error);
    EXPECT_THROW(passes::Pipeline::parseStep("no-such-pass"), Error);
    EXPECT_FALSE(passes::Pipeline::fromJson("{\"passes\": 3}"));
    EXPECT_FALSE(passes::Pipeline::fromJson("not json"));
}

TEST(Pipeline, CleanupPresetKeepsEveryCommittedModelExact) {
    for (const char* name : {"mobilenet_v2", "bert_encoder", "gpt_decoder"}) {
        auto loaded = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/" + name + "/model.onnx");
        ASSERT_TRUE(loaded) << loaded.error().describe();
        ir::Model m = std::move(loaded.value());
        const auto feeds = randomModelFeeds(m, 9);
        const auto before = runModel(m, feeds);
        auto reports = passes::Pipeline::preset("cleanup").run(m);
        ASSERT_TRUE(reports) << reports.error().describe();
        EXPECT_TRUE(onnxio::checkModel(m).ok()) << name << ": " << onnxio::checkModel(m).error().describe();
        const auto after = runModel(m, feeds);
        EXPECT_TRUE(allClose(after[0], before[0], 1e-5, 1e-5)) << name;
        EXPECT_EQ(countOps(m, "Constant"), 0) << name;
    }
}
