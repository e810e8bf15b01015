// Cost model against hand-computed FLOPs and bytes.
#include "support/test_util.h"

#include "opstudio/profile/cost_model.h"

using namespace opstudio;
using namespace opstudio::profile;

namespace {

TensorInfo f32(std::vector<int64_t> shape, bool constant = false) {
    return TensorInfo{ir::DType::F32, std::move(shape), true, constant};
}

ir::Node node(std::string op, size_t inputs, std::vector<ir::Attribute> attrs = {}) {
    ir::Node n;
    n.opType = std::move(op);
    for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
    n.outputs = {"out"};
    n.attributes = std::move(attrs);
    return n;
}

} // namespace

TEST(CostModel, ConvCountsGroupsStrideAndDilation) {
    // X 1x4x9x9, W 6x2x3x3 (group 2), stride 2, dilation 2, no pads:
    // effective kernel 2·(3−1)+1 = 5, output (9−5)/2+1 = 3 -> Y 1x6x3x3 = 54 outputs.
    // MACs = 54 outputs · (4/2 channels · 3·3 taps) = 972; FLOPs = 2·972 + 54 (bias) = 1998.
    const ir::Node conv = node("Conv", 3,
                               {opstudio::testing::attrInt("group", 2), opstudio::testing::attrInts("strides", {2, 2}),
                                opstudio::testing::attrInts("dilations", {2, 2})});
    const OpCost c = estimateCost(conv, {f32({1, 4, 9, 9}), f32({6, 2, 3, 3}, true), f32({6}, true)}, {f32({1, 6, 3, 3})});
    EXPECT_DOUBLE_EQ(c.flops, 1998);
    EXPECT_DOUBLE_EQ(c.bytesRead, (324 + 108 + 6) * 4.0);
    EXPECT_DOUBLE_EQ(c.bytesWritten, 54 * 4.0);
    EXPECT_EQ(c.params, 108 + 6);
    EXPECT_EQ(c.paramBytes, (108 + 6) * 4);
    EXPECT_FALSE(c.integer);
    EXPECT_DOUBLE_EQ(c.intensity(), 1998.0 / ((324 + 108 + 6 + 54) * 4.0));
}

TEST(CostModel, DepthwiseConvWithoutBias) {
    // Depthwise: W 8x1x3x3, group 8, Y 1x8x5x5 -> 200 outputs · 9 taps = 1800 MACs.
    const ir::Node conv = node("Conv", 2, {opstudio::testing::attrInt("group", 8)});
    const OpCost c = estimateCost(conv, {f32({1, 8, 7, 7}), f32({8, 1, 3, 3}, true)}, {f32({1, 8, 5, 5})});
    EXPECT_DOUBLE_EQ(c.flops, 3600);
}

TEST(CostModel, ConvTransposeScattersEveryInput) {
    // X 1x2x3x3, W 2x4x3x3: each of 18 inputs feeds 4·9 outputs -> 648 MACs.
    const OpCost c = estimateCost(node("ConvTranspose", 2), {f32({1, 2, 3, 3}), f32({2, 4, 3, 3}, true)},
                                  {f32({1, 4, 5, 5})});
    EXPECT_DOUBLE_EQ(c.flops, 2 * 648);
}

TEST(CostModel, GemmUsesTheReductionDimension) {
    // A 4x8, B 8x16, C 16: 4·16·8 MACs + 64 bias adds.
    const OpCost c = estimateCost(node("Gemm", 3), {f32({4, 8}), f32({8, 16}, true), f32({16}, true)}, {f32({4, 16})});
    EXPECT_DOUBLE_EQ(c.flops, 2 * 4 * 16 * 8 + 64);
    EXPECT_EQ(c.params, 8 * 16 + 16);
    // transA: A is stored 8x4, K is its first dim.
    const OpCost t = estimateCost(node("Gemm", 2, {opstudio::testing::attrInt("transA", 1)}), {f32({8, 4}), f32({8, 16})},
                                  {f32({4, 16})});
    EXPECT_DOUBLE_EQ(t.flops, 2 * 4 * 16 * 8);
    EXPECT_EQ(t.params, 0);
}

TEST(CostModel, BatchedMatMulBroadcasts) {
    // A 2x3x4x5 @ B 5x6 -> 2x3x4x6 = 144 dot products of length 5.
    const OpCost c = estimateCost(node("MatMul", 2), {f32({2, 3, 4, 5}), f32({5, 6})}, {f32({2, 3, 4, 6})});
    EXPECT_DOUBLE_EQ(c.flops, 2 * 144 * 5);
    EXPECT_DOUBLE_EQ(c.bytesRead, (120 + 30) * 4.0);
    EXPECT_DOUBLE_EQ(c.bytesWritten, 144 * 4.0);
}

TEST(CostModel, QuantizedMatMulIsInteger) {
    TensorInfo a{ir::DType::U8, {4, 8}, true, false}, b{ir::DType::I8, {8, 2}, true, true};
    TensorInfo y{ir::DType::I32, {4, 2}, true, false};
    const OpCost c = estimateCost(node("MatMulInteger", 2), {a, b}, {y});
    EXPECT_TRUE(c.integer);
    EXPECT_DOUBLE_EQ(c.flops, 2 * 8 * 8);
    EXPECT_DOUBLE_EQ(c.bytesRead, 32 + 16);
    EXPECT_EQ(c.params, 16);
}

TEST(CostModel, MatMulNBitsCountsFloatMacsAndPackedBytes) {
    // K 64, N 8, int4 blocks of 32: B is 8·2·16 bytes, scales 16 floats; decode row A [1, 64].
    ir::Node n = node("MatMulNBits", 3, {opstudio::testing::attrInt("K", 64), opstudio::testing::attrInt("N", 8),
                                          opstudio::testing::attrInt("bits", 4), opstudio::testing::attrInt("block_size", 32)});
    TensorInfo b{ir::DType::U8, {8, 2, 16}, true, true}, sc{ir::DType::F32, {16}, true, true};
    const OpCost c = estimateCost(n, {f32({1, 64}), b, sc}, {f32({1, 8})});
    EXPECT_DOUBLE_EQ(c.flops, 2 * 8 * 64);
    EXPECT_DOUBLE_EQ(c.bytesRead, 256 + 256 + 64); // A, packed codes, scales
    EXPECT_EQ(c.params, 64 * 8);                   // weights, not bytes
    EXPECT_DOUBLE_EQ(c.paramBytes, 256 + 64);
}

TEST(CostModel, PoolingCountsTheWindowPerOutput) {
    // MaxPool 3x3 stride 2 on 1x2x7x7 -> 1x2x3x3: 18 outputs · 9.
    const OpCost mp = estimateCost(node("MaxPool", 1, {opstudio::testing::attrInts("kernel_shape", {3, 3}),
                                                       opstudio::testing::attrInts("strides", {2, 2})}),
                                   {f32({1, 2, 7, 7})}, {f32({1, 2, 3, 3})});
    EXPECT_DOUBLE_EQ(mp.flops, 162);
    // Global pooling: the window is the whole plane, every input once.
    const OpCost gap = estimateCost(node("GlobalAveragePool", 1), {f32({1, 2, 7, 7})}, {f32({1, 2, 1, 1})});
    EXPECT_DOUBLE_EQ(gap.flops, 98);
}

TEST(CostModel, ElementwiseNormsAndReductions) {
    const OpCost add = estimateCost(node("Add", 2), {f32({2, 3}), f32({3})}, {f32({2, 3})});
    EXPECT_DOUBLE_EQ(add.flops, 6);
    EXPECT_DOUBLE_EQ(add.bytesRead, 36);
    EXPECT_DOUBLE_EQ(add.bytesWritten, 24);
    EXPECT_DOUBLE_EQ(estimateCost(node("Relu", 1), {f32({10})}, {f32({10})}).flops, 10);
    EXPECT_DOUBLE_EQ(estimateCost(node("Softmax", 1), {f32({4, 10})}, {f32({4, 10})}).flops, 200);
    EXPECT_DOUBLE_EQ(estimateCost(node("ReduceMean", 1), {f32({4, 10})}, {f32({4, 1})}).flops, 40);
    EXPECT_DOUBLE_EQ(estimateCost(node("Sum", 3), {f32({5}), f32({5}), f32({5})}, {f32({5})}).flops, 10);
}

TEST(CostModel, ViewsAndShapeOpsMoveNothing) {
    const OpCost r = estimateCost(node("Reshape", 2), {f32({2, 6}), TensorInfo{ir::DType::I64, {2}, true, true}},
                                  {f32({3, 4})});
    EXPECT_DOUBLE_EQ(r.flops, 0);
    EXPECT_DOUBLE_EQ(r.bytes(), 0);
    EXPECT_EQ(r.params, 0); // an int64 shape constant is not a weight
    const OpCost t = estimateCost(node("Transpose", 1), {f32({2, 6})}, {f32({6, 2})});
    EXPECT_DOUBLE_EQ(t.flops, 0);
    EXPECT_DOUBLE_EQ(t.bytes(), 96);
}

TEST(CostModel, UnknownShapesCountZero) {
    const OpCost c = estimateCost(node("MatMul", 2), {TensorInfo{}, f32({5, 6})}, {TensorInfo{}});
    EXPECT_DOUBLE_EQ(c.flops, 0);
    EXPECT_DOUBLE_EQ(c.bytesRead, 120);
}
