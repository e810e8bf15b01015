// Resize/Upsample: hand-computed answers for the coordinate maps (half_pixel, align_corners,
// asymmetric, tf_crop_and_resize extrapolation), the separable fast path against the
// tensor-product reference on odd shapes for every mode, and errors on bad scales/sizes.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/util/error.h"

#include <filesystem>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrFloat;
using testing::attrInt;
using testing::attrString;
using testing::NodeSpec;
using Shape = std::vector<int64_t>;

// Linear/cubic: the fast path sums one dimension at a time in float, the reference sums the
// whole tensor product in double, so they agree to float rounding, not bit for bit.
constexpr double kSeparableAtol = 1e-5;

Tensor runOne(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs = {},
              int64_t opset = 13, bool reference = false, int threads = 1) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    return testing::runNode(spec, inputs, reference, threads).at(0);
}

Tensor f32(Shape shape, std::vector<float> v) { return Tensor::fromVector<float>(std::move(shape), v); }
Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::fromVector<int64_t>(std::move(shape), v); }
std::vector<float> values(const Tensor& t) {
    const auto d = t.toDoubles();
    return {d.begin(), d.end()};
}
void expectNear(const std::vector<float>& a, const std::vector<float>& b, float tol = 1e-5f) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

TEST(Resize, BilinearHalfPixelMatchesHandComputed) {
    // 2x2 -> 4x4: output pixel o maps to x = (o + 0.5) / 2 - 0.5, clamped at the borders.
    const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
    const Tensor y = runOne("Resize", {x, Tensor(), f32({4}, {1, 1, 2, 2})}, {attrString("mode", "linear")});
    EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
    expectNear(values(y), {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4});
}

TEST(Resize, AlignCornersAndSizesInput) {
    // [0, 10] -> 3 samples with align_corners: x = o * (2 - 1) / (3 - 1).
    const Tensor y = runOne("Resize", {f32({1, 2}, {0, 10}), Tensor(), Tensor(), i64({2}, {1, 3})},
                            {attrString("mode", "linear"), attrString("coordinate_transformation_mode", "align_corners")});
    expectNear(values(y), {0, 5, 10});
}

TEST(Resize, NearestModesOnAsymmetricCoordinates) {
    // [0, 1, 2] resized to 5 with asymmetric: x = o * 3 / 5 = 0, 0.6, 1.2, 1.8, 2.4.
    const Tensor x = f32({3}, {0, 1, 2});
    auto run = [&](const char* nearest) {
        return values(runOne("Resize", {x, Tensor(), Tensor(), i64({1}, {5})},
                             {attrString("coordinate_transformation_mode", "asymmetric"), attrString("nearest_mode", nearest)}));
    };
    EXPECT_EQ(run("floor"), (std::vector<float>{0, 0, 1, 1, 2}));
    EXPECT_EQ(run("ceil"), (std::vector<float>{0, 1, 2, 2, 2}));
    EXPECT_EQ(run("round_prefer_floor"), (std::vector<float>{0, 1, 1, 2, 2}));
}

TEST(Resize, TfCropAndResizeExtrapolates) {
    // roi [0.5, 1.5] of [0, 10]: x = 0.5 + o * 1 * 1 / 2 -> 0.5, 1.0, 1.5 (outside -> extrapolation).
    const Tensor y = runOne("Resize", {f32({2}, {0, 10}), f32({2}, {0.5f, 1.5f}), Tensor(), i64({1}, {3})},
                            {attrString("mode", "linear"), attrString("coordinate_transformation_mode", "tf_crop_and_resize"),
                             attrFloat("extrapolation_value", -7.f)});
    expectNear(values(y), {5, 10, -7});
}

TEST(Upsample, ScalesAttributeBefore9InputFrom9) {
    const Tensor x = f32({1, 1, 1, 2}, {1, 2});
    const Tensor a = runOne("Upsample", {x}, {testing::attrFloats("scales", {1, 1, 2, 2})}, 7);
    const Tensor b = runOne("Upsample", {x, f32({4}, {1, 1, 2, 2})}, {}, 9);
    EXPECT_EQ(a.shape(), (Shape{1, 1, 2, 4}));
    EXPECT_EQ(values(a), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2}));
    EXPECT_TRUE(testing::allClose(a, b, 0, 0));
    // Linear upsampling uses asymmetric coordinates: x = o / 2.
    expectNear(values(runOne("Upsample", {f32({2}, {0, 4}), f32({1}, {2})}, {attrString("mode", "linear")}, 9)), {0, 2, 4, 4});
}

struct Variant {
    const char* mode;
    const char* coord;
};

TEST(Resize, FastMatchesReferenceOnOddShapes) {
    const std::vector<Variant> variants = {
        {"nearest", "half_pixel"},       {"nearest", "asymmetric"},    {"nearest", "align_corners"},
        {"linear", "half_pixel"},        {"linear", "pytorch_half_pixel"}, {"linear", "align_corners"},
        {"linear", "tf_crop_and_resize"}, {"cubic", "half_pixel"},     {"cubic", "asymmetric"},
        {"cubic", "tf_crop_and_resize"}};
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{1, 3, 7, 13}, {1, 3, 13, 7}}, {{2, 1, 13, 1}, {2, 1, 27, 3}}, {{1, 2, 127}, {1, 2, 61}},
        {{1, 1, 1, 1}, {1, 1, 7, 5}},   {{3, 7, 5}, {2, 13, 5}},     {{1, 2, 3, 4, 5}, {1, 2, 4, 7, 3}}};
    uint64_t seed = 1;
    for (const auto& [in, out] : shapes)
        for (const auto& v : variants) {
            SCOPED_TRACE(std::string(v.mode) + " " + v.coord + " " + ir::shapeToString(in) + " -> " + ir::shapeToString(out));
            const Tensor x = testing::randomTensor(DType::F32, in, seed++);
            std::vector<float> roi(2 * in.size(), 0.f);
            for (size_t d = 0; d < in.size(); ++d) {
                roi[d] = -0.1f;
                roi[d + in.size()] = 0.9f;
            }
            const std::vector<Tensor> inputs = {x, f32({static_cast<int64_t>(roi.size())}, roi), Tensor(),
                                                i64({static_cast<int64_t>(out.size())}, out)};
            const std::vector<ir::Attribute> attrs = {attrString("mode", v.mode), attrString("coordinate_transformation_mode", v.coord),
                                                      attrInt("exclude_outside", std::string(v.mode) == "cubic"),
                                                      attrFloat("extrapolation_value", 3.f)};
            const Tensor ref = runOne("Resize", inputs, attrs, 13, true);
            EXPECT_EQ(ref.shape(), out);
            for (int threads : {1, 2})
                EXPECT_TRUE(testing::allClose(runOne("Resize", inputs, attrs, 13, false, threads), ref, kSeparableAtol, 1e-5));
        }
}

TEST(Resize, DtypesAndEmptyTensors) {
    const Tensor u8 = testing::randomTensor(DType::U8, {1, 1, 5, 7}, 3, 0, 255);
    const std::vector<ir::Attribute> linear = {attrString("mode", "linear")};
    const std::vector<Tensor> inputs = {u8, Tensor(), f32({4}, {1, 1, 1.5f, 0.5f})};
    const Tensor y = runOne("Resize", inputs, linear);
    EXPECT_EQ(y.dtype(), DType::U8);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 7, 3}));
    EXPECT_TRUE(testing::allClose(y, runOne("Resize", inputs, linear, 13, true), 1.0, 0));
    const Tensor f64 = testing::randomTensor(DType::F64, {2, 7}, 4);
    const std::vector<Tensor> in64 = {f64, Tensor(), f32({2}, {2, 0.6f})};
    EXPECT_TRUE(testing::allClose(runOne("Resize", in64, linear), runOne("Resize", in64, linear, 13, true), 1e-12, 1e-12));
    // Empty in, empty out.
    EXPECT_EQ(runOne("Resize", {f32({0, 3}, {}), Tensor(), f32({2}, {1, 2})}).shape(), (Shape{0, 6}));
}

TEST(Resize, BadScalesAndSizesFail) {
    const Tensor x = f32({1, 2}, {1, 2});
    EXPECT_THROW(runOne("Resize", {x, Tensor(), f32({2}, {1, -2})}), Error);
    EXPECT_THROW(runOne("Resize", {x, Tensor(), f32({1}, {2})}), Error);
    EXPECT_THROW(runOne("Resize", {x, Tensor(), f32({2}, {1, 2}), i64({2}, {1, 4})}), Error);
    EXPECT_THROW(runOne("Resize", {x, Tensor(), Tensor(), i64({2}, {1, -4})}), Error);
    EXPECT_THROW(runOne("Resize", {x, Tensor(), f32({2}, {1, 2})}, {attrString("mode", "area")}), Error);
}

TEST(ResizeNodeCases, ReferencePathPasses) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        if (name.rfind("test_resize", 0) != 0 && name.rfind("test_upsample", 0) != 0) continue;
        testing::CaseOptions options;
        options.reference = true;
        const auto r = testing::runOnnxCase(dir, options);
        EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << ": " << r.message;
        ++ran;
    }
    EXPECT_GE(ran, 24);
}

} // namespace
} // namespace opstudio
