// fuse-attention on torch-exported attention blocks (tests/data/make_attention_models.py): fused QKV cut by
// Split or Slice, torch.nn.MultiheadAttention's sequence-first graph, opset 13 and 17, causal masks by Where
// and by an added triangular constant, no mask; grouped-query attention is skipped with its head counts.
// Each fused model matches torch's reference output and the unfused model within kAttentionFusionMaxAbs, and
// ONNX Runtime runs it with the same result. Separate Q/K/V projections: gpt_decoder and bert_encoder
// (fusion_models_test.cpp).
#include "fusion_test_util.h"

#include "passes/fusion/fusion_util.h"

#include <cmath>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

struct Case {
    const char* name;
    bool causal;
};

std::string modelDir(const std::string& name) {
    return std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/" + name;
}

struct DataSet {
    std::map<std::string, ir::Tensor> inputs;
    std::vector<ir::Tensor> outputs;
};

/// test_data_set_0 of a one-input, one-output model.
DataSet loadDataSet(const std::string& dir) {
    DataSet d;
    std::string name;
    auto in = onnxio::readTensorFile(dir + "/input_0.pb", &name);
    auto out = onnxio::readTensorFile(dir + "/output_0.pb");
    if (!in || !out) throw std::runtime_error("cannot read " + dir);
    d.inputs.emplace(name, std::move(in.value()));
    d.outputs.push_back(std::move(out.value()));
    return d;
}

int countOp(const ir::Model& m, const std::string& op) {
    int n = 0;
    m.graph->forEachNode([&](const ir::Node& node) { n += node.opType == op; });
    return n;
}

const passes::PassReport& attentionReport(const std::vector<passes::PassReport>& reports) {
    for (const auto& r : reports)
        if (r.pass == "fuse-attention") return r;
    throw std::runtime_error("fuse-attention did not run");
}

} // namespace

TEST(AttentionExports, TorchExportedVariantsFuseAndMatchTorchAndOrt) {
    for (const Case& c :
         {Case{"attn_fused_qkv_split", true}, Case{"attn_fused_qkv_slice", true},
          Case{"attn_fused_qkv_nomask", false}, Case{"attn_mha", false}, Case{"attn_mha_causal", true}}) {
        SCOPED_TRACE(c.name);
        auto loaded = onnxio::loadModel(modelDir(c.name) + "/model.onnx");
        ASSERT_TRUE(loaded) << loaded.error().describe();
        ir::Model m = std::move(loaded.value());
        const auto data = loadDataSet(modelDir(c.name) + "/test_data_set_0");
        ASSERT_EQ(data.outputs.size(), 1u);
        const auto before = runModel(m, data.inputs);
        auto reports = passes::Pipeline::preset("all-fusions").run(m);
        ASSERT_TRUE(reports) << reports.error().describe();
        const auto& att = attentionReport(reports.value());
        EXPECT_EQ(att.applied, 1) << skipsOf(att);
        ASSERT_EQ(countOp(m, "Attention"), 1);
        EXPECT_EQ(countOp(m, "Softmax"), 0);
        const ir::Node* node = findOp(m, "Attention");
        EXPECT_EQ(node->attrInt("num_heads", 0), 4);
        EXPECT_EQ(node->attrInt("unidirectional", 0), c.causal ? 1 : 0);
        EXPECT_NEAR(node->attrFloat("scale", 0.f), 1.0 / std::sqrt(8.0), 1e-6);
        const auto after = runModel(m, data.inputs);
        EXPECT_LE(maxAbsDiff(after[0], data.outputs[0]), passes::fusion::kAttentionFusionMaxAbs);
        EXPECT_LE(maxAbsDiff(after[0], before[0]), passes::fusion::kAttentionFusionMaxAbs);
        expectOrtMatches(m, data.inputs, passes::fusion::kAttentionFusionMaxAbs,
                         std::string(c.name) + "_fused");
    }
}

TEST(AttentionExports, GroupedQueryAttentionIsSkippedWithHeadCounts) {
    auto loaded = onnxio::loadModel(modelDir("attn_gqa") + "/model.onnx");
    ASSERT_TRUE(loaded) << loaded.error().describe();
    ir::Model m = std::move(loaded.value());
    auto reports = passes::Pipeline::preset("all-fusions").run(m);
    ASSERT_TRUE(reports) << reports.error().describe();
    const auto& att = attentionReport(reports.value());
    EXPECT_EQ(att.applied, 0);
    EXPECT_TRUE(hasSkip(att, "grouped-query attention: 4 query heads of 8, 2 K/V heads")) << skipsOf(att);
    EXPECT_EQ(countOp(m, "Attention"), 0);
}

TEST(AttentionExports, BlockWhoseIntermediateIsReadElsewhereIsNotFused) {
    // The packed QKV output is also a graph output: fusing would drop a value the user reads.
    auto loaded = onnxio::loadModel(modelDir("attn_fused_qkv_split") + "/model.onnx");
    ASSERT_TRUE(loaded) << loaded.error().describe();
    ir::Model m = std::move(loaded.value());
    auto cleaned = passes::Pipeline::preset("cleanup").run(m);
    ASSERT_TRUE(cleaned) << cleaned.error().describe();
    std::string packed;
    m.graph->forEachNode([&](const ir::Node& n) {
        if (n.opType == "Split") packed = n.inputs[0];
    });
    ASSERT_FALSE(packed.empty());
    m.graph->outputs.push_back(packed);
    auto reports = applyPass(m, "fuse-attention");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "is a graph output")) << skipsOf(reports[0]);
}
