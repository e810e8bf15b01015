// LutMatMul: the plan runs palettized MatMuls (Cast -> [Add] -> Gather -> MatMul with constant inputs)
// as one lookup-table kernel on the indices; it equals the graph as written (reference plan) on odd
// shapes, declines when the gathered weight has another reader, and holds no dequantized weight.
#include "core/quantize/kmeans_test_util.h"

#include "opstudio/runtime/session.h"

#include <gtest/gtest.h>

namespace opstudio::testing {
namespace {

/// Fast LUT kernel vs the reference plan (Cast/Gather/MatMul as plain loops): float sums in another order.
constexpr double kLutVsReferenceAtol = 1e-4;
constexpr double kLutVsReferenceRtol = 1e-4;

std::shared_ptr<ir::Model> matmulModel(int64_t m, int64_t k, int64_t n, uint64_t seed) {
    return GraphBuilder(17)
        .input("a", ir::DType::F32, {m, k})
        .initializer("w", kmeansRandomTensor({k, n}, seed))
        .node("MatMul", {"a", "w"}, {"y"}, {}, {}, "mm")
        .output("y")
        .build();
}

struct Ran {
    ir::Tensor y;
    std::string path;
    size_t peakBytes = 0;
};

Ran runWith(const std::shared_ptr<ir::Model>& m, const std::map<std::string, ir::Tensor>& feeds, bool reference,
            int threads) {
    rt::SessionOptions o;
    o.reference = reference;
    o.threads = threads;
    auto s = rt::Session::create(m, o);
    if (!s.ok()) throw s.error();
    auto out = s.value()->run(feeds);
    if (!out.ok()) throw out.error();
    return {out.value()[0].tensor, std::string(s.value()->kernelPath(nodeId(*m, "mm"))),
            s.value()->peakActivationBytes()};
}

TEST(LutMatMul, FastPathEqualsTheReferencePlanOnOddShapes) {
    const char* specs[] = {
        "bits=4",                   // 16 centroids, one table: 4-bit packed indices, vpermps
        "bits=2,group_channels=16", // one table per 16 columns
        "bits=4,group_channels=5",  // groups straddle vectors: gathers
        "bits=7",                   // 128 centroids: byte indices, gathers
    };
    int lutRuns = 0;
    for (const char* spec : specs)
        for (int64_t k : {1, 7, 13, 130})
            for (int64_t n : {1, 7, 13, 48, 515})
                for (int64_t m : {1, 3, 17}) {
                    auto model = matmulModel(m, k, n, static_cast<uint64_t>(k * 1000 + n));
                    const auto r = applyPass(*model, std::string("cluster-weights-kmeans:min_weights=0,") + spec);
                    if (r[0].applied == 0) { // k * n not above the centroid count
                        EXPECT_LE(k * n, 128) << spec;
                        continue;
                    }
                    const auto feeds = randomModelFeeds(*model, 5);
                    const Ran ref = runWith(model, feeds, true, 1);
                    EXPECT_EQ(ref.path, "reference");
                    for (int threads : {1, 2}) {
                        const Ran fast = runWith(model, feeds, false, threads);
                        ASSERT_EQ(fast.path.rfind("lut", 0), 0u) << fast.path;
                        EXPECT_TRUE(allClose(fast.y, ref.y, kLutVsReferenceAtol, kLutVsReferenceRtol))
                            << spec << " m=" << m << " k=" << k << " n=" << n << " threads=" << threads;
                        ++lutRuns;
                    }
                }
    EXPECT_GT(lutRuns, 350);
}

TEST(LutMatMul, DecodeHoldsNoDequantizedWeight) {
    auto model = matmulModel(1, 256, 512, 3);
    applyPass(*model, "cluster-weights-kmeans:bits=4");
    const auto feeds = randomModelFeeds(*model, 1);
    const Ran fast = runWith(model, feeds, false, 1), ref = runWith(model, feeds, true, 1);
    const size_t weightBytes = 256 * 512 * sizeof(float);
    EXPECT_GE(ref.peakBytes, weightBytes); // the graph as written materializes Gather's output
    EXPECT_LT(fast.peakBytes, weightBytes / 16) << fast.peakBytes;
    EXPECT_TRUE(allClose(fast.y, ref.y, kLutVsReferenceAtol, kLutVsReferenceRtol));
}

TEST(LutMatMul, DeclinesWhenTheGatheredWeightHasAnotherReader) {
    auto model = matmulModel(2, 64, 32, 4);
    applyPass(*model, "cluster-weights-kmeans:bits=4");
    // Expose the dequantized weight as a second output: the Gather must run.
    const ir::Node* gather = findOp(*model, "Gather");
    ASSERT_NE(gather, nullptr);
    model->graph->outputs.push_back(gather->outputs[0]);
    model->graph->rebuildIndex();
    const auto feeds = randomModelFeeds(*model, 2);
    const Ran fast = runWith(model, feeds, false, 1), ref = runWith(model, feeds, true, 1);
    EXPECT_EQ(fast.path.rfind("lut", 0), std::string::npos) << fast.path;
    EXPECT_TRUE(allClose(fast.y, ref.y, kLutVsReferenceAtol, kLutVsReferenceRtol));
}

TEST(LutMatMul, KernelWithComputedTablesAndBatchedRows) {
    // The internal op on its own, indices/codebook fed at run time (packed per call), A of rank 3.
    const int64_t k = 21, n = 19;
    ir::Tensor idx(ir::DType::U8, {k, n});
    for (int64_t i = 0; i < k * n; ++i)
        idx.data<uint8_t>()[i] = static_cast<uint8_t>((i * 7) % 13);
    ir::Tensor cb = randomTensor(ir::DType::F32, {26}, 3);
    ir::Tensor off(ir::DType::I32, {n});
    for (int64_t c = 0; c < n; ++c)
        off.data<int32_t>()[c] = c < 10 ? 0 : 13;
    const ir::Tensor a = randomTensor(ir::DType::F32, {2, 5, k}, 9);
    NodeSpec spec{"LutMatMul", "ai.opstudio", 1};
    for (bool constant : {false, true}) {
        spec.constantInputs = {false, constant, constant, constant};
        const auto fast = runNode(spec, {a, idx, cb, off});
        const auto ref = runNode(spec, {a, idx, cb, off}, true);
        ASSERT_EQ(fast[0].shape(), (std::vector<int64_t>{2, 5, n}));
        EXPECT_TRUE(allClose(fast[0], ref[0], kLutVsReferenceAtol, kLutVsReferenceRtol));
        // Element (1, 2, 15) by hand.
        double s = 0;
        for (int64_t r = 0; r < k; ++r)
            s += a.data<float>()[(1 * 5 + 2) * k + r] * cb.data<float>()[13 + idx.data<uint8_t>()[r * n + 15]];
        EXPECT_NEAR(fast[0].data<float>()[(1 * 5 + 2) * n + 15], s, 1e-4);
    }
    off.data<int32_t>()[3] = 20; // 20 + 12 is past the 26 entries
    EXPECT_THROW(runNode(spec, {a, idx, cb, off}), Error);
}

} // namespace
} // namespace opstudio::testing
