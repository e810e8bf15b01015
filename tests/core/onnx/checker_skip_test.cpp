// Saving models newer than Debian's ONNX checker (libonnx 1.12 knows opsets <= 17): the checker is
// skipped with a note, our own structural validation still runs, ONNX Runtime runs the saved file.
#include "support/graph_builder.h"
#include "support/ort_peer.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/passes/pipeline.h"

#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

/// x[2, 7] -> Split(axis 1, num_outputs = 3: parts 3, 3, 1; an opset-18 attribute) -> Relu(a), b * 2 + b, c.
std::shared_ptr<ir::Model> opset18SplitModel() {
    return GraphBuilder(18)
        .input("x", ir::DType::F32, {2, 7})
        .initializer("two", ir::Tensor::scalar(2.f))
        .node("Split", {"x"}, {"a", "b", "c"}, {attrInt("axis", 1), attrInt("num_outputs", 3)}, {}, "split")
        .node("Relu", {"a"}, {"ra"}, {}, {}, "relu")
        .node("Mul", {"b", "two"}, {"b2"}, {}, {}, "mul")
        .node("Add", {"b2", "b"}, {"sum"}, {}, {}, "add")
        .node("Identity", {"c"}, {"ci"}, {}, {}, "identity")
        .output("ra")
        .output("sum")
        .output("ci")
        .build();
}

} // namespace

TEST(CheckerSkip, ReasonNamesTheOpsetTheCheckerDoesNotKnow) {
    auto m18 = opset18SplitModel();
    const auto reason = onnxio::checkerSkipReason(*m18);
    ASSERT_TRUE(reason.has_value());
    EXPECT_EQ(*reason, "checker skipped: opset 18 is newer than the checker (17)");
    EXPECT_FALSE(onnxio::checkerSkipReason(*GraphBuilder(17).input("x", ir::DType::F32, {1}).output("x").build()));
    auto ml = GraphBuilder(13).input("x", ir::DType::F32, {1}).output("x").opset("ai.onnx.ml", 4).build();
    ASSERT_TRUE(onnxio::checkerSkipReason(*ml).has_value());
    EXPECT_EQ(*onnxio::checkerSkipReason(*ml), "checker skipped: ai.onnx.ml opset 4 is newer than the checker (3)");
    // The checker itself would refuse the file: that is why it is skipped, not trusted.
    EXPECT_FALSE(onnxio::checkModel(*m18).ok());
}

TEST(CheckerSkip, OptimizedOpset18ModelSavesWithNoteAndReloadsSame) {
    auto m = opset18SplitModel();
    const auto feeds = randomModelFeeds(*m, 3);
    const auto before = runModel(*m, feeds);
    auto reports = passes::Pipeline::preset("all-fusions").run(*m);
    ASSERT_TRUE(reports.ok()) << reports.error().describe();
    TempDir dir;
    const std::string path = (dir / "split18.onnx").string();
    std::vector<std::string> notes;
    onnxio::SaveOptions options;
    options.notes = &notes;
    const auto saved = onnxio::saveModel(*m, path, options);
    ASSERT_TRUE(saved.ok()) << saved.error().describe();
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_EQ(notes[0], "checker skipped: opset 18 is newer than the checker (17)");
    auto back = onnxio::loadModel(path);
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back.value().opsetFor(""), 18);
    const auto after = runModel(back.value(), feeds);
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(allClose(after[i], before[i], 0, 0)) << "output " << i;
}

TEST(CheckerSkip, StructuralValidationStillRunsWhenTheCheckerIsSkipped) {
    auto m = opset18SplitModel();
    m->graph->forEachNode([](ir::Node& n) {
        if (n.name == "relu") n.inputs[0] = "nowhere";
    });
    TempDir dir;
    std::vector<std::string> notes;
    onnxio::SaveOptions options;
    options.notes = &notes;
    const auto saved = onnxio::saveModel(*m, (dir / "broken.onnx").string(), options);
    ASSERT_FALSE(saved.ok());
    EXPECT_NE(saved.error().describe().find("input 'nowhere' of node 'relu' (Relu) is never defined"),
              std::string::npos)
        << saved.error().describe();
    // Not even with the checker switched off.
    options.check = false;
    EXPECT_FALSE(onnxio::saveModel(*m, (dir / "broken2.onnx").string(), options).ok());
}

TEST(CheckerSkip, KnownOpsetsAreStillChecked) {
    // LayerNormalization does not exist in opset 12: the checker knows opset 12 and must say so.
    auto m = GraphBuilder(12)
                 .input("x", ir::DType::F32, {2, 4})
                 .initializer("g", ir::Tensor::fromVector<float>({4}, {1, 1, 1, 1}))
                 .node("LayerNormalization", {"x", "g"}, {"y"}, {}, {}, "ln")
                 .output("y")
                 .build();
    EXPECT_FALSE(onnxio::checkerSkipReason(*m));
    TempDir dir;
    const auto saved = onnxio::saveModel(*m, (dir / "ln12.onnx").string());
    ASSERT_FALSE(saved.ok());
    EXPECT_NE(saved.error().describe().find("ONNX checker"), std::string::npos) << saved.error().describe();
}

TEST(CheckerSkipInterop, OrtRunsTheSavedOpset18Model) {
    if (!ortAvailable()) GTEST_SKIP() << "ONNX Runtime (tests/interop/node_modules/onnxruntime-node) is not installed";
    auto m = opset18SplitModel();
    const auto feeds = randomModelFeeds(*m, 5);
    ASSERT_TRUE(passes::Pipeline::preset("all-fusions").run(*m).ok());
    TempDir dir;
    const std::string path = (dir / "split18_ort.onnx").string();
    ASSERT_TRUE(onnxio::saveModel(*m, path).ok());
    const auto ours = runModel(*m, feeds);
    auto ort = runWithOrt(path, feeds, 1, "all");
    ASSERT_TRUE(ort.ok()) << ort.error().describe();
    ASSERT_EQ(ort.value().size(), ours.size());
    EXPECT_EQ(ort.value()[2].second.shape(), (std::vector<int64_t>{2, 1})); // num_outputs: last part smaller
    for (size_t i = 0; i < ours.size(); ++i)
        EXPECT_TRUE(allClose(ort.value()[i].second, ours[i], 1e-6, 1e-6)) << "output " << i;
}
