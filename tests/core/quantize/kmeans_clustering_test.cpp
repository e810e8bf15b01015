// cluster-weights-kmeans: the 1-D k-means itself, the exported structure (uint8 indices + float codebook
// -> Cast -> [Add] -> Gather -> consumer), outputs equal to the model with the dequantized weights
// written back, error falling with the bits, skip reasons, and ONNX Runtime agreement.
#include "core/quantize/kmeans_test_util.h"

#include "passes/quantize/kmeans_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <regex>

namespace opstudio::testing {
namespace {

using passes::quantize::kmeans1d;
using passes::quantize::nearestCentroid;

/// Budget of the equivalence check: the palettized graph and the written-back weights compute the same
/// products from the same float weights, so only summation order may differ.
constexpr double kKmeansWrittenBackMaxAbsDiff = 1e-5;

TEST(KMeans1d, FewDistinctValuesAreTheCentroidsExactly) {
    const std::vector<float> v = {3, 1, 3, 1, 2, 2, 2, 3};
    const auto r = kmeans1d(v, 4, 1);
    EXPECT_EQ(r.centroids, (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(r.sse, 0.0);
}

TEST(KMeans1d, FindsWellSeparatedClustersAndIsDeterministic) {
    std::mt19937 rng(5);
    std::normal_distribution<float> noise(0.f, 0.01f);
    const float centers[4] = {-3.f, -1.f, 0.5f, 4.f};
    std::vector<float> v;
    for (int i = 0; i < 4000; ++i)
        v.push_back(centers[i % 4] + noise(rng));
    const auto a = kmeans1d(v, 4, 7), b = kmeans1d(v, 4, 7);
    ASSERT_EQ(a.centroids.size(), 4u);
    EXPECT_EQ(a.centroids, b.centroids);
    for (int j = 0; j < 4; ++j)
        EXPECT_NEAR(a.centroids[j], centers[j], 2e-3);
    EXPECT_LT(a.sse / v.size(), 2e-4);
    EXPECT_EQ(nearestCentroid(a.centroids, 0.7f), 2);
    EXPECT_EQ(nearestCentroid(a.centroids, -100.f), 0);
    EXPECT_EQ(nearestCentroid(a.centroids, 100.f), 3);
}

TEST(KMeans1d, ErrorFallsWithMoreCentroidsAndWeightsPullCentroids) {
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> v(5000);
    for (float& x : v)
        x = d(rng);
    double prev = 1e30;
    for (int k : {4, 8, 16, 32, 64, 128, 256}) {
        const auto r = kmeans1d(v, k, 1);
        EXPECT_LT(r.sse, prev) << "k=" << k;
        prev = r.sse;
    }
    // One cluster: the (weighted) mean.
    const std::vector<float> x = {0.f, 1.f}, w = {1.f, 3.f};
    const auto one = kmeans1d(x, 1, 1, 10, w);
    ASSERT_EQ(one.centroids.size(), 1u);
    EXPECT_FLOAT_EQ(one.centroids[0], 0.75f);
}

TEST(KMeansClustering, ExportsIndicesCodebookCastGatherForMatMulGemmConv) {
    auto m = kmeansMlpConv();
    const auto r = applyPass(*m, "cluster-weights-kmeans:bits=4,min_weights=0");
    ASSERT_EQ(r[0].applied, 3) << skipsOf(r[0]);
    EXPECT_EQ(countOps(*m, "Gather"), 3);
    EXPECT_EQ(countOps(*m, "Cast"), 3);
    EXPECT_EQ(countOps(*m, "Add"), 0); // one codebook per tensor: no group offsets
    for (const std::string w : {"w1", "w2", "wc"})
        EXPECT_FALSE(m->graph->initializers.count(w)) << w << " should be replaced";
    const auto& idx = m->graph->initializers.at("w1_kmeans_indices");
    EXPECT_EQ(idx.dtype(), ir::DType::U8);
    EXPECT_EQ(idx.shape(), (std::vector<int64_t>{64, 48}));
    for (uint8_t i : idx.span<const uint8_t>())
        EXPECT_LT(i, 16);
    EXPECT_EQ(m->graph->initializers.at("w1_kmeans_codebook").shape(), (std::vector<int64_t>{16}));
    EXPECT_EQ(m->graph->initializers.at("wc_kmeans_indices").shape(), (std::vector<int64_t>{8, 4, 3, 3}));
    // Report: bits/weight, relative RMSE and bytes for each layer; file bytes shrink.
    const std::regex line(R"(fc1: 4-bit indices, 1 codebook\(s\) of 16, 8\.\d\d bits/weight stored, rel\. RMSE 0\.\d+, 12288 -> 3136 bytes)");
    bool found = false;
    for (const auto& n : r[0].notes)
        found = found || std::regex_search(n, line);
    EXPECT_TRUE(found) << r[0].notes[0];
    EXPECT_LT(r[0].weightBytesAfter, r[0].weightBytesBefore / 3);
}

TEST(KMeansClustering, OutputsEqualTheModelWithDequantizedWeightsWrittenBack) {
    for (const char* spec : {"cluster-weights-kmeans:bits=3,min_weights=0",
                             "cluster-weights-kmeans:bits=5,group_channels=5,min_weights=0"}) {
        auto m = kmeansMlpConv();
        const auto feeds = randomModelFeeds(*m, 11);
        applyPass(*m, spec);
        auto back = kmeansMlpConv();
        for (const auto& [node, w] : std::vector<std::pair<std::string, std::string>>{
                 {"fc1", "w1"}, {"fc2", "w2"}, {"conv", "wc"}})
            back->graph->initializers[w] = dequantizedWeight(*m, node);
        const auto a = runModel(*m, feeds), b = runModel(*back, feeds);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i)
            EXPECT_LE(maxAbsDiff(a[i], b[i]), kKmeansWrittenBackMaxAbsDiff) << spec << " output " << i;
    }
}

TEST(KMeansClustering, ReconstructionErrorFallsWithTheBitsAndWithGroups) {
    const auto original = kmeansMlpConv();
    const ir::Tensor& w1 = original->graph->initializers.at("w1");
    double prev = 1e30;
    for (int bits = 2; bits <= 8; ++bits) {
        auto m = kmeansMlpConv();
        applyPass(*m, "cluster-weights-kmeans:min_weights=0,bits=" + std::to_string(bits));
        const double e = relativeRmse(w1, dequantizedWeight(*m, "fc1"));
        EXPECT_LT(e, prev) << "bits=" << bits;
        prev = e;
    }
    EXPECT_LT(prev, 0.01); // 256 centroids for 3072 Gaussian weights
    auto perTensor = kmeansMlpConv(), perGroup = kmeansMlpConv();
    applyPass(*perTensor, "cluster-weights-kmeans:bits=3,min_weights=0");
    const auto r = applyPass(*perGroup, "cluster-weights-kmeans:bits=3,group_channels=8,min_weights=0");
    EXPECT_EQ(countOps(*perGroup, "Add"), 2); // the conv's 8 filters are one group: no offsets
    EXPECT_EQ(perGroup->graph->initializers.at("w1_kmeans_codebook").numel(), 6 * 8); // 48 columns / 8
    EXPECT_LT(relativeRmse(w1, dequantizedWeight(*perGroup, "fc1")),
              relativeRmse(w1, dequantizedWeight(*perTensor, "fc1")));
}

TEST(KMeansClustering, SkipListSmallAndSharedWeightsAreReported) {
    auto m = kmeansMlpConv();
    const auto r = applyPass(*m, "cluster-weights-kmeans:skip=fc2;Conv");
    EXPECT_EQ(r[0].applied, 1) << skipsOf(r[0]);
    EXPECT_TRUE(hasSkip(r[0], "in the skip list"));
    EXPECT_TRUE(m->graph->initializers.count("w2"));
    EXPECT_TRUE(m->graph->initializers.count("wc"));

    auto small = kmeansMlpConv();
    const auto r2 = applyPass(*small, "cluster-weights-kmeans:min_weights=1000");
    EXPECT_EQ(r2[0].applied, 2) << skipsOf(r2[0]); // the conv's 288 weights stay
    EXPECT_TRUE(hasSkip(r2[0], "288 elements, below min_weights=1000")) << skipsOf(r2[0]);

    auto shared = GraphBuilder(17)
                      .input("x", ir::DType::F32, {2, 64})
                      .initializer("w", kmeansRandomTensor({64, 64}, 3))
                      .node("MatMul", {"x", "w"}, {"a"})
                      .node("MatMul", {"a", "w"}, {"b"})
                      .output("b")
                      .build();
    const auto r3 = applyPass(*shared, "cluster-weights-kmeans");
    EXPECT_EQ(r3[0].applied, 0);
    EXPECT_TRUE(hasSkip(r3[0], "shared with other nodes")) << skipsOf(r3[0]);
    bool why = false;
    for (const auto& n : r3[0].notes)
        why = why || n.find("pass does not apply") == 0;
    EXPECT_TRUE(why);
}

TEST(KMeansClustering, OrtRunsThePortableGraphWithOurOutputs) {
    for (const char* spec : {"cluster-weights-kmeans:bits=4,min_weights=0",
                             "cluster-weights-kmeans:bits=2,group_channels=3,min_weights=0"}) {
        auto m = kmeansMlpConv();
        const auto feeds = randomModelFeeds(*m, 4);
        applyPass(*m, spec);
        expectOrtMatches(*m, feeds, 1e-4, "kmeans_mlp_conv");
    }
}

TEST(KMeansClustering, PackedIndicesHalveTheBytesAndKeepEveryOutput) {
    auto plain = kmeansMlpConv(), packed = kmeansMlpConv();
    const auto feeds = randomModelFeeds(*plain, 8);
    const auto rp = applyPass(*plain, "cluster-weights-kmeans:bits=4,min_weights=0");
    const auto rq = applyPass(*packed, "cluster-weights-kmeans:bits=4,min_weights=0,pack_indices=true");
    ASSERT_EQ(rq[0].applied, 3) << skipsOf(rq[0]);
    EXPECT_EQ(countOps(*packed, "BitShift"), 6);
    EXPECT_EQ(countOps(*packed, "Concat"), 3);
    EXPECT_EQ(packed->graph->initializers.at("w1_kmeans_indices_4bit").numel(), 64 * 48 / 2);
    // fc1: 12288 fp32 bytes -> 1536 packed + 64 codebook + 1 + 16 shape bytes.
    EXPECT_NE(rq[0].notes[0].find("4-bit indices (2 per byte)"), std::string::npos) << rq[0].notes[0];
    EXPECT_NE(rq[0].notes[0].find("12288 -> 1617 bytes"), std::string::npos) << rq[0].notes[0];
    EXPECT_LT(rq[0].weightBytesAfter, rp[0].weightBytesAfter * 0.6);
    // The same clustering: identical outputs (our fast plan runs fc1 as LutMatMul on the unpacked indices).
    const auto a = runModel(*plain, feeds), b = runModel(*packed, feeds);
    for (size_t i = 0; i < a.size(); ++i)
        EXPECT_EQ(maxAbsDiff(a[i], b[i]), 0.0) << "output " << i;
    expectOrtMatches(*packed, feeds, 1e-4, "kmeans_packed");

    // More than 4 bits: indices stay one per byte.
    auto wide = kmeansMlpConv();
    const auto rw = applyPass(*wide, "cluster-weights-kmeans:bits=5,min_weights=0,pack_indices=true");
    EXPECT_EQ(countOps(*wide, "BitShift"), 0);
    EXPECT_EQ(rw[0].notes[0].find("(2 per byte)"), std::string::npos);
}

TEST(KMeansClustering, PackedOddSizedWeightIsCutBySliceAndRunsAsLutMatMul) {
    auto m = GraphBuilder(17)
                 .input("a", ir::DType::F32, {3, 7})
                 .initializer("w", kmeansRandomTensor({7, 13}, 6))
                 .node("MatMul", {"a", "w"}, {"y"}, {}, {}, "mm")
                 .output("y")
                 .build();
    const auto feeds = randomModelFeeds(*m, 3);
    applyPass(*m, "cluster-weights-kmeans:bits=3,min_weights=0,pack_indices=true");
    EXPECT_EQ(countOps(*m, "Slice"), 1); // 91 indices in 46 bytes
    rt::SessionOptions fastOptions, refOptions;
    refOptions.reference = true;
    auto fast = rt::Session::create(m, fastOptions), ref = rt::Session::create(m, refOptions);
    ASSERT_TRUE(fast.ok() && ref.ok());
    EXPECT_EQ(fast.value()->kernelPath(nodeId(*m, "mm")).rfind("lut", 0), 0u);
    const auto yf = fast.value()->run(feeds), yr = ref.value()->run(feeds);
    ASSERT_TRUE(yf.ok() && yr.ok());
    EXPECT_TRUE(allClose(yf.value()[0].tensor, yr.value()[0].tensor, 1e-5, 1e-5));
    expectOrtMatches(*m, feeds, 1e-4, "kmeans_packed_odd");
}

} // namespace
} // namespace opstudio::testing
