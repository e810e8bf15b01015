// cluster-weights-kmeans on trained weights: the byte-level LLaMA of tests/data (perplexity on the first
// held-out chunks, so the test stays fast) and the weight bytes the palettized file stores.
#include "core/quantize/kmeans_test_util.h"

#include "opstudio/calibrate/sources.h"
#include "opstudio/llm/perplexity.h"

#include <fstream>
#include <sstream>

namespace opstudio::testing {
namespace {

const std::string kLlamaDir = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes";

/// Held-out perplexity rise of 4-bit palettization (16 centroids per tensor) over fp32 on the first
/// 8 chunks: measured 5.4816 -> 5.4985, +0.31 % (all 88 chunks: 4.1022 -> 4.1219, +0.48 %).
constexpr double kKmeans4BitMaxPerplexityRise = 0.01;
/// The same for 3 bits: measured 5.4816 -> 5.5319, +0.92 % (88 chunks: 4.1869, +2.06 %).
constexpr double kKmeans3BitMaxPerplexityRise = 0.03;
/// 3 bits, one codebook per output channel, weighted by input activation energy on 32 calibration chunks:
/// measured 5.4889 (+0.13 %) vs 5.5231 unweighted on 8 chunks (88 chunks: 4.1578 vs 4.1577, 64 calibration
/// chunks 4.1533).
constexpr double kKmeans3BitWeightedMaxPerplexityRise = 0.01;

std::string readText(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

const ir::Model& llama() {
    static const ir::Model m = [] {
        auto r = onnxio::loadModel(kLlamaDir + "/model.onnx");
        if (!r.ok()) throw r.error();
        return std::move(r).value();
    }();
    return m;
}

double perplexityOf(const ir::Model& m) {
    llm::PerplexityOptions o;
    o.maxChunks = 8;
    auto r = llm::perplexity(std::make_shared<const ir::Model>(m.clone()), readText(kLlamaDir + "/heldout.txt"), o);
    if (!r.ok()) throw r.error();
    return r.value().perplexity;
}

TEST(KMeansClusteringLlm, PerplexityRiseStaysWithinTheBudgetsAndWeightsShrink) {
    const double fp32 = perplexityOf(llama());
    for (const auto& [bits, budget] :
         {std::pair{4, kKmeans4BitMaxPerplexityRise}, std::pair{3, kKmeans3BitMaxPerplexityRise}}) {
        ir::Model m = llama().clone();
        const auto r = applyPass(m, "cluster-weights-kmeans:bits=" + std::to_string(bits));
        EXPECT_EQ(r[0].applied, 29) << skipsOf(r[0]); // every weight MatMul, LM head included
        const double q = perplexityOf(m);
        EXPECT_LE(q / fp32 - 1.0, budget) << bits << " bits: " << q << " vs fp32 " << fp32;
        EXPECT_NE(q, fp32) << "the clustered model must differ from fp32";
        // uint8 indices: ~1/4 of the clustered fp32 bytes (embedding, norms and rotary tables stay fp32).
        EXPECT_LT(r[0].weightBytesAfter, r[0].weightBytesBefore * 0.45);
    }
}

TEST(KMeansClusteringLlm, ActivationWeightingHelpsThreeBitPerChannelCodebooks) {
    auto calib = calibrate::textCalibration(llama(), readText(kLlamaDir + "/calibration.txt"), 128, 32);
    ASSERT_TRUE(calib.ok()) << calib.error().what();
    auto clustered = [&](const std::string& spec) {
        ir::Model m = llama().clone();
        passes::Pipeline p;
        p.steps.push_back(passes::Pipeline::parseStep(spec));
        auto r = p.run(m, nullptr, &calib.value());
        if (!r.ok()) throw r.error();
        EXPECT_EQ(r.value()[0].applied, 29) << skipsOf(r.value()[0]);
        return perplexityOf(m);
    };
    const double fp32 = perplexityOf(llama());
    const double plain = clustered("cluster-weights-kmeans:bits=3,group_channels=1");
    const double weighted = clustered("cluster-weights-kmeans:bits=3,group_channels=1,sensitivity=activation");
    EXPECT_LT(weighted, plain) << "fp32 " << fp32;
    EXPECT_LE(weighted / fp32 - 1.0, kKmeans3BitWeightedMaxPerplexityRise) << weighted << " vs fp32 " << fp32;
    // Without calibration data the weighted mode is a clear error.
    ir::Model m = llama().clone();
    EXPECT_THROW(applyPass(m, "cluster-weights-kmeans:sensitivity=activation"), Error);
}

} // namespace
} // namespace opstudio::testing
