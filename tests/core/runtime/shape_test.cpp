// Shape and data-movement kernels: fast (run/tile copies) vs reference (element loops) on odd and
// empty shapes and several element sizes, hand-computed answers for the index rules (negative
// slice steps, pad modes, DepthToSpace modes, allowzero), opset attribute->input changes, and
// clear errors on hostile inputs.
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
using testing::attrInts;
using testing::attrString;
using testing::NodeSpec;
using Shape = std::vector<int64_t>;

std::vector<Tensor> runAll(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs = {},
                           int64_t opset = 17, int outputs = 1, bool reference = false, int threads = 1) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    spec.outputs = outputs;
    return testing::runNode(spec, inputs, reference, threads);
}

Tensor runOne(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs = {},
              int64_t opset = 17, bool reference = false) {
    return runAll(op, inputs, std::move(attrs), opset, 1, reference).at(0);
}

Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::fromVector<int64_t>(std::move(shape), v); }
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

/// Fast (1 and 2 threads) equals reference, bit for bit (these ops only move elements).
void expectFastMatchesReference(const std::string& op, const std::vector<Tensor>& inputs,
                                std::vector<ir::Attribute> attrs = {}, int64_t opset = 17) {
    const Tensor ref = runAll(op, inputs, attrs, opset, 1, true).at(0);
    for (int threads : {1, 2}) {
        const Tensor fast = runAll(op, inputs, attrs, opset, 1, false, threads).at(0);
        EXPECT_TRUE(testing::allClose(fast, ref, 0.0, 0.0)) << op << " threads=" << threads;
    }
}

const std::vector<Shape> kOddShapes = {{1, 7, 13}, {7, 13, 1}, {13, 127, 3}, {2, 0, 5}, {127, 1, 7}};

TEST(Transpose, FastMatchesReferenceOnOddShapesAndElementSizes) {
    const std::vector<std::vector<int64_t>> perms = {{2, 1, 0}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}};
    uint64_t seed = 1;
    for (DType dt : {DType::F32, DType::U8, DType::F16, DType::F64})
        for (const auto& s : kOddShapes)
            for (const auto& p : perms) {
                SCOPED_TRACE(ir::shapeToString(s));
                expectFastMatchesReference("Transpose", {testing::randomTensor(dt, s, seed++, 0, 100)},
                                           {attrInts("perm", p)});
            }
    // 4-D with a large tile that the blocked path splits (NCHW -> NHWC).
    expectFastMatchesReference("Transpose", {testing::randomTensor(DType::F32, {2, 67, 9, 33}, 9)},
                               {attrInts("perm", {0, 2, 3, 1})});
}

TEST(Transpose, DefaultReversesAndMovesStrings) {
    Tensor s(DType::String, {2, 3});
    s.strings() = {"a", "b", "c", "d", "e", "f"};
    const Tensor t = runOne("Transpose", {s});
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.strings(), (std::vector<std::string>{"a", "d", "b", "e", "c", "f"}));
}

TEST(Slice, NegativeStepsAndClampingMatchNumpy) {
    const Tensor x = iota({10});
    // x[8:1:-3] -> 8, 5, 2 ; x[-1:-100:-4] -> 9, 5, 1 ; x[-100:100:1] = x
    EXPECT_EQ(values(runOne("Slice", {x, i64({1}, {8}), i64({1}, {1}), i64({1}, {0}), i64({1}, {-3})})),
              (std::vector<float>{8, 5, 2}));
    EXPECT_EQ(values(runOne("Slice", {x, i64({1}, {-1}), i64({1}, {-100}), i64({1}, {0}), i64({1}, {-4})})),
              (std::vector<float>{9, 5, 1}));
    EXPECT_EQ(runOne("Slice", {x, i64({1}, {-100}), i64({1}, {100})}).numel(), 10);
    // INT64_MAX/INT64_MIN ends (what exporters write for "to the end").
    const int64_t big = std::numeric_limits<int64_t>::max();
    EXPECT_EQ(values(runOne("Slice", {x, i64({1}, {big}), i64({1}, {-big - 1}), i64({1}, {0}), i64({1}, {-5})})),
              (std::vector<float>{9, 4}));
    // Empty when start >= end.
    EXPECT_EQ(runOne("Slice", {x, i64({1}, {5}), i64({1}, {2})}).numel(), 0);
}

TEST(Slice, AttributesBeforeOpset10) {
    const Tensor x = iota({3, 4});
    const Tensor y = runOne("Slice", {x}, {attrInts("starts", {1, -3}), attrInts("ends", {3, 100}), attrInts("axes", {0, 1})}, 9);
    EXPECT_EQ(y.shape(), (Shape{2, 3}));
    EXPECT_EQ(values(y), (std::vector<float>{5, 6, 7, 9, 10, 11}));
}

TEST(Slice, FastMatchesReference) {
    uint64_t seed = 3;
    for (const auto& s : kOddShapes) {
        const Tensor x = testing::randomTensor(DType::F32, s, seed++);
        expectFastMatchesReference("Slice", {x, i64({2}, {1, -1}), i64({2}, {100, 0}), i64({2}, {1, 2}), i64({2}, {2, -3})});
        expectFastMatchesReference("Slice", {x, i64({1}, {0}), i64({1}, {-1}), i64({1}, {-1}), i64({1}, {1})});
    }
}

TEST(Slice, ZeroStepFails) {
    EXPECT_THROW(runOne("Slice", {iota({4}), i64({1}, {0}), i64({1}, {4}), i64({1}, {0}), i64({1}, {0})}), Error);
}

TEST(Expand, FastMatchesReferenceAndBroadcastsBothWays) {
    uint64_t seed = 5;
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{3, 1}, {2, 3, 13}}, {{1, 7, 1}, {127, 1, 13}}, {{}, {7, 1}}, {{13}, {1}}, {{2, 0, 1}, {1, 4}}, {{1}, {127, 13}}};
    for (const auto& [in, target] : cases) {
        const Tensor x = testing::randomTensor(DType::F32, in, seed++);
        expectFastMatchesReference("Expand", {x, i64({static_cast<int64_t>(target.size())}, target)});
    }
    // Shape (3, 1) expanded by (1, 4) -> (3, 4): the result keeps the larger dim on both sides.
    const Tensor y = runOne("Expand", {f32({3, 1}, {1, 2, 3}), i64({2}, {1, 4})});
    EXPECT_EQ(y.shape(), (Shape{3, 4}));
    EXPECT_EQ(values(y), (std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
}

TEST(Tile, RepeatsEveryAxisAndMatchesReference) {
    const Tensor y = runOne("Tile", {f32({2, 2}, {1, 2, 3, 4}), i64({2}, {2, 3})});
    EXPECT_EQ(y.shape(), (Shape{4, 6}));
    EXPECT_EQ(values(y), (std::vector<float>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
    uint64_t seed = 7;
    for (const auto& s : kOddShapes)
        expectFastMatchesReference("Tile", {testing::randomTensor(DType::I32, s, seed++, -9, 9), i64({3}, {2, 1, 3})});
}

TEST(Pad, ModesMatchHandComputed) {
    const Tensor x = f32({3}, {1, 2, 3});
    const Tensor pads = i64({2}, {2, 3});
    EXPECT_EQ(values(runOne("Pad", {x, pads, f32({}, {9})})), (std::vector<float>{9, 9, 1, 2, 3, 9, 9, 9}));
    EXPECT_EQ(values(runOne("Pad", {x, pads}, {attrString("mode", "edge")})), (std::vector<float>{1, 1, 1, 2, 3, 3, 3, 3}));
    EXPECT_EQ(values(runOne("Pad", {x, pads}, {attrString("mode", "reflect")})),
              (std::vector<float>{3, 2, 1, 2, 3, 2, 1, 2}));
    // Negative pads crop.
    EXPECT_EQ(values(runOne("Pad", {x, i64({2}, {-1, 1})})), (std::vector<float>{2, 3, 0}));
    // Opset 2-10: pads and value are attributes.
    EXPECT_EQ(values(runOne("Pad", {x}, {attrInts("pads", {1, 0}), testing::attrFloat("value", 5.f)}, 10)),
              (std::vector<float>{5, 1, 2, 3}));
}

TEST(Pad, FastMatchesReference) {
    uint64_t seed = 11;
    for (const char* mode : {"constant", "edge", "reflect"})
        for (const auto& s : std::vector<Shape>{{1, 7, 13}, {7, 13, 2}, {13, 127, 3}, {3, 1, 5}}) {
            SCOPED_TRACE(std::string(mode) + " " + ir::shapeToString(s));
            const Tensor x = testing::randomTensor(DType::F32, s, seed++);
            expectFastMatchesReference("Pad", {x, i64({6}, {0, 1, 2, 1, 0, 3})}, {attrString("mode", mode)});
            expectFastMatchesReference("Pad", {x, i64({6}, {1, -1, 0, 0, 2, -1})}, {attrString("mode", mode)});
        }
    expectFastMatchesReference("Pad", {testing::randomTensor(DType::F32, {2, 0, 3}, 1), i64({6}, {1, 0, 1, 0, 0, 2})});
}

TEST(Reshape, ZeroCopiesDimUnlessAllowZero) {
    const Tensor x = iota({2, 3, 4});
    EXPECT_EQ(runOne("Reshape", {x, i64({3}, {0, -1, 2})}).shape(), (Shape{2, 6, 2}));
    EXPECT_EQ(runOne("Reshape", {x, i64({2}, {-1, 4})}).shape(), (Shape{6, 4}));
    // allowzero=1: a 0 is a real zero-sized dim (only valid for an empty input).
    const Tensor empty = iota({0, 3});
    EXPECT_EQ(runOne("Reshape", {empty, i64({2}, {3, 0})}, {attrInt("allowzero", 1)}, 14).shape(), (Shape{3, 0}));
    EXPECT_THROW(runOne("Reshape", {x, i64({2}, {5, -1})}), Error);
    EXPECT_THROW(runOne("Reshape", {x, i64({2}, {-1, -1})}), Error);
}

TEST(Flatten, AxisSplitsDims) {
    const Tensor x = iota({2, 3, 4});
    EXPECT_EQ(runOne("Flatten", {x}, {attrInt("axis", 0)}).shape(), (Shape{1, 24}));
    EXPECT_EQ(runOne("Flatten", {x}, {attrInt("axis", -1)}).shape(), (Shape{6, 4}));
    EXPECT_EQ(runOne("Flatten", {x}, {attrInt("axis", 3)}).shape(), (Shape{24, 1}));
}

TEST(SqueezeUnsqueeze, AxesAttributeBefore13InputFrom13) {
    const Tensor x = iota({1, 3, 1});
    EXPECT_EQ(runOne("Squeeze", {x}, {attrInts("axes", {0})}, 11).shape(), (Shape{3, 1}));
    EXPECT_EQ(runOne("Squeeze", {x, i64({1}, {-1})}, {}, 13).shape(), (Shape{1, 3}));
    EXPECT_EQ(runOne("Squeeze", {x}, {}, 13).shape(), (Shape{3}));
    EXPECT_THROW(runOne("Squeeze", {x, i64({1}, {1})}, {}, 13), Error);
    EXPECT_EQ(runOne("Unsqueeze", {x}, {attrInts("axes", {0, 4})}, 11).shape(), (Shape{1, 1, 3, 1, 1}));
    EXPECT_EQ(runOne("Unsqueeze", {x, i64({2}, {-1, 1})}, {}, 13).shape(), (Shape{1, 1, 3, 1, 1}));
    EXPECT_THROW(runOne("Unsqueeze", {x, i64({2}, {1, 1})}, {}, 13), Error);
}

TEST(Concat, JoinsAlongAxisIncludingEmptyInputs) {
    const Tensor a = iota({2, 2}), b = iota({2, 0}), c = f32({2, 1}, {7, 8});
    const Tensor y = runOne("Concat", {a, b, c}, {attrInt("axis", -1)});
    EXPECT_EQ(y.shape(), (Shape{2, 3}));
    EXPECT_EQ(values(y), (std::vector<float>{0, 1, 7, 2, 3, 8}));
    EXPECT_THROW(runOne("Concat", {iota({2, 2}), iota({3, 3})}, {attrInt("axis", 0)}), Error);
}

TEST(Split, SplitAttributeBefore13InputFrom13) {
    const Tensor x = iota({5, 2});
    auto parts = runAll("Split", {x}, {attrInts("split", {2, 3})}, 11, 2);
    EXPECT_EQ(parts[0].shape(), (Shape{2, 2}));
    EXPECT_EQ(values(parts[1]), (std::vector<float>{4, 5, 6, 7, 8, 9}));
    parts = runAll("Split", {x, i64({2}, {1, 4})}, {}, 13, 2);
    EXPECT_EQ(parts[0].shape(), (Shape{1, 2}));
    parts = runAll("Split", {iota({2, 6})}, {attrInt("axis", 1)}, 13, 3);
    EXPECT_EQ(values(parts[2]), (std::vector<float>{4, 5, 10, 11}));
    EXPECT_THROW(runAll("Split", {x}, {}, 13, 2), Error); // 5 does not split in 2 equal parts
}

TEST(DepthToSpace, ModesMatchHandComputedAndReference) {
    // C = 4, blocksize 2: DCR takes channel (bh * 2 + bw), CRD takes channel (c * 4 + bh * 2 + bw);
    // with one output channel both read the same channels, so use C = 8 to tell them apart.
    const Tensor x = iota({1, 8, 1, 1});
    EXPECT_EQ(values(runOne("DepthToSpace", {x}, {attrInt("blocksize", 2), attrString("mode", "DCR")})),
              (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
    EXPECT_EQ(values(runOne("DepthToSpace", {x}, {attrInt("blocksize", 2), attrString("mode", "CRD")})),
              (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
    const Tensor big = testing::randomTensor(DType::F32, {2, 36, 7, 13}, 3);
    for (const char* mode : {"DCR", "CRD"})
        expectFastMatchesReference("DepthToSpace", {big}, {attrInt("blocksize", 3), attrString("mode", mode)});
    expectFastMatchesReference("SpaceToDepth", {testing::randomTensor(DType::F32, {2, 3, 21, 39}, 4)},
                               {attrInt("blocksize", 3)});
    // SpaceToDepth inverts DepthToSpace(DCR).
    const Tensor s = runOne("SpaceToDepth", {runOne("DepthToSpace", {big}, {attrInt("blocksize", 3)})}, {attrInt("blocksize", 3)});
    EXPECT_TRUE(testing::allClose(s, big, 0, 0));
    EXPECT_THROW(runOne("DepthToSpace", {iota({1, 6, 2, 2})}, {attrInt("blocksize", 2)}), Error);
}

TEST(ShapeOps, ShapeSliceSizeConstantOfShape) {
    const Tensor x = iota({2, 3, 4});
    EXPECT_EQ(runOne("Shape", {x}).toInt64s(), (std::vector<int64_t>{2, 3, 4}));
    EXPECT_EQ(runOne("Shape", {x}, {attrInt("start", -2)}, 15).toInt64s(), (std::vector<int64_t>{3, 4}));
    EXPECT_EQ(runOne("Shape", {x}, {attrInt("start", 5), attrInt("end", 1)}, 15).numel(), 0);
    EXPECT_EQ(runOne("Size", {x}).toInt64s(), (std::vector<int64_t>{24}));
    const Tensor c = runOne("ConstantOfShape", {i64({2}, {2, 3})}, {testing::attrTensor("value", i64({1}, {7}))});
    EXPECT_EQ(c.dtype(), DType::I64);
    EXPECT_EQ(c.toInt64s(), (std::vector<int64_t>(6, 7)));
    EXPECT_EQ(runOne("ConstantOfShape", {i64({2}, {2, 0})}).numel(), 0);
    EXPECT_THROW(runOne("ConstantOfShape", {i64({1}, {-3})}), Error);
}

TEST(Range, CountIsCeilOfSpanOverDelta) {
    EXPECT_EQ(values(runOne("Range", {f32({}, {1}), f32({}, {2}), f32({}, {0.3f})})).size(), 4u);
    EXPECT_EQ(runOne("Range", {i64({}, {10}), i64({}, {4}), i64({}, {-3})}).toInt64s(), (std::vector<int64_t>{10, 7}));
    EXPECT_EQ(runOne("Range", {i64({}, {0}), i64({}, {4}), i64({}, {-1})}).numel(), 0);
    EXPECT_THROW(runOne("Range", {i64({}, {0}), i64({}, {4}), i64({}, {0})}), Error);
}

TEST(OneHot, AxisNegativeIndicesAndOutOfRange) {
    // indices [1, -1, 5] with depth 3: -1 wraps to 2, 5 is out of range (all off).
    const Tensor y = runOne("OneHot", {i64({3}, {1, -1, 5}), f32({}, {3}), f32({2}, {0, 9})}, {attrInt("axis", 0)}, 11);
    EXPECT_EQ(y.shape(), (Shape{3, 3}));
    EXPECT_EQ(values(y), (std::vector<float>{0, 0, 0, 9, 0, 0, 0, 9, 0}));
}

TEST(NonZero, ListsCoordinatesRowMajor) {
    const Tensor y = runOne("NonZero", {f32({2, 2}, {1, 0, 0, 3})});
    EXPECT_EQ(y.shape(), (Shape{2, 2}));
    EXPECT_EQ(y.toInt64s(), (std::vector<int64_t>{0, 1, 0, 1}));
    EXPECT_EQ(runOne("NonZero", {iota({0, 3})}).shape(), (Shape{2, 0}));
}

TEST(Trilu, KeepsBandAboveOrBelowDiagonal) {
    const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    EXPECT_EQ(values(runOne("Trilu", {x})), (std::vector<float>{1, 2, 3, 0, 5, 6}));
    EXPECT_EQ(values(runOne("Trilu", {x, i64({}, {1})}, {attrInt("upper", 0)})), (std::vector<float>{1, 2, 0, 4, 5, 6}));
    EXPECT_EQ(values(runOne("Trilu", {x, i64({}, {-1})}, {attrInt("upper", 0)})), (std::vector<float>{0, 0, 0, 4, 0, 0}));
}

TEST(EyeLikeCompress, HandComputed) {
    const Tensor e = runOne("EyeLike", {iota({2, 3})}, {attrInt("k", 1), attrInt("dtype", 7)});
    EXPECT_EQ(e.toInt64s(), (std::vector<int64_t>{0, 1, 0, 0, 0, 1}));
    Tensor cond = Tensor::fromVector<bool>({3}, {false, true, true});
    const Tensor c = runOne("Compress", {iota({2, 3}), cond}, {attrInt("axis", 1)});
    EXPECT_EQ(values(c), (std::vector<float>{1, 2, 4, 5}));
    EXPECT_EQ(values(runOne("Compress", {iota({2, 3}), cond})), (std::vector<float>{1, 2}));
}

TEST(Dropout, InferenceIsIdentityWithTrueMask) {
    const Tensor x = iota({2, 3});
    const auto outs = runAll("Dropout", {x, f32({}, {0.5f})}, {}, 13, 2);
    EXPECT_TRUE(testing::allClose(outs[0], x, 0, 0));
    EXPECT_EQ(outs[1].dtype(), DType::Bool);
    EXPECT_EQ(outs[1].toInt64s(), (std::vector<int64_t>(6, 1)));
    EXPECT_THROW(runAll("Dropout", {x, f32({}, {0.5f}), Tensor::fromVector<bool>({}, {true})}, {}, 13, 2), Error);
}

TEST(Constant, ScalarAndListAttributes) {
    NodeSpec spec;
    spec.opType = "Constant";
    spec.opset = 13;
    spec.attributes = {attrInts("value_ints", {4, 5})};
    EXPECT_EQ(testing::runNode(spec, {}).at(0).toInt64s(), (std::vector<int64_t>{4, 5}));
    spec.attributes = {testing::attrFloat("value_float", 2.5f)};
    const Tensor f = testing::runNode(spec, {}).at(0);
    EXPECT_EQ(f.rank(), 0);
    EXPECT_EQ(values(f), (std::vector<float>{2.5f}));
}

TEST(ShapeOps, HostileValuesFailOrSaturateWithoutCrashing) {
    const int64_t big = std::numeric_limits<int64_t>::max();
    // Extreme k: everything kept (upper, k very negative) or nothing kept.
    EXPECT_EQ(values(runOne("Trilu", {iota({2, 2}), i64({}, {-big})})), (std::vector<float>{0, 1, 2, 3}));
    EXPECT_EQ(values(runOne("Trilu", {iota({2, 2}), i64({}, {big})})), (std::vector<float>{0, 0, 0, 0}));
    EXPECT_EQ(values(runOne("OneHot", {f32({1}, {1e30f}), f32({}, {2}), f32({2}, {0, 1})})), (std::vector<float>{0, 0}));
    EXPECT_THROW(runOne("DepthToSpace", {iota({1, 4, 1, 1})}, {attrInt("blocksize", int64_t{1} << 32)}), Error);
    EXPECT_THROW(runOne("Expand", {iota({1}), i64({2}, {int64_t{1} << 40, int64_t{1} << 40})}), Error);
    EXPECT_THROW(runOne("Tile", {iota({2}), i64({1}, {big})}), Error);
    EXPECT_THROW(runOne("Pad", {iota({2}), i64({2}, {-5, 0})}), Error);
}

// Every ONNX backend node case of these operators passes on the reference path too (the
// conformance suite runs the fast path).
TEST(ShapeNodeCases, ReferencePathPasses) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
    const std::vector<std::string> prefixes = {
        "test_reshape", "test_flatten", "test_transpose", "test_squeeze", "test_unsqueeze", "test_concat",
        "test_split", "test_slice", "test_expand", "test_tile", "test_constant_pad", "test_edge_pad",
        "test_reflect_pad", "test_shape", "test_size", "test_constantofshape", "test_range_", "test_dropout",
        "test_onehot", "test_nonzero", "test_tril", "test_triu", "test_depthtospace", "test_spacetodepth",
        "test_eyelike", "test_compress"};
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        bool mine = false;
        for (const auto& p : prefixes) mine = mine || name.rfind(p, 0) == 0;
        if (!mine || name.find("_expanded") != std::string::npos) continue;
        testing::CaseOptions options;
        options.reference = true;
        const auto r = testing::runOnnxCase(dir, options);
        EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << ": " << r.message;
        ++ran;
    }
    EXPECT_GT(ran, 120);
}

} // namespace
} // namespace opstudio
