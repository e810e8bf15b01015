// Gather/Scatter kernels: hand-computed answers for every index rule (axis, negative indices,
// batch_dims, reductions, duplicate indices), fast vs reference Gather on odd and empty shapes,
// and out-of-range indices failing with an error instead of reading or writing out of bounds.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/util/error.h"

#include <filesystem>
#include <numeric>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrInt;
using testing::attrString;
using testing::NodeSpec;
using Shape = std::vector<int64_t>;

Tensor runOne(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs = {},
              int64_t opset = 17, bool reference = false, int threads = 1) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    return testing::runNode(spec, inputs, reference, threads).at(0);
}

Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::fromVector<int64_t>(std::move(shape), v); }
Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::fromVector<int32_t>(std::move(shape), v); }
Tensor f32(Shape shape, std::vector<float> v) { return Tensor::fromVector<float>(std::move(shape), v); }
Tensor iota(Shape shape) {
    std::vector<float> v(ir::shapeNumel(shape));
    std::iota(v.begin(), v.end(), 0.f);
    return f32(std::move(shape), v);
}
std::vector<float> values(const Tensor& t) {
    const auto d = t.toDoubles();
    return {d.begin(), d.end()};
}

TEST(Gather, AxisAndNegativeIndices) {
    const Tensor x = iota({3, 4});
    Tensor y = runOne("Gather", {x, i64({2}, {-1, 0})});
    EXPECT_EQ(y.shape(), (Shape{2, 4}));
    EXPECT_EQ(values(y), (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3}));
    y = runOne("Gather", {x, i32({2, 1}, {3, 1})}, {attrInt("axis", 1)});
    EXPECT_EQ(y.shape(), (Shape{3, 2, 1}));
    EXPECT_EQ(values(y), (std::vector<float>{3, 1, 7, 5, 11, 9}));
    // Scalar index drops the axis.
    EXPECT_EQ(runOne("Gather", {x, i64({}, {2})}).shape(), (Shape{4}));
}

TEST(Gather, OutOfRangeIndexFails) {
    EXPECT_THROW(runOne("Gather", {iota({3, 4}), i64({1}, {3})}), Error);
    EXPECT_THROW(runOne("Gather", {iota({3, 4}), i64({1}, {-4})}), Error);
    EXPECT_THROW(runOne("Gather", {iota({3, 4}), f32({1}, {0})}), Error); // float indices
}

TEST(Gather, FastMatchesReferenceOnOddShapes) {
    uint64_t seed = 1;
    for (const Shape& s : std::vector<Shape>{{1, 7, 13}, {13, 127, 1}, {7, 0, 13}, {127, 13, 7}})
        for (int64_t axis : {0, 1, 2}) {
            const int64_t dim = s[axis];
            const Tensor idx = dim > 0 ? testing::randomTensor(DType::I64, {5, 3}, seed++, -dim, dim) : i64({0}, {});
            const Tensor x = testing::randomTensor(DType::F32, s, seed++);
            const Tensor ref = runOne("Gather", {x, idx}, {attrInt("axis", axis)}, 17, true);
            for (int threads : {1, 2})
                EXPECT_TRUE(testing::allClose(runOne("Gather", {x, idx}, {attrInt("axis", axis)}, 17, false, threads), ref, 0, 0));
        }
}

TEST(Gather, MovesStrings) {
    Tensor s(DType::String, {3});
    s.strings() = {"a", "b", "c"};
    EXPECT_EQ(runOne("Gather", {s, i64({2}, {2, 0})}).strings(), (std::vector<std::string>{"c", "a"}));
}

TEST(GatherElements, PicksAlongAxis) {
    // out[i][j] = x[i][idx[i][j]] with axis 1.
    const Tensor y = runOne("GatherElements", {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, -1, 0})}, {attrInt("axis", 1)});
    EXPECT_EQ(values(y), (std::vector<float>{1, 1, 4, 3}));
    EXPECT_THROW(runOne("GatherElements", {iota({2, 2}), i64({2, 2}, {0, 2, 0, 0})}, {attrInt("axis", 1)}), Error);
    // Indices larger than data on a non-axis dim must fail, not read past the end.
    EXPECT_THROW(runOne("GatherElements", {iota({2, 2}), i64({3, 1}, {0, 0, 0})}, {attrInt("axis", 1)}), Error);
}

TEST(GatherND, BatchDimsAndSlices) {
    const Tensor x = iota({2, 2, 2});
    // Tuples of length 2 address rows: [[0,1],[1,0]] -> x[0,1,:], x[1,0,:].
    EXPECT_EQ(values(runOne("GatherND", {x, i64({2, 2}, {0, 1, 1, 0})})), (std::vector<float>{2, 3, 4, 5}));
    // batch_dims=1: per batch b, index [k] addresses x[b, k, :].
    const Tensor y = runOne("GatherND", {x, i64({2, 1}, {1, 0})}, {attrInt("batch_dims", 1)});
    EXPECT_EQ(y.shape(), (Shape{2, 2}));
    EXPECT_EQ(values(y), (std::vector<float>{2, 3, 4, 5}));
    EXPECT_THROW(runOne("GatherND", {x, i64({1, 3}, {0, 0, 2})}), Error);
    EXPECT_THROW(runOne("GatherND", {x, i64({1, 4}, {0, 0, 0, 0})}), Error);
}

TEST(ScatterElements, ReductionsAndDuplicates) {
    const Tensor data = f32({1, 5}, {1, 2, 3, 4, 5});
    const Tensor idx = i64({1, 2}, {1, 1});
    const Tensor upd = f32({1, 2}, {1.1f, 2.1f});
    // No reduction: updates apply in order, the last duplicate wins.
    EXPECT_EQ(values(runOne("ScatterElements", {data, idx, upd}, {attrInt("axis", 1)})),
              (std::vector<float>{1, 2.1f, 3, 4, 5}));
    EXPECT_EQ(values(runOne("ScatterElements", {data, idx, upd}, {attrInt("axis", 1), attrString("reduction", "add")}, 16)),
              (std::vector<float>{1, 2 + 1.1f + 2.1f, 3, 4, 5}));
    EXPECT_EQ(values(runOne("ScatterElements", {data, idx, upd}, {attrInt("axis", 1), attrString("reduction", "mul")}, 16)),
              (std::vector<float>{1, 2 * 1.1f * 2.1f, 3, 4, 5}));
    EXPECT_EQ(values(runOne("ScatterElements", {data, i64({1, 1}, {-1}), f32({1, 1}, {9})}, {attrInt("axis", 1)})),
              (std::vector<float>{1, 2, 3, 4, 9}));
    EXPECT_THROW(runOne("ScatterElements", {data, i64({1, 1}, {5}), f32({1, 1}, {9})}, {attrInt("axis", 1)}), Error);
    // Scatter (opset 9-10) is the same operation.
    EXPECT_EQ(values(runOne("Scatter", {data, i64({1, 1}, {0}), f32({1, 1}, {7})}, {attrInt("axis", 1)}, 10)),
              (std::vector<float>{7, 2, 3, 4, 5}));
}

TEST(ScatterND, SlicesAndReductions) {
    const Tensor data = iota({2, 3});
    // Replace row 1; then add to element [0, 2].
    EXPECT_EQ(values(runOne("ScatterND", {data, i64({1, 1}, {1}), f32({1, 3}, {7, 8, 9})})),
              (std::vector<float>{0, 1, 2, 7, 8, 9}));
    EXPECT_EQ(values(runOne("ScatterND", {data, i64({2, 2}, {0, 2, 0, -1}), f32({2}, {10, 100})}, {attrString("reduction", "add")}, 16)),
              (std::vector<float>{0, 1, 112, 3, 4, 5}));
    EXPECT_THROW(runOne("ScatterND", {data, i64({1, 1}, {2}), f32({1, 3}, {7, 8, 9})}), Error);
    EXPECT_THROW(runOne("ScatterND", {data, i64({1, 1}, {1}), f32({1, 2}, {7, 8})}), Error); // bad updates shape
}

TEST(GatherScatterNodeCases, ReferencePathPasses) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        if (name.rfind("test_gather", 0) != 0 && name.rfind("test_scatter", 0) != 0) continue;
        testing::CaseOptions options;
        options.reference = true;
        const auto r = testing::runOnnxCase(dir, options);
        EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << ": " << r.message;
        ++ran;
    }
    EXPECT_GE(ran, 19);
}

} // namespace
} // namespace opstudio
