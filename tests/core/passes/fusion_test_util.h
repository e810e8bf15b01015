#pragma once
// Shared by the fusion tests: apply a pass, find nodes, check skips, compare with ONNX Runtime.
#include "support/graph_builder.h"
#include "support/ort_peer.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/passes/pipeline.h"

#include <filesystem>
#include <unistd.h>

namespace opstudio::testing {

inline std::vector<passes::PassReport> applyPass(ir::Model& model, const std::string& spec) {
    passes::Pipeline p;
    p.steps.push_back(passes::Pipeline::parseStep(spec));
    auto r = p.run(model);
    if (!r) throw r.error();
    return r.value();
}

inline bool hasSkip(const passes::PassReport& r, const std::string& fragment) {
    for (const auto& s : r.skipped)
        if (s.reason.find(fragment) != std::string::npos) return true;
    return false;
}

inline std::string skipsOf(const passes::PassReport& r) {
    std::string out;
    for (const auto& s : r.skipped) out += s.node + " (" + s.opType + "): " + s.reason + "\n";
    return out;
}

inline const ir::Node* findOp(const ir::Model& m, const std::string& op) {
    const ir::Node* found = nullptr;
    m.graph->forEachNode([&](const ir::Node& n) {
        if (!found && n.opType == op) found = &n;
    });
    return found;
}

inline ir::NodeId nodeId(const ir::Model& m, const std::string& name) {
    ir::NodeId id = ir::kNoNode;
    m.graph->forEachNode([&](const ir::Node& n) {
        if (n.name == name) id = n.id;
    });
    return id;
}

inline std::string tempModelPath(const std::string& stem) {
    const auto dir = std::filesystem::temp_directory_path() / ("opstudio_fusion_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / (stem + ".onnx")).string();
}

/// Saves the model and runs it in ONNX Runtime (opt level "disabled"); expects our outputs within atol.
inline void expectOrtMatches(const ir::Model& m, const std::map<std::string, ir::Tensor>& feeds, double atol,
                             const std::string& stem = "model", bool check = true) {
    OPSTUDIO_REQUIRE_ORT();
    const std::string path = tempModelPath(stem);
    onnxio::SaveOptions options;
    options.check = check;
    const auto saved = onnxio::saveModel(m, path, options);
    ASSERT_TRUE(saved.ok()) << saved.error().describe();
    auto ort = runWithOrt(path, feeds, 1, "disabled");
    ASSERT_TRUE(ort.ok()) << ort.error().describe();
    const auto ours = runModel(m, feeds);
    ASSERT_EQ(ort.value().size(), ours.size());
    for (size_t i = 0; i < ours.size(); ++i)
        EXPECT_LE(maxAbsDiff(ours[i], ort.value()[i].second), atol) << "output " << i << " of " << stem;
}

} // namespace opstudio::testing
