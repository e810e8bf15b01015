// Pool kernels: bounds-free fast path vs reference loops over odd shapes and every geometry knob
// (pads, strides, dilations, ceil_mode, auto_pad, 1-D/3-D), hand-computed windows, Indices rules,
// MaxUnpool round trip, and the ONNX node cases on both paths.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/ir/half.h"

#include <cmath>
#include <filesystem>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrInt;
using testing::attrInts;
using testing::attrString;
using testing::NodeSpec;
using testing::runNode;
using Shape = std::vector<int64_t>;

std::vector<Tensor> runOp(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs,
                          bool reference = false, int threads = 1, int outputs = 1, int64_t opset = 17) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    spec.outputs = outputs;
    return runNode(spec, inputs, reference, threads);
}

std::vector<float> values(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }
std::vector<int64_t> indices(const Tensor& t) { return {t.data<int64_t>(), t.data<int64_t>() + t.numel()}; }

Tensor iota(Shape shape) {
    Tensor t(DType::F32, shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i + 1);
    return t;
}

struct Geometry {
    Shape input;
    std::vector<ir::Attribute> attrs;
};

std::vector<Geometry> geometries() {
    return {
        {{1, 1, 7, 7}, {attrInts("kernel_shape", {3, 3})}},
        {{2, 3, 13, 13}, {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}), attrInts("pads", {1, 1, 1, 1})}},
        {{1, 7, 13, 7}, {attrInts("kernel_shape", {2, 3}), attrInts("strides", {2, 1}), attrInt("ceil_mode", 1)}},
        {{1, 2, 13, 13}, {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}), attrInt("ceil_mode", 1),
                          attrInts("pads", {1, 0, 2, 1})}},
        {{1, 2, 13, 13}, {attrInts("kernel_shape", {3, 3}), attrString("auto_pad", "SAME_UPPER"), attrInts("strides", {2, 2})}},
        {{1, 2, 13, 13}, {attrInts("kernel_shape", {4, 4}), attrString("auto_pad", "SAME_LOWER")}},
        {{1, 2, 13, 13}, {attrInts("kernel_shape", {3, 2}), attrString("auto_pad", "VALID"), attrInts("strides", {3, 2})}},
        {{1, 1, 127}, {attrInts("kernel_shape", {5}), attrInts("strides", {3}), attrInts("pads", {2, 2})}},
        {{1, 2, 7, 5, 6}, {attrInts("kernel_shape", {3, 2, 3}), attrInts("pads", {1, 0, 1, 1, 1, 1})}},
        // 8 planes x 127 x 127 = 129k elements: large enough for the parallel split on 2 threads.
        {{2, 4, 127, 127}, {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}), attrInts("pads", {1, 1, 1, 1})}},
    };
}

void expectFastMatchesReference(const std::string& op, const Tensor& x, std::vector<ir::Attribute> attrs,
                                int outputs = 1) {
    const auto ref = runOp(op, {x}, attrs, true, 1, outputs);
    // Below 32k units of work parallelFor runs serially, so 2 threads only matter for large inputs.
    const int threads = x.numel() > 32768 ? 2 : 1;
    const auto fast = runOp(op, {x}, attrs, false, threads, outputs);
    for (int i = 0; i < outputs; ++i)
        EXPECT_TRUE(testing::allClose(fast[i], ref[i], 1e-5, 1e-5)) << op << " output " << i << " threads=" << threads;
}

TEST(Pool, FastMatchesReferenceOnOddGeometries) {
    uint64_t seed = 3;
    for (const auto& g : geometries()) {
        SCOPED_TRACE(ir::shapeToString(g.input));
        const Tensor x = testing::randomTensor(DType::F32, g.input, seed++, -2.0, 2.0);
        expectFastMatchesReference("MaxPool", x, g.attrs, 2);
        expectFastMatchesReference("MaxPool", x, g.attrs, 1); // no Indices: the row-sweep path for 1-D/2-D
        auto storage = g.attrs;
        storage.push_back(attrInt("storage_order", 1));
        expectFastMatchesReference("MaxPool", x, storage, 2);
        expectFastMatchesReference("AveragePool", x, g.attrs);
        auto include = g.attrs;
        include.push_back(attrInt("count_include_pad", 1));
        expectFastMatchesReference("AveragePool", x, include);
        auto lp = g.attrs;
        lp.push_back(attrInt("p", 3));
        expectFastMatchesReference("LpPool", x, lp);
    }
}

TEST(MaxPool, DilationsMatchReference) {
    const Tensor x = testing::randomTensor(DType::F32, {1, 3, 13, 13}, 21);
    for (int outputs : {1, 2})
        expectFastMatchesReference("MaxPool", x,
                                   {attrInts("kernel_shape", {3, 3}), attrInts("dilations", {2, 3}),
                                    attrInts("pads", {1, 2, 2, 1}), attrInts("strides", {1, 2}), attrInt("ceil_mode", 1)},
                                   outputs);
}

TEST(MaxPool, HandComputedValuesAndIndices) {
    // 1..16 in a 4x4 plane, 2x2 windows, stride 2: maxima are the bottom-right corners.
    const Tensor x = iota({1, 1, 4, 4});
    const std::vector<ir::Attribute> attrs = {attrInts("kernel_shape", {2, 2}), attrInts("strides", {2, 2})};
    for (bool reference : {false, true}) {
        const auto r = runOp("MaxPool", {x}, attrs, reference, 1, 2);
        EXPECT_EQ(values(r[0]), (std::vector<float>{6, 8, 14, 16}));
        EXPECT_EQ(indices(r[1]), (std::vector<int64_t>{5, 7, 13, 15}));
        // storage_order = 1: column-major flat index h + w * H.
        auto col = attrs;
        col.push_back(attrInt("storage_order", 1));
        EXPECT_EQ(indices(runOp("MaxPool", {x}, col, reference, 1, 2)[1]), (std::vector<int64_t>{5, 13, 7, 15}));
    }
    // Indices count across batch and channels.
    const auto two = runOp("MaxPool", {iota({1, 2, 2, 2})}, {attrInts("kernel_shape", {2, 2})}, false, 1, 2);
    EXPECT_EQ(indices(two[1]), (std::vector<int64_t>{3, 7}));
}

TEST(MaxPool, CeilModeOutputShapes) {
    const Tensor x = iota({1, 1, 4, 4});
    // floor((4 - 3) / 2) + 1 = 1; ceil gives 2.
    const std::vector<ir::Attribute> base = {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2})};
    EXPECT_EQ(runOp("MaxPool", {x}, base)[0].shape(), (Shape{1, 1, 1, 1}));
    auto ceil = base;
    ceil.push_back(attrInt("ceil_mode", 1));
    const Tensor y = runOp("MaxPool", {x}, ceil)[0];
    EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
    EXPECT_EQ(values(y), (std::vector<float>{11, 12, 15, 16}));
    // A window that would start in the right padding only is dropped: 5 wide, k 2, s 2, pad 1 -> 3 not 4.
    const Tensor z = runOp("MaxPool", {iota({1, 1, 1, 5})},
                           {attrInts("kernel_shape", {1, 2}), attrInts("strides", {1, 2}), attrInts("pads", {0, 1, 0, 1}),
                            attrInt("ceil_mode", 1)})[0];
    EXPECT_EQ(z.shape(), (Shape{1, 1, 1, 3}));
}

TEST(AveragePool, CountIncludePadChangesBorderDivisor) {
    Tensor ones(DType::F32, {1, 1, 3, 3});
    for (int i = 0; i < 9; ++i) ones.data<float>()[i] = 1.f;
    const std::vector<ir::Attribute> attrs = {attrInts("kernel_shape", {3, 3}), attrInts("pads", {1, 1, 1, 1})};
    for (bool reference : {false, true}) {
        for (float v : values(runOp("AveragePool", {ones}, attrs, reference)[0])) EXPECT_FLOAT_EQ(v, 1.f);
        auto include = attrs;
        include.push_back(attrInt("count_include_pad", 1));
        const auto y = values(runOp("AveragePool", {ones}, include, reference)[0]);
        EXPECT_FLOAT_EQ(y[0], 4.f / 9.f); // corner: 4 real taps of 9
        EXPECT_FLOAT_EQ(y[1], 6.f / 9.f); // edge
        EXPECT_FLOAT_EQ(y[4], 1.f);       // centre
    }
}

TEST(LpPool, TwoNormOfWindow) {
    const Tensor x = Tensor::fromVector<float>({1, 1, 1, 4}, {3, -4, 0, 12});
    const auto y = values(runOp("LpPool", {x}, {attrInts("kernel_shape", {1, 2}), attrInts("strides", {1, 2})})[0]);
    EXPECT_FLOAT_EQ(y[0], 5.f);
    EXPECT_FLOAT_EQ(y[1], 12.f);
}

TEST(GlobalPool, AverageMaxAndLp) {
    const Tensor x = iota({2, 3, 5, 7}); // plane p holds 35p+1 .. 35p+35
    const Tensor avg = runOp("GlobalAveragePool", {x}, {})[0];
    EXPECT_EQ(avg.shape(), (Shape{2, 3, 1, 1}));
    EXPECT_FLOAT_EQ(avg.data<float>()[4], 35.f * 4 + 18.f);
    EXPECT_FLOAT_EQ(runOp("GlobalMaxPool", {x}, {})[0].data<float>()[5], 35.f * 6);
    const Tensor v = Tensor::fromVector<float>({1, 1, 2}, {3, 4});
    EXPECT_FLOAT_EQ(runOp("GlobalLpPool", {v}, {})[0].data<float>()[0], 5.f);
    EXPECT_FLOAT_EQ(runOp("GlobalLpPool", {v}, {attrInt("p", 1)})[0].data<float>()[0], 7.f);
}

TEST(MaxUnpool, RestoresMaximaAtTheirIndices) {
    const Tensor x = testing::randomTensor(DType::F32, {2, 3, 8, 6}, 17);
    const std::vector<ir::Attribute> attrs = {attrInts("kernel_shape", {2, 2}), attrInts("strides", {2, 2})};
    const auto pooled = runOp("MaxPool", {x}, attrs, false, 1, 2);
    const Tensor y = runOp("MaxUnpool", {pooled[0], pooled[1]}, attrs)[0];
    ASSERT_EQ(y.shape(), x.shape());
    int64_t nonzero = 0;
    for (int64_t i = 0; i < y.numel(); ++i)
        if (y.data<float>()[i] != 0.f) {
            EXPECT_EQ(y.data<float>()[i], x.data<float>()[i]);
            ++nonzero;
        }
    EXPECT_EQ(nonzero, pooled[0].numel());
}

TEST(Pool, HalfInputsComputeInFloat) {
    const Tensor h = testing::randomTensor(DType::F16, {1, 3, 7, 13}, 29);
    Tensor f(DType::F32, h.shape());
    for (int64_t i = 0; i < h.numel(); ++i) f.data<float>()[i] = ir::halfToFloat(h.data<uint16_t>()[i]);
    const std::vector<ir::Attribute> attrs = {attrInts("kernel_shape", {3, 3}), attrInts("pads", {1, 1, 1, 1})};
    for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool"}) {
        const auto a = std::string(op) == "GlobalAveragePool" ? std::vector<ir::Attribute>{} : attrs;
        for (bool reference : {false, true}) {
            const Tensor yh = runOp(op, {h}, a, reference)[0];
            const Tensor yf = runOp(op, {f}, a, reference)[0];
            ASSERT_EQ(yh.dtype(), DType::F16);
            ASSERT_EQ(yh.shape(), yf.shape());
            for (int64_t i = 0; i < yh.numel(); ++i)
                EXPECT_NEAR(ir::halfToFloat(yh.data<uint16_t>()[i]), yf.data<float>()[i], 1e-3) << op;
        }
    }
}

TEST(Pool, BadGeometryFailsCleanly) {
    const Tensor x = testing::randomTensor(DType::F32, {1, 1, 3, 3}, 1);
    EXPECT_THROW(runOp("MaxPool", {x}, {attrInts("kernel_shape", {5, 5})}), Error);
    EXPECT_THROW(runOp("MaxPool", {x}, {attrInts("kernel_shape", {2})}), Error);
    EXPECT_THROW(runOp("AveragePool", {x}, {attrInts("kernel_shape", {2, 2}), attrString("auto_pad", "BOGUS")}), Error);
    EXPECT_THROW(runOp("MaxPool", {testing::randomTensor(DType::F32, {3, 3}, 1)}, {attrInts("kernel_shape", {2})}),
                 Error);
    const auto pooled = runOp("MaxPool", {x}, {attrInts("kernel_shape", {2, 2})}, false, 1, 2);
    Tensor bad = pooled[1].clone();
    bad.data<int64_t>()[0] = 1000;
    EXPECT_THROW(runOp("MaxUnpool", {pooled[0], bad}, {attrInts("kernel_shape", {2, 2})}), Error);
}

TEST(Pool, EmptyBatchGivesEmptyOutput) {
    const Tensor x(DType::F32, {0, 3, 7, 7});
    for (bool reference : {false, true}) {
        const auto y = runOp("MaxPool", {x}, {attrInts("kernel_shape", {3, 3})}, reference, 1, 2);
        EXPECT_EQ(y[0].shape(), (Shape{0, 3, 5, 5}));
        EXPECT_EQ(runOp("AveragePool", {x}, {attrInts("kernel_shape", {3, 3})}, reference)[0].numel(), 0);
        EXPECT_EQ(runOp("GlobalAveragePool", {x}, {}, reference)[0].shape(), (Shape{0, 3, 1, 1}));
    }
}

TEST(Pool, OnnxNodeCasesPassOnBothPaths) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        if (name.find("pool") == std::string::npos) continue;
        for (bool reference : {false, true}) {
            testing::CaseOptions options;
            options.reference = reference;
            const auto r = testing::runOnnxCase(dir, options);
            EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << " reference=" << reference << ": " << r.message;
        }
        ++ran;
    }
    EXPECT_GT(ran, 30);
}

} // namespace
} // namespace opstudio
