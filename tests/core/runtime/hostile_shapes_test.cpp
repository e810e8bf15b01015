// Crafted hostile shapes (issue 14): each used to segfault or write past a heap buffer. Every one must
// now be a clear opstudio::Error that names the node and op, on both the fast and the reference path.
#include "support/test_util.h"

#include "opstudio/util/error.h"

#include <gtest/gtest.h>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrInt;
using testing::attrInts;
using testing::NodeSpec;

/// Runs the node and asserts it fails with an Error whose message contains `needle` and whose context
/// names the node and its op.
void expectNodeError(const NodeSpec& spec, const std::vector<Tensor>& inputs, const std::string& needle) {
    for (bool reference : {false, true}) {
        SCOPED_TRACE(spec.opType + (reference ? " (reference)" : " (fast)"));
        try {
            testing::runNode(spec, inputs, reference);
            ADD_FAILURE() << "expected an error";
        } catch (const Error& e) {
            const std::string text = e.describe();
            EXPECT_NE(text.find(needle), std::string::npos) << text;
            EXPECT_NE(text.find(spec.opType), std::string::npos) << text;
        }
    }
}

NodeSpec spec(const std::string& op, std::vector<ir::Attribute> attrs = {}, int64_t opset = 17) {
    NodeSpec s;
    s.opType = op;
    s.opset = opset;
    s.attributes = std::move(attrs);
    return s;
}

Tensor scalar(float v) {
    return Tensor::fromVector<float>({}, {v});
}
Tensor i64(std::vector<int64_t> v) {
    const int64_t n = static_cast<int64_t>(v.size());
    return Tensor::fromVector<int64_t>({n}, v);
}

TEST(HostileShapes, SliceOfAScalarWithAxisZero) {
    expectNodeError(spec("Slice"), {scalar(1.f), i64({0}), i64({1}), i64({0})},
                    "axis 0 is out of range for rank 0");
}

TEST(HostileShapes, SqueezeOfAScalarWithAxisZero) {
    expectNodeError(spec("Squeeze"), {scalar(1.f), i64({0})}, "out of range for rank 0");
}

TEST(HostileShapes, CompressOfAScalarWithAxisZero) {
    expectNodeError(spec("Compress", {attrInt("axis", 0)}),
                    {scalar(1.f), Tensor::fromVector<bool>({1}, {true})}, "out of range for rank 0");
}

TEST(HostileShapes, PerAxisQuantizeOfAScalar) {
    expectNodeError(spec("QuantizeLinear", {attrInt("axis", 0)}),
                    {scalar(1.f), Tensor::fromVector<float>({2}, {0.5f, 0.25f}),
                     Tensor::fromVector<uint8_t>({2}, {3, 4})},
                    "out of range for rank 0");
}

TEST(HostileShapes, MaxUnpoolWithAWrappingOutputShape) {
    // 2^32 * 2^32 wraps int64 multiplication to 0: the kernel used to get a 0-byte buffer and write past it.
    const Tensor x = Tensor::fromVector<float>({1, 1, 1, 1}, {5.f});
    const Tensor idx = Tensor::fromVector<int64_t>({1, 1, 1, 1}, {0});
    const int64_t big = int64_t{1} << 32;
    expectNodeError(spec("MaxUnpool", {attrInts("kernel_shape", {2, 2}), attrInts("strides", {2, 2})}, 11),
                    {x, idx, i64({1, 1, big, big})}, "elements");
}

TEST(HostileShapes, ExpandToAnOverflowingShape) {
    const int64_t big = int64_t{1} << 32;
    expectNodeError(spec("Expand"), {scalar(1.f), i64({big, big, 4})}, "elements");
}

TEST(HostileShapes, ConstantOfShapeAboveTheByteLimit) {
    // 2^39 floats = 2 TiB: below the element cap, far above the default byte limit.
    expectNodeError(spec("ConstantOfShape"), {i64({int64_t{1} << 39})}, "bytes");
}

} // namespace
} // namespace opstudio
