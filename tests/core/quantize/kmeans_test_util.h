#pragma once
// Shared by the K-means tests: a small MatMul/Gemm/Conv model and the weights a palettized graph computes.
#include "core/passes/fusion_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace opstudio::testing {

inline ir::Tensor kmeansRandomTensor(std::vector<int64_t> shape, uint64_t seed) {
    ir::Tensor t(ir::DType::F32, std::move(shape));
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& v : t.span<float>())
        v = d(rng);
    return t;
}

/// x [4,64] -> MatMul fc1 (w1 [64,48]) -> Relu -> Gemm fc2 (w2 [32,48], transB) -> y;
/// xc [1,4,6,6] -> Conv conv (wc [8,4,3,3], pad 1) -> yc.
inline std::shared_ptr<ir::Model> kmeansMlpConv() {
    ir::Attribute transB;
    transB.name = "transB";
    transB.type = ir::AttrType::Int;
    transB.i = 1;
    ir::Attribute pads;
    pads.name = "pads";
    pads.type = ir::AttrType::Ints;
    pads.ints = {1, 1, 1, 1};
    return GraphBuilder(17)
        .input("x", ir::DType::F32, {4, 64})
        .input("xc", ir::DType::F32, {1, 4, 6, 6})
        .initializer("w1", kmeansRandomTensor({64, 48}, 1))
        .initializer("w2", kmeansRandomTensor({32, 48}, 2))
        .initializer("wc", kmeansRandomTensor({8, 4, 3, 3}, 3))
        .node("MatMul", {"x", "w1"}, {"h"}, {}, {}, "fc1")
        .node("Relu", {"h"}, {"r"})
        .node("Gemm", {"r", "w2"}, {"y"}, {transB}, {}, "fc2")
        .node("Conv", {"xc", "wc"}, {"yc"}, {pads}, {}, "conv")
        .output("y")
        .output("yc")
        .build();
}

/// The weight a palettized consumer reads: codebook[offset + index] through Gather <- [Add] <- Cast <- indices.
inline ir::Tensor dequantizedWeight(const ir::Model& m, const std::string& consumer) {
    const ir::Graph& g = *m.graph;
    const ir::Node* c = nullptr;
    g.forEachNode([&](const ir::Node& n) {
        if (n.name == consumer) c = &n;
    });
    if (!c) throw Error("no node " + consumer);
    auto producer = [&](const std::string& v) -> const ir::Node* {
        const ir::Node* p = nullptr;
        g.forEachNode([&](const ir::Node& n) {
            for (const auto& o : n.outputs)
                if (o == v) p = &n;
        });
        if (!p) throw Error("no producer of " + v);
        return p;
    };
    const ir::Node* gather = producer(c->inputs[1]);
    if (gather->opType != "Gather") throw Error("weight of " + consumer + " is not gathered");
    const ir::Tensor& cb = g.initializers.at(gather->inputs[0]);
    const ir::Node* p = producer(gather->inputs[1]);
    const ir::Tensor* offsets = nullptr;
    if (p->opType == "Add") {
        offsets = &g.initializers.at(p->inputs[1]);
        p = producer(p->inputs[0]);
    }
    if (p->opType != "Cast") throw Error("indices of " + consumer + " are not cast");
    const ir::Tensor& idx = g.initializers.at(p->inputs[0]);
    ir::Tensor w(ir::DType::F32, idx.shape());
    const int64_t n = idx.numel();
    for (int64_t e = 0; e < n; ++e) {
        int64_t off = 0;
        if (offsets) {
            // [C, 1, ...] broadcasts along axis 0, [C] along the last axis.
            const int64_t ch = offsets->rank() == 1 ? e % idx.dim(-1) : e / (n / idx.dim(0));
            off = offsets->data<int32_t>()[ch];
        }
        w.data<float>()[e] = cb.data<float>()[off + idx.data<uint8_t>()[e]];
    }
    return w;
}

inline double relativeRmse(const ir::Tensor& ref, const ir::Tensor& approx) {
    double e = 0, r = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
        const double d = static_cast<double>(ref.data<float>()[i]) - approx.data<float>()[i];
        e += d * d;
        r += static_cast<double>(ref.data<float>()[i]) * ref.data<float>()[i];
    }
    return std::sqrt(e / r);
}

} // namespace opstudio::testing
