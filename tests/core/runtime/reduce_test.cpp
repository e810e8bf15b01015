// Reduce kernels: fast path (Eigen rows/columns) vs reference loops on odd shapes and every axis
// pattern, hand-computed answers for the attribute rules, and the ONNX node cases on both paths.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/ir/half.h"

#include <cmath>
#include <filesystem>
#include <limits>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrInt;
using testing::attrInts;
using testing::NodeSpec;
using testing::runNode;
using Shape = std::vector<int64_t>;

std::vector<Tensor> runOp(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs,
                          int64_t opset = 17, bool reference = false, int threads = 1, int outputs = 1) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    spec.outputs = outputs;
    return runNode(spec, inputs, reference, threads);
}

std::vector<float> values(const Tensor& t) {
    return {t.data<float>(), t.data<float>() + t.numel()};
}

const char* const kReduceOps[] = {"ReduceSum", "ReduceMean", "ReduceMax",       "ReduceMin",      "ReduceProd",
                                  "ReduceL1",  "ReduceL2",   "ReduceLogSum",    "ReduceLogSumExp", "ReduceSumSquare"};

TEST(Reduce, FastMatchesReferenceOnOddShapesAndAxes) {
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{7, 13}, {1}},          {{7, 13}, {0}},         {{127, 13}, {-1}},     {{1, 127}, {1}},
        {{3, 7, 13}, {1}},       {{3, 7, 13}, {0, 2}},   {{3, 7, 13}, {1, 2}},  {{3, 7, 13}, {0, 1}},
        {{3, 1, 13}, {0, 1}},    {{7, 1, 1, 13}, {1}},   {{2, 1300}, {0}},      {{13}, {0}},
        {{5, 3, 4, 7}, {1, 3}},  {{5, 3, 4, 7}, {}},     {{1}, {0}},            {{2, 3, 5}, {2}},
        // Large enough (> 32k elements) to take the parallel split on 2 threads.
        {{64, 1031}, {1}},       {{3, 20000}, {0}},      {{64, 9, 64}, {0, 2}},
    };
    uint64_t seed = 11;
    for (const auto& [shape, axes] : cases) {
        // Positive inputs keep Prod/LogSum finite; LogSumExp gets a wide range to test the max shift.
        const Tensor x = testing::randomTensor(DType::F32, shape, seed++, 0.5, 1.5);
        for (const char* op : kReduceOps) {
            for (int keep : {0, 1}) {
                if (keep == 0 && x.numel() > 10000) continue; // keepdims only changes the shape: small cases suffice
                SCOPED_TRACE(std::string(op) + " " + ir::shapeToString(shape) + " keepdims=" + std::to_string(keep));
                std::vector<Tensor> inputs = {x};
                std::vector<ir::Attribute> attrs = {attrInt("keepdims", keep)};
                if (std::string(op) == "ReduceSum") {
                    inputs.push_back(axes.empty() ? Tensor() : Tensor::fromVector<int64_t>({int64_t(axes.size())}, axes));
                } else if (!axes.empty()) {
                    attrs.push_back(attrInts("axes", axes));
                }
                const Tensor ref = runOp(op, inputs, attrs, 17, true).at(0);
                // Below 32k elements parallelFor runs serially, so 2 threads only matter for the large cases.
                const int threads = x.numel() > 32768 ? 2 : 1;
                const Tensor fast = runOp(op, inputs, attrs, 17, false, threads).at(0);
                EXPECT_TRUE(testing::allClose(fast, ref, 1e-5, 1e-5)) << "threads=" << threads;
            }
        }
    }
}

TEST(Reduce, HandComputedValues) {
    const Tensor x = Tensor::fromVector<float>({2, 3}, {1, -2, 3, 4, 5, -6});
    EXPECT_EQ(values(runOp("ReduceSum", {x, Tensor::fromVector<int64_t>({1}, {1})}, {attrInt("keepdims", 0)}).at(0)),
              (std::vector<float>{2, 3}));
    EXPECT_EQ(values(runOp("ReduceMax", {x}, {attrInts("axes", {0})}).at(0)), (std::vector<float>{4, 5, 3}));
    EXPECT_EQ(values(runOp("ReduceMin", {x}, {}).at(0)), (std::vector<float>{-6}));
    EXPECT_EQ(values(runOp("ReduceL1", {x}, {attrInts("axes", {1})}).at(0)), (std::vector<float>{6, 15}));
    EXPECT_EQ(values(runOp("ReduceSumSquare", {x}, {attrInts("axes", {1})}).at(0)), (std::vector<float>{14, 77}));
    EXPECT_EQ(values(runOp("ReduceProd", {x}, {attrInts("axes", {1})}).at(0)), (std::vector<float>{-6, -120}));
    const Tensor mean = runOp("ReduceMean", {x}, {attrInts("axes", {1}), attrInt("keepdims", 1)}).at(0);
    EXPECT_EQ(mean.shape(), (Shape{2, 1}));
    EXPECT_NEAR(mean.data<float>()[0], 2.f / 3.f, 1e-6);
    // log(e^1000 + e^1000) = 1000 + log 2: needs the max shift to stay finite.
    const Tensor big = Tensor::fromVector<float>({2}, {1000.f, 1000.f});
    for (bool reference : {false, true})
        EXPECT_NEAR(runOp("ReduceLogSumExp", {big}, {}, 17, reference).at(0).data<float>()[0], 1000.f + std::log(2.f),
                    1e-3);
}

TEST(Reduce, HalfInputsComputeInFloat) {
    const Tensor h = testing::randomTensor(DType::F16, {7, 13}, 23);
    Tensor f(DType::F32, h.shape());
    for (int64_t i = 0; i < h.numel(); ++i) f.data<float>()[i] = ir::halfToFloat(h.data<uint16_t>()[i]);
    for (const char* op : {"ReduceMean", "ReduceMax", "ReduceSumSquare"}) {
        for (bool reference : {false, true}) {
            const Tensor yh = runOp(op, {h}, {attrInts("axes", {1})}, 17, reference).at(0);
            const Tensor yf = runOp(op, {f}, {attrInts("axes", {1})}, 17, reference).at(0);
            ASSERT_EQ(yh.dtype(), DType::F16);
            ASSERT_EQ(yh.shape(), yf.shape());
            for (int64_t i = 0; i < yh.numel(); ++i)
                EXPECT_NEAR(ir::halfToFloat(yh.data<uint16_t>()[i]), yf.data<float>()[i], 2e-3 * (1 + std::abs(yf.data<float>()[i])))
                    << op;
        }
    }
}

TEST(ReduceSum, EmptyAxesInputReducesAllOrIsNoop) {
    const Tensor x = testing::randomTensor(DType::F32, {3, 4}, 5);
    const Tensor empty = Tensor::fromVector<int64_t>({0}, {});
    const Tensor all = runOp("ReduceSum", {x, empty}, {}).at(0);
    EXPECT_EQ(all.shape(), (Shape{1, 1}));
    const Tensor same = runOp("ReduceSum", {x, empty}, {attrInt("noop_with_empty_axes", 1)}).at(0);
    EXPECT_TRUE(testing::allClose(same, x, 0, 0));
    // Opset 11: axes is an attribute.
    const Tensor old = runOp("ReduceSum", {x}, {attrInts("axes", {0, 1}), attrInt("keepdims", 0)}, 11).at(0);
    EXPECT_EQ(old.shape(), Shape{});
    EXPECT_NEAR(old.data<float>()[0], all.data<float>()[0], 1e-5);
}

TEST(Reduce, EmptyTensorsGiveIdentityValues) {
    const Tensor x(DType::F32, {0, 7});
    for (bool reference : {false, true}) {
        const Tensor s = runOp("ReduceSum", {x, Tensor::fromVector<int64_t>({1}, {0})}, {attrInt("keepdims", 0)}, 17,
                               reference).at(0);
        EXPECT_EQ(s.shape(), (Shape{7}));
        for (float v : values(s)) EXPECT_EQ(v, 0.f);
        const Tensor p = runOp("ReduceProd", {x}, {attrInts("axes", {0})}, 17, reference).at(0);
        for (float v : values(p)) EXPECT_EQ(v, 1.f);
        const Tensor rows = runOp("ReduceMax", {x}, {attrInts("axes", {1})}, 17, reference).at(0);
        EXPECT_EQ(rows.shape(), (Shape{0, 1}));
    }
}

TEST(Reduce, IntegerInputsAndBadAxesFailCleanly) {
    const Tensor xi = Tensor::fromVector<int64_t>({2, 2}, {1, 2, 3, 4});
    const Tensor s = runOp("ReduceSum", {xi, Tensor::fromVector<int64_t>({1}, {0})}, {}).at(0);
    EXPECT_EQ(s.data<int64_t>()[0], 4);
    EXPECT_EQ(s.data<int64_t>()[1], 6);
    const Tensor x = testing::randomTensor(DType::F32, {2, 2}, 1);
    EXPECT_THROW(runOp("ReduceMean", {x}, {attrInts("axes", {2})}), Error);
    EXPECT_THROW(runOp("ArgMax", {x}, {attrInt("axis", -3)}), Error);
    EXPECT_THROW(runOp("TopK", {x, Tensor::fromVector<int64_t>({1}, {3})}, {}, 17, false, 1, 2), Error);
}

TEST(ArgMax, TiesPickFirstOrLastIndex) {
    const Tensor x = Tensor::fromVector<float>({2, 4}, {1, 3, 3, 2, 5, 5, 0, 5});
    const Tensor first = runOp("ArgMax", {x}, {attrInt("axis", 1), attrInt("keepdims", 0)}).at(0);
    EXPECT_EQ(first.shape(), (Shape{2}));
    EXPECT_EQ(first.data<int64_t>()[0], 1);
    EXPECT_EQ(first.data<int64_t>()[1], 0);
    const Tensor last = runOp("ArgMax", {x}, {attrInt("axis", 1), attrInt("select_last_index", 1)}).at(0);
    EXPECT_EQ(last.shape(), (Shape{2, 1}));
    EXPECT_EQ(last.data<int64_t>()[0], 2);
    EXPECT_EQ(last.data<int64_t>()[1], 3);
    const Tensor mins = runOp("ArgMin", {x}, {attrInt("axis", 0)}).at(0);
    EXPECT_EQ(mins.shape(), (Shape{1, 4}));
    EXPECT_EQ((std::vector<int64_t>(mins.data<int64_t>(), mins.data<int64_t>() + 4)),
              (std::vector<int64_t>{0, 0, 1, 0}));
}

TEST(TopK, TiesKeepLowerIndexFirst) {
    const Tensor x = Tensor::fromVector<float>({1, 5}, {1, 3, 3, 2, 3});
    const auto top = runOp("TopK", {x, Tensor::fromVector<int64_t>({1}, {3})}, {}, 17, false, 1, 2);
    EXPECT_EQ(values(top[0]), (std::vector<float>{3, 3, 3}));
    EXPECT_EQ((std::vector<int64_t>(top[1].data<int64_t>(), top[1].data<int64_t>() + 3)),
              (std::vector<int64_t>{1, 2, 4}));
    const auto low =
        runOp("TopK", {x, Tensor::fromVector<int64_t>({1}, {2})}, {attrInt("largest", 0)}, 17, false, 1, 2);
    EXPECT_EQ(values(low[0]), (std::vector<float>{1, 2}));
    EXPECT_EQ(low[1].data<int64_t>()[1], 3);
    // Opset 1..9: k is an attribute; axis 0 of a [5, 1] column.
    const auto old = runOp("TopK", {x.reshaped({5, 1})}, {attrInt("k", 1), attrInt("axis", 0)}, 9, false, 1, 2);
    EXPECT_EQ(old[0].shape(), (Shape{1, 1}));
    EXPECT_EQ(old[1].data<int64_t>()[0], 1);
}

TEST(TopK, MatchesFullSortOnRandomColumns) {
    const Tensor x = testing::randomTensor(DType::F32, {7, 127, 3}, 9);
    const auto r = runOp("TopK", {x, Tensor::fromVector<int64_t>({1}, {13})}, {attrInt("axis", 1)}, 17, false, 2, 2);
    ASSERT_EQ(r[0].shape(), (Shape{7, 13, 3}));
    for (int64_t o = 0; o < 7; ++o)
        for (int64_t i = 0; i < 3; ++i) {
            std::vector<float> col;
            for (int64_t k = 0; k < 127; ++k) col.push_back(x.data<float>()[(o * 127 + k) * 3 + i]);
            std::sort(col.begin(), col.end(), std::greater<float>());
            for (int64_t k = 0; k < 13; ++k) {
                const int64_t at = (o * 13 + k) * 3 + i;
                EXPECT_EQ(r[0].data<float>()[at], col[k]);
                EXPECT_EQ(x.data<float>()[(o * 127 + r[1].data<int64_t>()[at]) * 3 + i], col[k]);
            }
        }
}

TEST(CumSum, ExclusiveAndReverse) {
    const Tensor x = Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor axis1 = Tensor::scalar<int64_t>(1);
    EXPECT_EQ(values(runOp("CumSum", {x, axis1}, {}).at(0)), (std::vector<float>{1, 3, 6, 4, 9, 15}));
    EXPECT_EQ(values(runOp("CumSum", {x, axis1}, {attrInt("exclusive", 1)}).at(0)),
              (std::vector<float>{0, 1, 3, 0, 4, 9}));
    EXPECT_EQ(values(runOp("CumSum", {x, axis1}, {attrInt("reverse", 1)}).at(0)),
              (std::vector<float>{6, 5, 3, 15, 11, 6}));
    EXPECT_EQ(values(runOp("CumSum", {x, axis1}, {attrInt("reverse", 1), attrInt("exclusive", 1)}).at(0)),
              (std::vector<float>{5, 3, 0, 11, 6, 0}));
    EXPECT_EQ(values(runOp("CumSum", {x, Tensor::scalar<int32_t>(-2)}, {}).at(0)),
              (std::vector<float>{1, 2, 3, 5, 7, 9}));
}

TEST(Reduce, OnnxNodeCasesPassOnBothPaths) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        const bool mine = name.rfind("test_reduce_", 0) == 0 || name.rfind("test_argm", 0) == 0 ||
                          name.rfind("test_top_k", 0) == 0 || name.rfind("test_cumsum", 0) == 0;
        if (!mine) continue;
        for (bool reference : {false, true}) {
            testing::CaseOptions options;
            options.reference = reference;
            const auto r = testing::runOnnxCase(dir, options);
            EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << " reference=" << reference << ": " << r.message;
        }
        ++ran;
    }
    EXPECT_GT(ran, 120);
}

} // namespace
} // namespace opstudio
