// quantize-weights: block quantization math (hand-computed codes, error bounds), the MatMulNBits
// layout our kernel and ONNX Runtime read (odd K, N = 1, 7, 13; int4/int8; with and without zero
// points; Gemm alpha/beta/bias/transB), skip reasons, GPTQ against plain rounding on correlated
// inputs, and perplexity on the trained byte-level LLaMA within named budgets.
#include "core/passes/fusion_test_util.h"

#include "opstudio/calibrate/sources.h"
#include "opstudio/llm/perplexity.h"
#include "passes/quantize/weight_quant_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

namespace opstudio::testing {
namespace {

using passes::quantize::BlockQuantConfig;
using passes::quantize::QuantizedMatrix;

/// Our MatMulNBits output vs MatMul with the dequantized weight: same math, other summation order.
constexpr double kNBitsVsDequantizedMaxAbs = 1e-4;
/// Held-out perplexity budgets on the trained llama_bytes model (first kPplChunks chunks).
constexpr double kInt8Block32MaxPerplexityRise = 0.01;  // issue 11: int8 <= +1 %
constexpr double kInt4Block32MaxPerplexityRise = 0.02;  // measured +0.32 % on all 88 chunks (RTN, no clip search)
constexpr int64_t kPplChunks = 24;

std::vector<float> randomValues(size_t count, uint64_t seed, float stddev = 1.f) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::normal_distribution<float> d(0.f, stddev);
    std::vector<float> v(count);
    for (float& x : v) x = d(rng);
    return v;
}

ir::Tensor tensorOf(std::vector<int64_t> shape, const std::vector<float>& values) {
    return ir::Tensor::fromVector<float>(std::move(shape), values);
}


/// x [3, K] -> MatMul(W [K, N]) -> y
std::shared_ptr<ir::Model> matmulModel(int64_t k, int64_t n, uint64_t seed) {
    return GraphBuilder(17)
        .input("x", ir::DType::F32, {3, k})
        .initializer("w", tensorOf({k, n}, randomValues(static_cast<size_t>(k * n), seed, 0.1f)))
        .node("MatMul", {"x", "w"}, {"y"}, {}, {}, "proj")
        .output("y")
        .build();
}

/// The same model with W replaced by what MatMulNBits computes with (its dequantized weight).
std::shared_ptr<ir::Model> dequantizedTwin(const ir::Model& quantized, const ir::Model& original) {
    auto twin = std::make_shared<ir::Model>(original.clone());
    const ir::Node* q = findOp(quantized, "MatMulNBits");
    EXPECT_NE(q, nullptr);
    if (!q) return twin;
    const auto& g = *quantized.graph;
    const int64_t k = q->attrInt("K", 0), n = q->attrInt("N", 0);
    BlockQuantConfig cfg;
    cfg.bits = static_cast<int>(q->attrInt("bits", 4));
    cfg.blockSize = q->attrInt("block_size", 32);
    cfg.symmetric = !q->presentInput(3);
    QuantizedMatrix m = passes::quantize::makeQuantizedMatrix(n, k, cfg);
    const auto& b = g.initializers.at(q->inputs[1]);
    m.packed.assign(b.data<uint8_t>(), b.data<uint8_t>() + b.numel());
    const auto& s = g.initializers.at(q->inputs[2]);
    m.scales.assign(s.data<float>(), s.data<float>() + s.numel());
    if (!cfg.symmetric) {
        const auto& z = g.initializers.at(q->inputs[3]);
        m.zeros.assign(z.data<uint8_t>(), z.data<uint8_t>() + z.numel());
    }
    const std::vector<float> wq = m.dequantize(); // [N, K]
    ir::Tensor& w = twin->graph->initializers.at("w");
    float* dst = w.data<float>();
    for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < k; ++i) dst[i * n + r] = wq[static_cast<size_t>(r * k + i)];
    return twin;
}

TEST(BlockQuant, SymmetricInt4HandComputedBlock) {
    // One block of 16: the largest magnitude (-1.6) maps to code 0, scale = -1.6 / -8 = 0.2.
    std::vector<float> w = {-1.6f, 0.f, 0.2f, 0.4f, 1.4f, 1.5f, -0.3f, 0.1f, 0, 0, 0, 0, 0, 0, 0, 0.6f};
    BlockQuantConfig cfg;
    cfg.blockSize = 16;
    cfg.searchClip = false;
    const QuantizedMatrix q = passes::quantize::quantizeRtn(w, 1, 16, cfg);
    ASSERT_EQ(q.packed.size(), 8u);
    EXPECT_FLOAT_EQ(q.scales[0], 0.2f);
    EXPECT_EQ(q.code(0, 0), 0);       // -1.6 / 0.2 = -8 -> 0
    EXPECT_EQ(q.code(0, 1), 8);       // 0
    EXPECT_EQ(q.code(0, 2), 9);       // 1
    EXPECT_EQ(q.code(0, 4), 15);      // 7
    EXPECT_EQ(q.code(0, 5), 15);      // 7.5 clipped to 7
    EXPECT_EQ(q.packed[0], 0x80);     // codes 0 (low nibble) and 8 (high nibble)
    const auto d = q.dequantize();
    EXPECT_FLOAT_EQ(d[0], -1.6f);
    EXPECT_NEAR(d[5], 1.4f, 1e-6);
}

TEST(BlockQuant, RoundToNearestErrorIsWithinHalfAStep) {
    for (int bits : {4, 8})
        for (bool sym : {true, false}) {
            BlockQuantConfig cfg;
            cfg.bits = bits;
            cfg.blockSize = 32;
            cfg.symmetric = sym;
            cfg.searchClip = false;
            const int64_t n = 5, k = 75; // last block partial
            const auto w = randomValues(static_cast<size_t>(n * k), 3);
            const QuantizedMatrix q = passes::quantize::quantizeRtn(w, n, k, cfg);
            const auto d = q.dequantize();
            for (int64_t r = 0; r < n; ++r)
                for (int64_t i = 0; i < k; ++i) {
                    const float step = std::fabs(q.scales[static_cast<size_t>(r * q.kBlocks + i / 32)]);
                    const float v = w[static_cast<size_t>(r * k + i)];
                    // Symmetric clips the side opposite the extreme by at most one step.
                    EXPECT_LE(std::fabs(v - d[static_cast<size_t>(r * k + i)]), (sym ? 1.0f : 0.5f) * step + 1e-6f)
                        << "bits " << bits << " sym " << sym << " at " << r << "," << i;
                }
        }
}

TEST(BlockQuant, ClipSearchNeverIncreasesTheError) {
    const auto w = randomValues(64 * 128, 4);
    BlockQuantConfig plain;
    plain.searchClip = false;
    BlockQuantConfig searched;
    searched.searchClip = true;
    const auto a = passes::quantize::quantizeRtn(w, 64, 128, plain).dequantize();
    const auto b = passes::quantize::quantizeRtn(w, 64, 128, searched).dequantize();
    double ea = 0, eb = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        ea += (w[i] - a[i]) * (w[i] - a[i]);
        eb += (w[i] - b[i]) * (w[i] - b[i]);
    }
    EXPECT_LT(eb, ea);
}

TEST(QuantizeWeights, MatMulNBitsComputesWithTheDequantizedWeightOnOddShapes) {
    struct Case {
        int64_t k, n;
        const char* spec;
    };
    const Case cases[] = {
        {40, 1, "quantize-weights:bits=4,block_size=32"},
        {40, 7, "quantize-weights:bits=4,block_size=16,symmetric=false"},
        {96, 13, "quantize-weights:bits=8,block_size=32"},
        {70, 13, "quantize-weights:bits=8,block_size=64,symmetric=false"},
        {256, 9, "quantize-weights:bits=4,block_size=128,symmetric=false"},
    };
    for (const Case& c : cases) {
        auto original = matmulModel(c.k, c.n, static_cast<uint64_t>(c.k * 100 + c.n));
        auto q = std::make_shared<ir::Model>(original->clone());
        const auto reports = applyPass(*q, c.spec);
        ASSERT_EQ(reports[0].applied, 1) << c.spec << "\n" << skipsOf(reports[0]);
        EXPECT_EQ(countOps(*q, "MatMul"), 0);
        ASSERT_EQ(countOps(*q, "MatMulNBits"), 1);
        EXPECT_EQ(q->opsetFor("com.microsoft"), 1);
        auto twin = dequantizedTwin(*q, *original);
        const auto feeds = randomModelFeeds(*original, 11);
        const auto a = runModel(*q, feeds), b = runModel(*twin, feeds), ref = runModel(*original, feeds);
        EXPECT_LE(maxAbsDiff(a[0], b[0]), kNBitsVsDequantizedMaxAbs) << c.spec;
        EXPECT_GT(maxAbsDiff(a[0], ref[0]), 0.0) << "quantization changed nothing: " << c.spec;
    }
}

TEST(QuantizeWeights, GemmFoldsAlphaBetaBiasAndTransB) {
    const int64_t k = 48, n = 20;
    auto original = GraphBuilder(17)
                        .input("x", ir::DType::F32, {4, k})
                        .initializer("w", tensorOf({n, k}, randomValues(static_cast<size_t>(n * k), 5, 0.2f)))
                        .initializer("c", tensorOf({n}, randomValues(static_cast<size_t>(n), 6)))
                        .node("Gemm", {"x", "w", "c"}, {"y"},
                              {attrInt("transB", 1), attrFloat("alpha", 0.5f), attrFloat("beta", 2.f)},
                              {}, "fc")
                        .output("y")
                        .build();
    auto q = std::make_shared<ir::Model>(original->clone());
    const auto reports = applyPass(*q, "quantize-weights:bits=8,block_size=16");
    ASSERT_EQ(reports[0].applied, 1) << skipsOf(reports[0]);
    const ir::Node* nb = findOp(*q, "MatMulNBits");
    ASSERT_NE(nb, nullptr);
    ASSERT_EQ(nb->inputs.size(), 6u); // A, B, scales, zp "", g_idx "", bias
    EXPECT_TRUE(nb->inputs[3].empty());
    const auto feeds = randomModelFeeds(*original, 12);
    const auto a = runModel(*q, feeds), ref = runModel(*original, feeds);
    // int8 block 16 on weights of scale 0.2: outputs within a few 1e-3 of fp32.
    EXPECT_LE(maxAbsDiff(a[0], ref[0]), 2e-2);
    expectOrtMatches(*q, feeds, kNBitsVsDequantizedMaxAbs, "qw_gemm");
}

TEST(QuantizeWeights, OnnxRuntimeRunsTheExportedFile) {
    for (const char* spec : {"quantize-weights:bits=4,block_size=32", "quantize-weights:bits=4,symmetric=false",
                             "quantize-weights:bits=8,block_size=64,symmetric=false"}) {
        auto m = matmulModel(80, 13, 21);
        applyPass(*m, spec);
        ASSERT_EQ(countOps(*m, "MatMulNBits"), 1) << spec;
        expectOrtMatches(*m, randomModelFeeds(*m, 13), kNBitsVsDequantizedMaxAbs, "qw_matmul");
    }
}

TEST(QuantizeWeights, EmbeddingGatherBecomesGatherBlockQuantized) {
    for (const char* spec : {"quantize-weights:gather=true,bits=4", "quantize-weights:gather=true,bits=8,symmetric=false,block_size=16"}) {
        auto original = GraphBuilder(17)
                            .input("ids", ir::DType::I64, {2, 3})
                            .initializer("table", tensorOf({50, 64}, randomValues(50 * 64, 31)))
                            .node("Gather", {"table", "ids"}, {"e"}, {}, {}, "embed")
                            .output("e")
                            .build();
        auto q = std::make_shared<ir::Model>(original->clone());
        const auto reports = applyPass(*q, spec);
        ASSERT_EQ(reports[0].applied, 1) << spec << skipsOf(reports[0]);
        const ir::Node* g = findOp(*q, "GatherBlockQuantized");
        ASSERT_NE(g, nullptr);
        std::map<std::string, ir::Tensor> feeds;
        feeds["ids"] = ir::Tensor::fromVector<int64_t>({2, 3}, {0, 49, 7, -1, 3, 3});
        const auto a = runModel(*q, feeds), ref = runModel(*original, feeds);
        ASSERT_EQ(a[0].shape(), (std::vector<int64_t>{2, 3, 64}));
        // Every element within one quantization step of the fp32 table (unit-normal values).
        EXPECT_LE(maxAbsDiff(a[0], ref[0]), std::string(spec).find("bits=8") != std::string::npos ? 0.03 : 0.6) << spec;
        EXPECT_GT(maxAbsDiff(a[0], ref[0]), 0.0);
        expectOrtMatches(*q, feeds, 1e-6, "qw_gather");
        // An out-of-range id is an error naming the node, never a read outside the table.
        feeds["ids"] = ir::Tensor::fromVector<int64_t>({2, 3}, {0, 50, 0, 0, 0, 0});
        EXPECT_THROW(runModel(*q, feeds), Error);
    }
    // Off by default; a tied table (also read by a MatMul) is skipped with the reason.
    auto tied = GraphBuilder(17)
                    .input("ids", ir::DType::I64, {1, 2})
                    .input("h", ir::DType::F32, {2, 50})
                    .initializer("table", tensorOf({50, 64}, randomValues(50 * 64, 32)))
                    .node("Gather", {"table", "ids"}, {"e"}, {}, {}, "embed")
                    .node("MatMul", {"h", "table"}, {"y"}, {}, {}, "head")
                    .output("e")
                    .output("y")
                    .build();
    EXPECT_EQ(applyPass(*tied, "quantize-weights:skip=head")[0].applied, 0);
    const auto r = applyPass(*tied, "quantize-weights:gather=true,skip=head");
    EXPECT_TRUE(hasSkip(r[0], "tied embedding")) << skipsOf(r[0]);
}

TEST(QuantizeWeights, ReportsWhyLayersStayFloat) {
    auto m = GraphBuilder(17)
                 .input("x", ir::DType::F32, {2, 3, 16})
                 .input("z", ir::DType::F32, {2, 16, 4})
                 .initializer("w", tensorOf({16, 8}, randomValues(128, 7)))
                 .initializer("w3", tensorOf({2, 16, 4}, randomValues(128, 8)))
                 .node("MatMul", {"x", "w"}, {"a"}, {}, {}, "kept_float")
                 .node("MatMul", {"x", "z"}, {"b"}, {}, {}, "act_by_act")
                 .node("MatMul", {"x", "w3"}, {"c"}, {}, {}, "batched")
                 .output("a")
                 .output("b")
                 .output("c")
                 .build();
    const auto reports = applyPass(*m, "quantize-weights:skip=kept_float");
    EXPECT_EQ(reports[0].applied, 0);
    EXPECT_TRUE(hasSkip(reports[0], "in the skip list")) << skipsOf(reports[0]);
    EXPECT_TRUE(hasSkip(reports[0], "not a constant f32 tensor")) << skipsOf(reports[0]);
    EXPECT_TRUE(hasSkip(reports[0], "weight of rank 3")) << skipsOf(reports[0]);
    EXPECT_EQ(countOps(*m, "MatMulNBits"), 0);
    // Op types work in the skip list too.
    auto m2 = matmulModel(32, 4, 1);
    const auto r2 = applyPass(*m2, "quantize-weights:skip=MatMul");
    EXPECT_EQ(r2[0].applied, 0);
}

TEST(Gptq, ReducesTheOutputErrorOfPlainRoundingOnCorrelatedInputs) {
    // Inputs with strongly correlated features (x = z A, A mixing) are where error compensation pays.
    const int64_t k = 64, n = 24, rows = 512;
    const auto z = randomValues(static_cast<size_t>(rows * k), 9);
    const auto mix = randomValues(static_cast<size_t>(k * k), 10, 0.3f);
    std::vector<float> x(static_cast<size_t>(rows * k), 0.f);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < k; ++j) {
            float s = z[static_cast<size_t>(r * k + j)];
            for (int64_t i = 0; i < k; ++i) s += z[static_cast<size_t>(r * k + i)] * mix[static_cast<size_t>(i * k + j)];
            x[static_cast<size_t>(r * k + j)] = s;
        }
    calibrate::GramMatrix gram(k);
    gram.addRows(x.data(), rows);
    const auto w = randomValues(static_cast<size_t>(n * k), 11);
    for (int bits : {4, 8}) {
        BlockQuantConfig cfg;
        cfg.bits = bits;
        cfg.blockSize = 32;
        const auto rtn = passes::quantize::quantizeRtn(w, n, k, cfg).dequantize();
        const auto gptq = passes::quantize::quantizeGptq(w, n, k, cfg, gram).dequantize();
        const double eRtn = passes::quantize::relativeOutputError(w, rtn, n, gram);
        const double eGptq = passes::quantize::relativeOutputError(w, gptq, n, gram);
        EXPECT_LT(eGptq, 0.8 * eRtn) << "bits " << bits << ": gptq " << eGptq << " rtn " << eRtn;
    }
}

std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

const std::string kLlamaDir = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes";

double llamaPerplexity(const ir::Model& m) {
    llm::PerplexityOptions o;
    o.maxChunks = kPplChunks;
    auto r = llm::perplexity(std::make_shared<const ir::Model>(m.clone()), readFile(kLlamaDir + "/heldout.txt"), o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
    return r.ok() ? r.value().perplexity : 1e9;
}

TEST(QuantizeWeights, TrainedLlamaPerplexityStaysWithinBudget) {
    auto loaded = onnxio::loadModel(kLlamaDir + "/model.onnx");
    ASSERT_TRUE(loaded.ok()) << loaded.error().what();
    const ir::Model& fp32 = loaded.value();
    const double base = llamaPerplexity(fp32);
    struct Case {
        const char* spec;
        double budget;
    };
    for (const Case& c : {Case{"quantize-weights:bits=8,block_size=32", kInt8Block32MaxPerplexityRise},
                          Case{"quantize-weights:bits=4,block_size=32", kInt4Block32MaxPerplexityRise}}) {
        ir::Model q = fp32.clone();
        const auto reports = applyPass(q, c.spec);
        EXPECT_EQ(reports[0].applied, 29) << skipsOf(reports[0]); // every weight MatMul, LM head included
        const double ppl = llamaPerplexity(q);
        EXPECT_LE(ppl, base * (1 + c.budget)) << c.spec << ": " << ppl << " vs fp32 " << base;
        EXPECT_GT(ppl, base * (1 - c.budget)) << c.spec; // quantized, not a copy
    }
}

TEST(QuantizeWeights, GptqAndAwqBeatRoundToNearestOnTheTrainedLlama) {
    // Calibration: 32 chunks of the training text (tests/data/models/llama_bytes/calibration.txt); the
    // score is held-out text, so this is the generalizing gain, not a fit to the calibration set.
    auto loaded = onnxio::loadModel(kLlamaDir + "/model.onnx");
    ASSERT_TRUE(loaded.ok()) << loaded.error().what();
    const ir::Model& fp32 = loaded.value();
    auto calib = calibrate::textCalibration(fp32, readFile(kLlamaDir + "/calibration.txt"), 128, 32);
    ASSERT_TRUE(calib.ok()) << calib.error().what();
    auto quantized = [&](const std::string& spec) {
        ir::Model q = fp32.clone();
        passes::Pipeline p;
        p.steps.push_back(passes::Pipeline::parseStep(spec));
        auto r = p.run(q, nullptr, &calib.value());
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
        if (r.ok()) EXPECT_EQ(r.value()[0].applied, 29) << skipsOf(r.value()[0]);
        return llamaPerplexity(q);
    };
    const double base = llamaPerplexity(fp32);
    const double rtn = quantized("quantize-weights:bits=4,block_size=32");
    const double gptq = quantized("quantize-weights:bits=4,block_size=32,method=gptq");
    const double awq = quantized("quantize-weights:bits=4,block_size=32,method=awq");
    // Measured on all 88 chunks: fp32 4.1022, RTN 4.1156, AWQ 4.1119, GPTQ 4.1015.
    EXPECT_LT(gptq, rtn) << "fp32 " << base;
    EXPECT_LT(awq, rtn) << "fp32 " << base;
    EXPECT_LE(gptq, base * (1 + kInt4Block32MaxPerplexityRise));
    // Closes at least half of RTN's gap to fp32 (measured: all of it).
    EXPECT_LE(gptq - base, 0.5 * (rtn - base)) << "gptq " << gptq << " rtn " << rtn << " fp32 " << base;
}

} // namespace
} // namespace opstudio::testing
