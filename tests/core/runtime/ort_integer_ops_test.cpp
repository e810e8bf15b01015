// Node level, same float input into both runtimes: our DynamicQuantizeLinear, ConvInteger and
// MatMulInteger give bit-identical outputs to ONNX Runtime's (u8 data, scale, zero point, int32 sums).
// End-to-end differences of dynamically quantized models are explained in docs/interop.md.
#include "support/graph_builder.h"
#include "support/ort_peer.h"

#include "opstudio/onnx/model_io.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

ir::Tensor randomFloats(std::vector<int64_t> shape, float lo, float hi, uint32_t seed) {
    ir::Tensor t(ir::DType::F32, std::move(shape));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& v : t.span<float>()) v = d(rng);
    return t;
}

ir::Tensor randomU8(std::vector<int64_t> shape, uint32_t seed) {
    ir::Tensor t(ir::DType::U8, std::move(shape));
    std::mt19937 rng(seed);
    for (uint8_t& v : t.span<uint8_t>()) v = static_cast<uint8_t>(rng() & 0xff);
    return t;
}

void expectBitIdentical(const ir::Model& model, const std::map<std::string, ir::Tensor>& feeds, const std::string& stem) {
    OPSTUDIO_REQUIRE_ORT();
    const auto path = (std::filesystem::temp_directory_path() / ("opstudio_int_ops_" + stem + ".onnx")).string();
    const auto saved = onnxio::saveModel(model, path);
    ASSERT_TRUE(saved.ok()) << saved.error().describe();
    const auto theirs = runWithOrt(path, feeds);
    std::filesystem::remove(path);
    ASSERT_TRUE(theirs.ok()) << theirs.error().describe();
    const auto ours = runModel(model, feeds);
    ASSERT_EQ(theirs.value().size(), ours.size());
    for (size_t i = 0; i < ours.size(); ++i) {
        const ir::Tensor& a = ours[i];
        const ir::Tensor& b = theirs.value()[i].second;
        ASSERT_EQ(a.dtype(), b.dtype()) << stem << " output " << theirs.value()[i].first;
        ASSERT_EQ(a.shape(), b.shape()) << stem << " output " << theirs.value()[i].first;
        int64_t differing = 0;
        const auto* pa = static_cast<const uint8_t*>(a.raw());
        const auto* pb = static_cast<const uint8_t*>(b.raw());
        for (size_t k = 0; k < a.byteSize(); ++k) differing += pa[k] != pb[k];
        EXPECT_EQ(differing, 0) << stem << " output " << theirs.value()[i].first << ": " << differing << " of "
                                << a.byteSize() << " bytes differ from ONNX Runtime";
    }
}

// Odd shapes (7, 13, 17) and asymmetric ranges so the zero point is not 0 and not 128.
TEST(OrtIntegerOps, DynamicQuantizeLinearAndConvIntegerAreBitIdentical) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        GraphBuilder b(13);
        b.input("x", ir::DType::F32, {1, 3, 13, 17});
        b.initializer("w", randomU8({7, 3, 3, 3}, 100 + seed));
        b.initializer("w_zp", ir::Tensor::scalar<uint8_t>(131));
        b.node("DynamicQuantizeLinear", {"x"}, {"xq", "x_scale", "x_zp"});
        ir::Attribute pads{"pads", ir::AttrType::Ints};
        pads.ints = {1, 1, 1, 1};
        b.node("ConvInteger", {"xq", "w", "x_zp", "w_zp"}, {"y"}, {pads});
        b.output("xq").output("x_scale").output("x_zp").output("y");
        auto m = b.build();
        expectBitIdentical(*m, {{"x", randomFloats({1, 3, 13, 17}, -1.7f, 4.3f, seed)}}, "conv" + std::to_string(seed));
    }
}

TEST(OrtIntegerOps, DynamicQuantizeLinearAndMatMulIntegerAreBitIdentical) {
    for (uint32_t seed : {1u, 2u}) {
        GraphBuilder b(13);
        b.input("x", ir::DType::F32, {7, 13});
        b.initializer("w", randomU8({13, 5}, 200 + seed));
        b.initializer("w_zp", ir::Tensor::scalar<uint8_t>(119));
        b.node("DynamicQuantizeLinear", {"x"}, {"xq", "x_scale", "x_zp"});
        b.node("MatMulInteger", {"xq", "w", "x_zp", "w_zp"}, {"y"});
        b.output("xq").output("x_scale").output("x_zp").output("y");
        auto m = b.build();
        expectBitIdentical(*m, {{"x", randomFloats({7, 13}, -0.3f, 2.9f, seed)}}, "matmul" + std::to_string(seed));
    }
}

} // namespace
