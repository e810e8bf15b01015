// Every committed model through the "all-fusions" preset: outputs still match the original (1e-4),
// ONNX Runtime runs the optimized model with the same outputs, and the ONNX checker accepts them.
// Debian's checker (1.12) has no com.microsoft schemas; it does not reject nodes of a custom domain
// it has no schema for, it just does not check them (only ai.onnx / ai.onnx.ml nodes must have a
// registered schema). So a model with contrib ops passes the checker with those nodes unchecked:
// ORT is the real check for them.
#include "fusion_test_util.h"

using namespace opstudio;
using namespace opstudio::testing;

namespace {

/// Random feeds, with attention masks made of 0/1 (the last position always attended).
std::map<std::string, ir::Tensor> modelFeeds(const ir::Model& m, uint64_t seed) {
    auto feeds = randomModelFeeds(m, seed);
    for (auto& [name, t] : feeds) {
        if (name.find("mask") == std::string::npos || t.dtype() != ir::DType::I64) continue;
        auto v = t.span<int64_t>();
        for (size_t i = 0; i < v.size(); ++i) v[i] = (i % 5 == 3) ? 0 : 1;
    }
    return feeds;
}

bool onlyOnnxDomain(const ir::Model& m) {
    bool only = true;
    m.graph->forEachNode([&](const ir::Node& n) { only = only && n.domain.empty(); });
    return only;
}

} // namespace

TEST(FusionPreset, EveryCommittedModelStillMatchesAndRunsInOrt) {
    for (const char* name : {"mobilenet_v2", "squeezenet1_1", "resnet_bn_stack", "gpt_decoder", "bert_encoder"}) {
        auto loaded = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/" + name + "/model.onnx");
        ASSERT_TRUE(loaded) << loaded.error().describe();
        ir::Model m = std::move(loaded.value());
        const auto feeds = modelFeeds(m, 9);
        const auto before = runModel(m, feeds);
        const size_t nodesBefore = m.graph->nodeCount();
        auto reports = passes::Pipeline::preset("all-fusions").run(m);
        ASSERT_TRUE(reports) << reports.error().describe();
        std::string summary;
        for (const auto& r : reports.value()) {
            if (r.applied == 0 && r.skipped.empty()) continue;
            summary += r.pass + ": applied " + std::to_string(r.applied) + "\n" + skipsOf(r);
            for (const auto& n : r.notes) summary += "  note: " + n + "\n";
        }
        std::cout << "[" << name << "] " << nodesBefore << " -> " << m.graph->nodeCount() << " nodes\n" << summary;
        EXPECT_LT(m.graph->nodeCount(), nodesBefore) << name;
        const auto after = runModel(m, feeds);
        ASSERT_EQ(after.size(), before.size());
        for (size_t i = 0; i < after.size(); ++i)
            EXPECT_LE(maxAbsDiff(after[i], before[i]), 1e-4) << name << " output " << i;
        const auto st = onnxio::checkModel(m);
        EXPECT_TRUE(st.ok()) << name << (onlyOnnxDomain(m) ? "" : " (with contrib ops)") << ": " << st.error().describe();
        expectOrtMatches(m, feeds, 1e-4, std::string(name) + "_fused");
    }
}
