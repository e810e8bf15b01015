// fuse-rmsnorm: the torch-exported RMSNorm of the trained llama_bytes (Pow/ReduceMean/Add/Sqrt/Div(1, ·)/Mul/Mul,
// 8 of 9 after a residual Add) becomes com.microsoft SkipSimplifiedLayerNormalization, the
// outputs match the unfused model and ONNX Runtime; the x / sqrt and Reciprocal forms, no scale, and the
// skip reasons (the first norm has no residual Add: its fused form is not valid ONNX) on synthetic graphs.
#include "fusion_test_util.h"

#include "opstudio/calibrate/sources.h"

#include <random>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

/// Fused vs unfused: one row normalization instead of six ops, float rounding only.
constexpr double kRmsNormFusionMaxAbs = 1e-4;

ir::Tensor randn(std::vector<int64_t> shape, uint32_t seed) {
    ir::Tensor t(ir::DType::F32, std::move(shape));
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& v : t.span<float>()) v = d(rng);
    return t;
}


TEST(RmsNormFusion, TrainedLlamaNormsFuseAndMatchOrt) {
    const std::string dir = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes";
    auto loaded = onnxio::loadModel(dir + "/model.onnx");
    ASSERT_TRUE(loaded.ok()) << loaded.error().what();
    ir::Model fused = loaded.value().clone();
    const auto reports = applyPass(fused, "fuse-rmsnorm");
    EXPECT_EQ(reports[0].applied, 8) << skipsOf(reports[0]);
    EXPECT_EQ(countOps(fused, "SkipSimplifiedLayerNormalization"), 8); // after residual Adds
    EXPECT_EQ(countOps(fused, "Sqrt"), 1);                             // the first norm, after the embedding
    EXPECT_TRUE(hasSkip(reports[0], "RMSNorm without a residual Add")) << skipsOf(reports[0]);
    auto data = calibrate::loadCalibrationFolder(loaded.value(), dir + "/test_data_set_0");
    ASSERT_TRUE(data.ok()) << data.error().what();
    const auto& feeds = data.value().feeds.at(0);
    const auto a = runModel(fused, feeds), b = runModel(loaded.value(), feeds);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_LE(maxAbsDiff(a[i], b[i]), kRmsNormFusionMaxAbs) << "output " << i;
    expectOrtMatches(fused, feeds, kRmsNormFusionMaxAbs, "rms_llama");
}

TEST(RmsNormFusion, ReciprocalAndDivisionFormsWithAndWithoutScale) {
    for (int form : {0, 1}) {
        GraphBuilder b(17);
        b.input("a", ir::DType::F32, {2, 5, 16})
            .input("c", ir::DType::F32, {2, 5, 16})
            .node("Add", {"a", "c"}, {"x"})
            .initializer("two", ir::Tensor::scalar<float>(2.f))
            .initializer("eps", ir::Tensor::scalar<float>(1e-6f))
            .initializer("w", randn({16}, 3))
            .node("Pow", {"x", "two"}, {"sq"})
            .node("ReduceMean", {"sq"}, {"ms"}, {attrInts("axes", {-1})})
            .node("Add", {"ms", "eps"}, {"v"})
            .node("Sqrt", {"v"}, {"s"});
        if (form == 0) {
            b.node("Reciprocal", {"s"}, {"r"}).node("Mul", {"r", "x"}, {"n"}).node("Mul", {"n", "w"}, {"y"});
        } else {
            b.node("Div", {"x", "s"}, {"y"}); // no scale
        }
        auto m = b.output("y").build();
        auto original = std::make_shared<ir::Model>(m->clone());
        const auto r = applyPass(*m, "fuse-rmsnorm");
        ASSERT_EQ(r[0].applied, 1) << "form " << form << "\n" << skipsOf(r[0]);
        EXPECT_EQ(countOps(*m, "SkipSimplifiedLayerNormalization"), 1);
        EXPECT_EQ(m->graph->nodeCount(), 1u); // the sum is not read elsewhere: three outputs unused
        const auto feeds = randomModelFeeds(*original, 5);
        EXPECT_LE(maxAbsDiff(runModel(*m, feeds)[0], runModel(*original, feeds)[0]), kRmsNormFusionMaxAbs);
        expectOrtMatches(*m, feeds, kRmsNormFusionMaxAbs, "rms_form");
    }
}

TEST(RmsNormFusion, SkipsWithReasons) {
    // Mean over the middle axis is not RMSNorm over features.
    auto m = GraphBuilder(17)
                 .input("x", ir::DType::F32, {2, 5, 16})
                 .initializer("two", ir::Tensor::scalar<float>(2.f))
                 .initializer("eps", ir::Tensor::scalar<float>(1e-6f))
                 .node("Pow", {"x", "two"}, {"sq"})
                 .node("ReduceMean", {"sq"}, {"ms"}, {attrInts("axes", {1})})
                 .node("Add", {"ms", "eps"}, {"v"})
                 .node("Sqrt", {"v"}, {"s"})
                 .node("Div", {"x", "s"}, {"y"})
                 .output("y")
                 .build();
    const auto r = applyPass(*m, "fuse-rmsnorm");
    EXPECT_EQ(r[0].applied, 0);
    EXPECT_TRUE(hasSkip(r[0], "does not reduce only the last axis")) << skipsOf(r[0]);
    // A residual Add whose sum is read further keeps it through the fourth output.
    auto res = GraphBuilder(17)
                   .input("a", ir::DType::F32, {1, 3, 8})
                   .input("c", ir::DType::F32, {1, 3, 8})
                   .initializer("two", ir::Tensor::scalar<float>(2.f))
                   .initializer("eps", ir::Tensor::scalar<float>(1e-5f))
                   .initializer("one", ir::Tensor::scalar<float>(1.f))
                   .node("Add", {"a", "c"}, {"x"})
                   .node("Pow", {"x", "two"}, {"sq"})
                   .node("ReduceMean", {"sq"}, {"ms"}, {attrInts("axes", {-1})})
                   .node("Add", {"ms", "eps"}, {"v"})
                   .node("Sqrt", {"v"}, {"s"})
                   .node("Div", {"one", "s"}, {"r"})
                   .node("Mul", {"x", "r"}, {"y"})
                   .node("Add", {"x", "y"}, {"z"})
                   .output("z")
                   .build();
    auto original = std::make_shared<ir::Model>(res->clone());
    const auto rr = applyPass(*res, "fuse-rmsnorm");
    ASSERT_EQ(rr[0].applied, 1) << skipsOf(rr[0]);
    const ir::Node* skip = findOp(*res, "SkipSimplifiedLayerNormalization");
    ASSERT_NE(skip, nullptr);
    ASSERT_EQ(skip->outputs.size(), 4u);
    EXPECT_EQ(skip->outputs[3], "x");
    const auto feeds = randomModelFeeds(*original, 6);
    EXPECT_LE(maxAbsDiff(runModel(*res, feeds)[0], runModel(*original, feeds)[0]), kRmsNormFusionMaxAbs);
    expectOrtMatches(*res, feeds, kRmsNormFusionMaxAbs, "rms_residual");
}

} // namespace
