// prune-magnitude and prune-n-m: the requested sparsity is reached per layer (exactly), the skip list and
// shared weights are respected with reasons, the file keeps exactly the mask, and ORT agrees with us.
#include "core/passes/fusion_test_util.h"

#include "opstudio/onnx/model_io.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace opstudio::testing {
namespace {

ir::Tensor randomTensor(std::vector<int64_t> shape, uint64_t seed) {
    ir::Tensor t(ir::DType::F32, std::move(shape));
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& v : t.span<float>())
        v = d(rng);
    return t;
}

ir::Attribute transB() {
    ir::Attribute a;
    a.name = "transB";
    a.type = ir::AttrType::Int;
    a.i = 1;
    return a;
}

int64_t zerosOf(const ir::Tensor& t) {
    const auto s = t.span<const float>();
    return std::count(s.begin(), s.end(), 0.f);
}

/// x[4,64] -> MatMul(W1 [64,48]) -> Relu -> Gemm(W2 [32,48], transB) -> y
std::shared_ptr<ir::Model> mlp() {
    return GraphBuilder(17)
        .input("x", ir::DType::F32, {4, 64})
        .initializer("w1", randomTensor({64, 48}, 1))
        .initializer("w2", randomTensor({32, 48}, 2))
        .node("MatMul", {"x", "w1"}, {"h"}, {}, {}, "fc1")
        .node("Relu", {"h"}, {"r"})
        .node("Gemm", {"r", "w2"}, {"y"}, {transB()}, {}, "fc2")
        .output("y")
        .build();
}

TEST(MagnitudePruning, PerLayerReachesTheSparsityExactlyAndKeepsTheLargest) {
    auto m = mlp();
    const ir::Tensor before = m->graph->initializers.at("w1").clone();
    const auto reports = applyPass(*m, "prune-magnitude:sparsity=0.5");
    ASSERT_EQ(reports[0].applied, 2) << skipsOf(reports[0]);
    EXPECT_EQ(zerosOf(m->graph->initializers.at("w1")), 64 * 48 / 2);
    EXPECT_EQ(zerosOf(m->graph->initializers.at("w2")), 32 * 48 / 2);
    // Every zeroed weight is no larger than every kept one.
    const auto a = before.span<const float>(), b = m->graph->initializers.at("w1").span<const float>();
    float maxPruned = 0, minKept = 1e30f;
    for (size_t i = 0; i < a.size(); ++i) {
        if (b[i] == 0.f)
            maxPruned = std::max(maxPruned, std::fabs(a[i]));
        else {
            EXPECT_EQ(a[i], b[i]);
            minKept = std::min(minKept, std::fabs(a[i]));
        }
    }
    EXPECT_LE(maxPruned, minKept);
    const auto& notes = reports[0].notes;
    EXPECT_TRUE(std::any_of(notes.begin(), notes.end(),
                            [](const std::string& n) { return n.find("fc1: 50.0 % zero") == 0; }));
}

TEST(MagnitudePruning, PerRowPrunesEveryOutputRowAlike) {
    auto m = mlp();
    applyPass(*m, "prune-magnitude:sparsity=0.25,scope=per-row");
    const float* w1 = m->graph->initializers.at("w1").data<float>(); // [K=64, N=48]: row n is column n
    for (int n = 0; n < 48; ++n) {
        int z = 0;
        for (int k = 0; k < 64; ++k)
            z += w1[k * 48 + n] == 0.f;
        EXPECT_EQ(z, 16) << "output column " << n;
    }
    const float* w2 = m->graph->initializers.at("w2").data<float>(); // transB [N=32, K=48]
    for (int n = 0; n < 32; ++n)
        EXPECT_EQ(std::count(w2 + n * 48, w2 + (n + 1) * 48, 0.f), 12) << "row " << n;
}

TEST(MagnitudePruning, GlobalReachesTheSparsityOverAllLayers) {
    auto m = mlp();
    applyPass(*m, "prune-magnitude:sparsity=0.6,scope=global");
    const int64_t total = zerosOf(m->graph->initializers.at("w1")) + zerosOf(m->graph->initializers.at("w2"));
    EXPECT_EQ(total, static_cast<int64_t>(std::floor(0.6 * (64 * 48 + 32 * 48))));
}

TEST(MagnitudePruning, SkipListAndSharedWeightsAreReported) {
    auto m = mlp();
    const auto r = applyPass(*m, "prune-magnitude:sparsity=0.5,skip=fc2");
    EXPECT_EQ(r[0].applied, 1);
    EXPECT_TRUE(hasSkip(r[0], "in the skip list")) << skipsOf(r[0]);
    EXPECT_EQ(zerosOf(m->graph->initializers.at("w2")), 0);

    auto shared = GraphBuilder(17)
                      .input("x", ir::DType::F32, {2, 8})
                      .initializer("w", randomTensor({8, 8}, 3))
                      .node("MatMul", {"x", "w"}, {"a"})
                      .node("MatMul", {"a", "w"}, {"b"})
                      .output("b")
                      .build();
    const auto r2 = applyPass(*shared, "prune-magnitude");
    EXPECT_EQ(r2[0].applied, 0);
    EXPECT_TRUE(hasSkip(r2[0], "shared with other nodes")) << skipsOf(r2[0]);
}

TEST(MagnitudePruning, OutputsEqualTheMaskedModelInOrtAndTheFileKeepsTheMask) {
    auto m = mlp();
    applyPass(*m, "prune-magnitude:sparsity=0.7");
    const auto feeds = randomModelFeeds(*m, 9);
    // Our runtime on the pruned weights equals x · W1' by hand (first layer, before Relu).
    const ir::Tensor& w1 = m->graph->initializers.at("w1");
    const float* x = feeds.at("x").data<float>();
    auto probe = GraphBuilder(17)
                     .input("x", ir::DType::F32, {4, 64})
                     .initializer("w1", w1)
                     .node("MatMul", {"x", "w1"}, {"h"})
                     .output("h")
                     .build();
    const auto h = runModel(*probe, feeds)[0];
    for (int i = 0; i < 4; ++i)
        for (int n = 0; n < 48; ++n) {
            double acc = 0;
            for (int k = 0; k < 64; ++k)
                acc += x[i * 64 + k] * w1.data<float>()[k * 48 + n];
            EXPECT_NEAR(h.data<float>()[i * 48 + n], acc, 1e-4);
        }
    expectOrtMatches(*m, feeds, 1e-4, "pruned_mlp");
    const std::string path = tempModelPath("pruned_mlp_roundtrip");
    ASSERT_TRUE(onnxio::saveModel(*m, path).ok());
    auto loaded = onnxio::loadModel(path);
    ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
    EXPECT_EQ(zerosOf(loaded.value().graph->initializers.at("w1")), zerosOf(w1));
    EXPECT_EQ(zerosOf(w1), static_cast<int64_t>(std::floor(0.7 * 64 * 48)));
}

TEST(NmPruning, TwoOfFourKeepsTheTwoLargestOfEveryGroup) {
    auto m = mlp();
    const ir::Tensor before = m->graph->initializers.at("w1").clone();
    const auto r = applyPass(*m, "prune-n-m:n=2,m=4");
    ASSERT_EQ(r[0].applied, 2) << skipsOf(r[0]);
    const float* a = before.data<float>();
    const float* b = m->graph->initializers.at("w1").data<float>();
    for (int n = 0; n < 48; ++n)
        for (int g = 0; g < 64; g += 4) {
            int zeros = 0;
            float minKept = 1e30f, maxPruned = 0;
            for (int k = g; k < g + 4; ++k) {
                const float o = std::fabs(a[k * 48 + n]);
                if (b[k * 48 + n] == 0.f) {
                    ++zeros;
                    maxPruned = std::max(maxPruned, o);
                } else
                    minKept = std::min(minKept, o);
            }
            ASSERT_EQ(zeros, 2) << "column " << n << " group " << g;
            EXPECT_LE(maxPruned, minKept);
        }
    EXPECT_EQ(zerosOf(m->graph->initializers.at("w2")), 32 * 48 / 2);
}

TEST(NmPruning, ConvGroupsRunAlongInputChannelsAndOddLengthsAreSkipped) {
    auto m = GraphBuilder(13)
                 .input("x", ir::DType::F32, {1, 8, 5, 5})
                 .input("v", ir::DType::F32, {2, 7})
                 .initializer("w", randomTensor({4, 8, 3, 3}, 4))
                 .initializer("w7", randomTensor({7, 7}, 5))
                 .node("Conv", {"x", "w"}, {"c"}, {}, {}, "conv")
                 .node("MatMul", {"v", "w7"}, {"o"}, {}, {}, "odd")
                 .output("c")
                 .output("o")
                 .build();
    const auto feeds = randomModelFeeds(*m, 2);
    const auto r = applyPass(*m, "prune-n-m:n=2,m=4");
    EXPECT_TRUE(hasSkip(r[0], "not a multiple of m=4")) << skipsOf(r[0]);
    const float* w = m->graph->initializers.at("w").data<float>(); // [M, C, kh, kw]
    for (int o = 0; o < 4; ++o)
        for (int s = 0; s < 9; ++s)
            for (int c0 = 0; c0 < 8; c0 += 4) {
                int zeros = 0;
                for (int c = c0; c < c0 + 4; ++c)
                    zeros += w[(o * 8 + c) * 9 + s] == 0.f;
                EXPECT_EQ(zeros, 2) << "filter " << o << " tap " << s << " channels " << c0;
            }
    expectOrtMatches(*m, feeds, 1e-4, "pruned_conv_2_4");
}

TEST(NmPruning, RejectsNNotBelowM) {
    auto m = mlp();
    EXPECT_THROW(applyPass(*m, "prune-n-m:n=4,m=4"), Error);
}

} // namespace
} // namespace opstudio::testing
