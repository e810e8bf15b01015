// prune-sparsegpt and prune-wanda: exact sparsity (unstructured and 2:4), error compensation that beats the
// same sparsity without it on the calibration inputs, and byte perplexity budgets on the trained LLaMA model.
#include "core/passes/fusion_test_util.h"

#include "opstudio/calibrate/sources.h"
#include "opstudio/llm/perplexity.h"
#include "opstudio/onnx/model_io.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace opstudio::testing {
namespace {

std::vector<passes::PassReport> applyCalibrated(ir::Model& model, const std::string& spec,
                                                const passes::CalibrationData& data) {
    passes::Pipeline p;
    p.steps.push_back(passes::Pipeline::parseStep(spec));
    auto r = p.run(model, nullptr, &data);
    if (!r) throw r.error();
    return r.value();
}

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

/// x[8,64] -> MatMul(W1 [64,48]) -> Relu -> Gemm(W2 [32,48], transB) -> y: fc2 sees correlated inputs.
std::shared_ptr<ir::Model> mlp() {
    return GraphBuilder(17)
        .input("x", ir::DType::F32, {8, 64})
        .initializer("w1", randomTensor({64, 48}, 1))
        .initializer("w2", randomTensor({32, 48}, 2))
        .node("MatMul", {"x", "w1"}, {"h"}, {}, {}, "fc1")
        .node("Relu", {"h"}, {"r"})
        .node("Gemm", {"r", "w2"}, {"y"}, {transB()}, {}, "fc2")
        .output("y")
        .build();
}

/// Σ over the sets of ‖y - y_dense‖² / Σ ‖y_dense‖².
double relativeOutputError(const ir::Model& pruned, const ir::Model& dense, const passes::CalibrationData& data) {
    double err = 0, ref = 0;
    for (const auto& feeds : data.feeds) {
        const auto a = runModel(pruned, feeds)[0], b = runModel(dense, feeds)[0];
        for (int64_t i = 0; i < a.numel(); ++i) {
            const double d = a.data<float>()[i] - b.data<float>()[i];
            err += d * d;
            ref += static_cast<double>(b.data<float>()[i]) * b.data<float>()[i];
        }
    }
    return err / ref;
}

passes::CalibrationData mlpCalibration(const ir::Model& m) {
    auto data = calibrate::randomCalibration(m, 24, /*seed=*/5);
    if (!data.ok()) throw data.error();
    return data.value();
}

TEST(SparseGptPruning, ReachesTheSparsityAndBeatsMagnitudeOnTheCalibrationInputs) {
    auto dense = mlp();
    const auto data = mlpCalibration(*dense);
    auto magnitude = std::make_shared<ir::Model>(dense->clone());
    applyPass(*magnitude, "prune-magnitude:sparsity=0.5,scope=per-row");
    for (const std::string update : {"obs", "refit"}) {
        auto m = std::make_shared<ir::Model>(dense->clone());
        const auto r = applyCalibrated(*m, "prune-sparsegpt:sparsity=0.5,update=" + update, data);
        ASSERT_EQ(r[0].applied, 2) << skipsOf(r[0]);
        EXPECT_EQ(zerosOf(m->graph->initializers.at("w1")), 64 * 48 / 2);
        EXPECT_EQ(zerosOf(m->graph->initializers.at("w2")), 32 * 48 / 2);
        const double eMag = relativeOutputError(*magnitude, *dense, data);
        const double eGpt = relativeOutputError(*m, *dense, data);
        std::printf("mlp 50 %%: relative output error magnitude %.4f, sparsegpt(%s) %.4f\n", eMag,
                    update.c_str(), eGpt);
        // Compensation removes most of the error the same sparsity causes without it.
        constexpr double kSparseGptMaxErrorVsMagnitude = 0.75;
        EXPECT_LT(eGpt, kSparseGptMaxErrorVsMagnitude * eMag) << update;
    }
}

TEST(SparseGptPruning, TwoOfFourHoldsInEveryGroupOfInputs) {
    auto m = mlp();
    const auto data = mlpCalibration(*m);
    const auto r = applyCalibrated(*m, "prune-sparsegpt:n=2,m=4", data);
    ASSERT_EQ(r[0].applied, 2) << skipsOf(r[0]);
    const float* w1 = m->graph->initializers.at("w1").data<float>(); // [K=64, N=48]
    for (int n = 0; n < 48; ++n)
        for (int g = 0; g < 64; g += 4) {
            int zeros = 0;
            for (int k = g; k < g + 4; ++k)
                zeros += w1[k * 48 + n] == 0.f;
            ASSERT_EQ(zeros, 2) << "column " << n << " group " << g;
        }
    EXPECT_EQ(zerosOf(m->graph->initializers.at("w2")), 32 * 48 / 2);
}

TEST(SparseGptPruning, SequentialCalibratesEachWaveAfterThePrunedOnesBeforeIt) {
    auto dense = mlp();
    const auto data = mlpCalibration(*dense);
    auto m = std::make_shared<ir::Model>(dense->clone());
    const auto r = applyCalibrated(*m, "prune-sparsegpt:sparsity=0.5,sequential=true", data);
    ASSERT_EQ(r[0].applied, 2) << skipsOf(r[0]);
    const auto& notes = r[0].notes;
    EXPECT_TRUE(std::any_of(notes.begin(), notes.end(), [](const std::string& n) {
        return n.rfind("sequential: 2 layers in 2 waves", 0) == 0;
    }));
    EXPECT_EQ(zerosOf(m->graph->initializers.at("w2")), 32 * 48 / 2);
    auto magnitude = std::make_shared<ir::Model>(dense->clone());
    applyPass(*magnitude, "prune-magnitude:sparsity=0.5,scope=per-row");
    EXPECT_LT(relativeOutputError(*m, *dense, data), relativeOutputError(*magnitude, *dense, data));
}

TEST(SparseGptPruning, NeedsCalibrationAndSaysHowToGiveIt) {
    auto m = mlp();
    try {
        applyPass(*m, "prune-sparsegpt");
        FAIL() << "no error without calibration";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--calibration"), std::string::npos) << e.what();
    }
}

TEST(RefitUpdate, MagnitudeAndNmKeepTheirMaskAndLoseLessOutput) {
    auto dense = mlp();
    const auto data = mlpCalibration(*dense);
    for (const std::string spec : {"prune-magnitude:sparsity=0.5,scope=per-row", "prune-n-m:n=2,m=4"}) {
        auto plain = std::make_shared<ir::Model>(dense->clone());
        applyPass(*plain, spec);
        auto refit = std::make_shared<ir::Model>(dense->clone());
        const auto r = applyCalibrated(*refit, spec + ",update=refit", data);
        ASSERT_EQ(r[0].applied, 2) << skipsOf(r[0]);
        for (const char* w : {"w1", "w2"}) {
            const auto a = plain->graph->initializers.at(w).span<const float>();
            const auto b = refit->graph->initializers.at(w).span<const float>();
            for (size_t i = 0; i < a.size(); ++i)
                ASSERT_EQ(a[i] == 0.f, b[i] == 0.f) << spec << " " << w << " element " << i << ": mask changed";
        }
        const double ePlain = relativeOutputError(*plain, *dense, data);
        const double eRefit = relativeOutputError(*refit, *dense, data);
        std::printf("mlp %s: relative output error %.4f, with refit %.4f\n", spec.c_str(), ePlain, eRefit);
        EXPECT_LT(eRefit, 0.75 * ePlain) << spec;
    }
    auto m = mlp();
    EXPECT_THROW(applyPass(*m, "prune-magnitude:update=refit"), Error); // no calibration
}

TEST(WandaPruning, PrunesEachRowByWeightTimesInputNorm) {
    // One input channel with a huge activation norm: Wanda keeps its weights even where they are small.
    auto m = GraphBuilder(17)
                 .input("x", ir::DType::F32, {4, 8})
                 .initializer("w", randomTensor({8, 6}, 3))
                 .node("MatMul", {"x", "w"}, {"y"}, {}, {}, "fc")
                 .output("y")
                 .build();
    passes::CalibrationData data;
    std::vector<float> x(32, 0.1f);
    for (int r = 0; r < 4; ++r)
        x[r * 8 + 3] = 100.f; // channel 3
    data.feeds.push_back({{"x", ir::Tensor::fromVector<float>({4, 8}, x)}});
    const ir::Tensor before = m->graph->initializers.at("w").clone();
    const auto r = applyCalibrated(*m, "prune-wanda:sparsity=0.5", data);
    ASSERT_EQ(r[0].applied, 1) << skipsOf(r[0]);
    const float* a = before.data<float>();
    const float* b = m->graph->initializers.at("w").data<float>();
    for (int n = 0; n < 6; ++n) {
        int zeros = 0;
        for (int k = 0; k < 8; ++k) {
            zeros += b[k * 6 + n] == 0.f;
            if (b[k * 6 + n] != 0.f) EXPECT_EQ(b[k * 6 + n], a[k * 6 + n]);
        }
        EXPECT_EQ(zeros, 4) << "output " << n;
        EXPECT_NE(b[3 * 6 + n], 0.f) << "output " << n << " lost the weight of the loud channel";
        // Among the quiet channels (equal norms) the order is by |w|.
        float maxPruned = 0, minKept = 1e30f;
        for (int k = 0; k < 8; ++k) {
            if (k == 3) continue;
            if (b[k * 6 + n] == 0.f)
                maxPruned = std::max(maxPruned, std::fabs(a[k * 6 + n]));
            else
                minKept = std::min(minKept, std::fabs(a[k * 6 + n]));
        }
        EXPECT_LE(maxPruned, minKept);
    }
}

TEST(WandaPruning, TwoOfFourAndRefitBeatsPlainWanda) {
    auto dense = mlp();
    const auto data = mlpCalibration(*dense);
    auto plain = std::make_shared<ir::Model>(dense->clone());
    applyCalibrated(*plain, "prune-wanda:n=2,m=4", data);
    const float* w1 = plain->graph->initializers.at("w1").data<float>();
    for (int n = 0; n < 48; ++n)
        for (int g = 0; g < 64; g += 4) {
            int zeros = 0;
            for (int k = g; k < g + 4; ++k)
                zeros += w1[k * 48 + n] == 0.f;
            ASSERT_EQ(zeros, 2) << "column " << n << " group " << g;
        }
    auto refit = std::make_shared<ir::Model>(dense->clone());
    applyCalibrated(*refit, "prune-wanda:n=2,m=4,update=refit", data);
    EXPECT_EQ(zerosOf(refit->graph->initializers.at("w1")), 64 * 48 / 2);
    EXPECT_LT(relativeOutputError(*refit, *dense, data), relativeOutputError(*plain, *dense, data));
}

double cosine(const ir::Tensor& a, const ir::Tensor& b) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        const double x = a.data<float>()[i], y = b.data<float>()[i];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return ab / std::sqrt(aa * bb);
}

TEST(SparseGptPruning, ConvLayersAreCompensatedThroughTheirIm2colInputs) {
    // resnet_bn_stack (16 Conv + Gemm, BatchNorm unfused), 50 % of every layer; random weights and random
    // calibration sets, judged on inputs that were not calibrated on.
    auto loaded = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/resnet_bn_stack/model.onnx");
    ASSERT_TRUE(loaded.ok()) << loaded.error().what();
    auto dense = std::make_shared<ir::Model>(std::move(loaded.value()));
    auto data = calibrate::randomCalibration(*dense, 8, /*seed=*/11);
    ASSERT_TRUE(data.ok());
    auto magnitude = std::make_shared<ir::Model>(dense->clone());
    applyPass(*magnitude, "prune-magnitude:sparsity=0.5,scope=per-row");
    auto sparsegpt = std::make_shared<ir::Model>(dense->clone());
    const auto r = applyCalibrated(*sparsegpt, "prune-sparsegpt:sparsity=0.5", data.value());
    EXPECT_EQ(r[0].applied, 16) << skipsOf(r[0]);
    const auto feeds = randomModelFeeds(*dense, 1234);
    const auto ref = runModel(*dense, feeds)[0];
    const double cMag = cosine(runModel(*magnitude, feeds)[0], ref);
    const double cGpt = cosine(runModel(*sparsegpt, feeds)[0], ref);
    std::printf("resnet_bn_stack 50 %%: output cosine magnitude %.4f, sparsegpt %.4f\n", cMag, cGpt);
    // Issue 19's CNN target: compensation keeps cosine >= 0.99 where plain magnitude does not.
    constexpr double kSparseGptCnnMinCosine = 0.99;
    EXPECT_GE(cGpt, kSparseGptCnnMinCosine);
    EXPECT_LT(cMag, kSparseGptCnnMinCosine);
}

// --- The trained byte-level LLaMA (tests/data/models/llama_bytes): held-out perplexity. ---

const std::string kLlama = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes";

std::string readFile(const std::string& path) {
    auto t = calibrate::readTextFile(path);
    if (!t.ok()) throw t.error();
    return t.value();
}

struct LlamaFixture {
    std::shared_ptr<ir::Model> model;
    std::string heldout;
    passes::CalibrationData calibration;
};

const LlamaFixture& llama() {
    static const LlamaFixture f = [] {
        LlamaFixture x;
        auto m = onnxio::loadModel(kLlama + "/model.onnx");
        if (!m.ok()) throw m.error();
        x.model = std::make_shared<ir::Model>(std::move(m.value()));
        x.heldout = readFile(kLlama + "/heldout.txt");
        // 32 × 128 bytes of the training text (the file holds 64).
        auto c = calibrate::textCalibration(*x.model, readFile(kLlama + "/calibration.txt"), 128, 32);
        if (!c.ok()) throw c.error();
        x.calibration = std::move(c.value());
        return x;
    }();
    return f;
}

double heldoutPerplexity(std::shared_ptr<const ir::Model> m) {
    llm::PerplexityOptions o;
    o.maxChunks = 24; // of 88: enough to order the methods, fast enough for every run
    auto r = llm::perplexity(std::move(m), llama().heldout, o);
    if (!r.ok()) throw r.error();
    return r.value().perplexity;
}

double densePerplexity() {
    static const double ppl = heldoutPerplexity(llama().model);
    return ppl;
}

double prunedPerplexity(const std::string& spec) {
    auto m = std::make_shared<ir::Model>(llama().model->clone());
    const auto r = applyCalibrated(*m, spec + ",skip=/m/lm_head/MatMul", llama().calibration);
    if (r[0].applied != 28) throw Error(spec + ": pruned " + std::to_string(r[0].applied) + " of 28 layers");
    return heldoutPerplexity(m);
}

// Issue 19's target: compensation adds at most 1/4 of the perplexity the uncompensated mask adds
// (measured on all 88 chunks: 50 % 0.12, 2:4 0.085 with refit; obs 0.24 / 0.19).
constexpr double kSparseGptMaxRiseVsMagnitude = 0.25;
constexpr double kSparseGptObsMaxRiseVsMagnitude = 0.5;

TEST(CalibratedPruningLlama, SparseGptAddsFarLessPerplexityThanMagnitudeAtHalf) {
    const double dense = densePerplexity();
    const double magnitude = prunedPerplexity("prune-magnitude:sparsity=0.5,scope=per-row");
    const double refit = prunedPerplexity("prune-sparsegpt:sparsity=0.5");
    const double obs = prunedPerplexity("prune-sparsegpt:sparsity=0.5,update=obs");
    std::printf("llama_bytes held-out ppl (24 chunks): dense %.4f | 50%%: magnitude %.4f sparsegpt refit %.4f "
                "obs %.4f\n",
                dense, magnitude, refit, obs);
    EXPECT_LT(refit - dense, kSparseGptMaxRiseVsMagnitude * (magnitude - dense));
    EXPECT_LT(obs - dense, kSparseGptObsMaxRiseVsMagnitude * (magnitude - dense));
}

TEST(CalibratedPruningLlama, SparseGptAddsFarLessPerplexityThanMagnitudeAtTwoOfFour) {
    const double dense = densePerplexity();
    const double magnitude = prunedPerplexity("prune-n-m:n=2,m=4");
    const double sparsegpt = prunedPerplexity("prune-sparsegpt:n=2,m=4");
    std::printf("llama_bytes held-out ppl (24 chunks): dense %.4f | 2:4: magnitude %.4f sparsegpt %.4f\n", dense,
                magnitude, sparsegpt);
    EXPECT_LT(sparsegpt - dense, kSparseGptMaxRiseVsMagnitude * (magnitude - dense));
}

TEST(CalibratedPruningLlama, WandaStaysWithinItsBudget) {
    const double dense = densePerplexity();
    const double wanda = prunedPerplexity("prune-wanda:sparsity=0.5");
    std::printf("llama_bytes held-out ppl (24 chunks): dense %.4f | 50%%: wanda %.4f\n", dense, wanda);
    // Measured on all 88 chunks: +3.1 % (magnitude per row +3.2 %); a small model has no activation outliers.
    constexpr double kWandaMaxRelativeRise = 0.05;
    EXPECT_LT(wanda, dense * (1 + kWandaMaxRelativeRise));
}

} // namespace
} // namespace opstudio::testing
