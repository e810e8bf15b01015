// The KV-cache decode loop, generation and perplexity on the trained byte-level LLaMA
// (tests/data/models/llama_bytes): reference numbers come from torch (make_llm.py).
#include "opstudio/llm/decoder.h"
#include "opstudio/llm/generate.h"
#include "opstudio/llm/perplexity.h"
#include "opstudio/onnx/model_io.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace opstudio;

namespace {

const std::string kDir = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes";

/// Logits of a cached decode agree with a full-sequence run within this (fp32 accumulation order).
constexpr float kCacheVsFullMaxAbs = 1e-4f;
/// Perplexity against torch's (perplexity.json): the budget is 1e-3 relative.
constexpr double kPerplexityRelTol = 1e-5;

std::shared_ptr<const ir::Model> llamaModel() {
    static std::shared_ptr<const ir::Model> m = [] {
        auto r = onnxio::loadModel(kDir + "/model.onnx");
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
        return std::make_shared<const ir::Model>(std::move(r).value());
    }();
    return m;
}

std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

nlohmann::json readJson(const std::string& path) {
    return nlohmann::json::parse(readFile(path));
}

std::unique_ptr<llm::Decoder> makeDecoder(int threads = 1, bool reference = false) {
    auto d = llm::Decoder::create(llamaModel(), {threads, reference});
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().what());
    return d.ok() ? std::move(d.value()) : nullptr;
}

} // namespace

TEST(DetectDecoder, FindsOptimumLayoutOfTheTrainedLlama) {
    auto layout = llm::detectDecoder(*llamaModel());
    ASSERT_TRUE(layout.ok()) << layout.error().what();
    EXPECT_EQ(layout.value().layers, 4);
    EXPECT_EQ(layout.value().kvHeads, 2);
    EXPECT_EQ(layout.value().headDim, 32);
    EXPECT_EQ(layout.value().vocab, 256);
    EXPECT_EQ(layout.value().attentionMask, "attention_mask");
    EXPECT_EQ(layout.value().positionIds, "position_ids");
    ASSERT_EQ(layout.value().past.size(), 8u);
    EXPECT_EQ(layout.value().past[1], "past_key_values.0.value");
    EXPECT_EQ(layout.value().present[7], "present.3.value");
}

TEST(DetectDecoder, RejectsAModelWithoutKvCache) {
    auto gpt = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/gpt_decoder/model.onnx");
    ASSERT_TRUE(gpt.ok());
    auto layout = llm::detectDecoder(gpt.value());
    ASSERT_FALSE(layout.ok());
    EXPECT_NE(std::string(layout.error().what()).find("past_key_values"), std::string::npos);
    EXPECT_FALSE(llm::isKvCacheDecoder(gpt.value()));
}

TEST(Decoder, CachedDecodeEqualsFullSequenceRun) {
    const std::vector<int64_t> ids = llm::bytesToTokens("Permission is hereby granted, free of");
    auto full = makeDecoder();
    auto fullLogits = full->forward(ids);
    ASSERT_TRUE(fullLogits.ok()) << fullLogits.error().what();
    const size_t v = 256;
    ASSERT_EQ(fullLogits.value().size(), ids.size() * v);

    auto cached = makeDecoder();
    const size_t prefill = 13;
    auto first = cached->forward(std::span(ids.data(), prefill));
    ASSERT_TRUE(first.ok());
    std::vector<float> all = first.value();
    for (size_t i = prefill; i < ids.size(); ++i) {
        auto step = cached->forward(std::span(ids.data() + i, 1));
        ASSERT_TRUE(step.ok()) << step.error().what();
        all.insert(all.end(), step.value().begin(), step.value().end());
        EXPECT_EQ(cached->pastLength(), static_cast<int64_t>(i + 1));
    }
    ASSERT_EQ(all.size(), fullLogits.value().size());
    float worst = 0;
    for (size_t i = 0; i < all.size(); ++i)
        worst = std::max(worst, std::abs(all[i] - fullLogits.value()[i]));
    EXPECT_LE(worst, kCacheVsFullMaxAbs);
}

TEST(Decoder, ResetStartsAgainAtPositionZero) {
    auto d = makeDecoder();
    const auto ids = llm::bytesToTokens("GNU");
    auto a = d->forward(ids);
    ASSERT_TRUE(d->forward(std::vector<int64_t>{'x'}).ok());
    d->reset();
    EXPECT_EQ(d->pastLength(), 0);
    auto b = d->forward(ids);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.value(), b.value());
}

TEST(Generate, GreedyTokensEqualTorch) {
    const auto ref = readJson(kDir + "/torch_greedy.json");
    const auto prompt = ref["prompt_ids"].get<std::vector<int64_t>>();
    const auto expected = ref["tokens"].get<std::vector<int64_t>>();
    for (int threads : {1, 2}) {
        auto d = makeDecoder(threads);
        llm::GenerateOptions o;
        o.tokens = static_cast<int>(expected.size());
        auto r = llm::generate(*d, prompt, o);
        ASSERT_TRUE(r.ok()) << r.error().what();
        EXPECT_EQ(r.value().tokens, expected) << "threads " << threads;
        EXPECT_EQ(r.value().decodeMs.size(), expected.size() - 1);
        EXPECT_GT(r.value().decodeTokensPerSecond, 0);
        // Mean past length over decode steps 30..76 is 53 tokens; 4 layers x (K + V) x 2 heads x 32 x 4
        // bytes.
        EXPECT_DOUBLE_EQ(r.value().kvBytesPerToken, 53.0 * 4 * 2 * 2 * 32 * 4);
    }
}

TEST(Generate, ReferenceKernelsGiveTheSameGreedyTokens) {
    const auto ref = readJson(kDir + "/torch_greedy.json");
    auto d = makeDecoder(1, /*reference=*/true);
    llm::GenerateOptions o;
    o.tokens = 16;
    auto r = llm::generate(*d, ref["prompt_ids"].get<std::vector<int64_t>>(), o);
    ASSERT_TRUE(r.ok()) << r.error().what();
    const auto expected = ref["tokens"].get<std::vector<int64_t>>();
    EXPECT_EQ(r.value().tokens, std::vector<int64_t>(expected.begin(), expected.begin() + 16));
}

TEST(Generate, SeededSamplingIsDeterministicAndDiffersFromGreedy) {
    const auto prompt = llm::bytesToTokens("This License");
    auto d = makeDecoder();
    llm::GenerateOptions o;
    o.tokens = 40;
    o.sampling = {1.0, 0, 1.0, 42};
    auto a = llm::generate(*d, prompt, o);
    auto b = llm::generate(*d, prompt, o);
    o.sampling.seed = 43;
    auto c = llm::generate(*d, prompt, o);
    o.sampling = {};
    auto g = llm::generate(*d, prompt, o);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok() && g.ok());
    EXPECT_EQ(a.value().tokens, b.value().tokens);
    EXPECT_NE(a.value().tokens, c.value().tokens);
    EXPECT_NE(a.value().tokens, g.value().tokens);
}

TEST(Generate, StopsWhenTheCallbackSaysSo) {
    auto d = makeDecoder();
    llm::GenerateOptions o;
    o.tokens = 20;
    std::vector<int64_t> seen;
    o.onToken = [&](int64_t t, int i) {
        seen.push_back(t);
        return i < 4;
    };
    auto r = llm::generate(*d, llm::bytesToTokens("GNU"), o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().tokens.size(), 5u);
    EXPECT_EQ(seen, r.value().tokens);
}

TEST(Sampler, TopKOneIsGreedyAndTopPKeepsTheNucleus) {
    const std::vector<float> logits = {0.1f, 3.0f, 2.9f, -1.0f, 3.0f};
    EXPECT_EQ(llm::Sampler({}).next(logits), 1); // first maximum
    llm::Sampler topK1({5.0, 1, 1.0, 7});
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(topK1.next(logits), 1);
    // With a tiny top-p only the most likely token survives, whatever the temperature.
    llm::Sampler nucleus({10.0, 0, 1e-6, 7});
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(nucleus.next(logits), 1);
    // Sampling at T = 1 visits every token with noticeable probability.
    llm::Sampler wide({1.0, 0, 1.0, 9});
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < 4000; ++i)
        ++counts[wide.next(logits)];
    for (int c : counts)
        EXPECT_GT(c, 0);
    EXPECT_GT(counts[1] + counts[4], counts[2]); // two tokens at 3.0 together beat one at 2.9
}

TEST(Perplexity, HeldOutPerplexityEqualsTorch) {
    const auto ref = readJson(kDir + "/perplexity.json");
    const std::string text = readFile(kDir + "/heldout.txt");
    llm::PerplexityOptions o;
    o.chunk = ref["chunk_bytes"].get<int64_t>();
    auto r = llm::perplexity(llamaModel(), text, o);
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(r.value().chunks, ref["chunks"].get<int64_t>());
    EXPECT_EQ(r.value().predicted, ref["predicted_bytes"].get<int64_t>());
    const double expected = ref["perplexity"].get<double>();
    EXPECT_NEAR(r.value().perplexity, expected, expected * kPerplexityRelTol);
}

TEST(Perplexity, MaxChunksScoresAPrefixAndShortTextsFail) {
    const std::string text = readFile(kDir + "/heldout.txt");
    llm::PerplexityOptions o;
    o.maxChunks = 3;
    auto r = llm::perplexity(llamaModel(), text, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().chunks, 3);
    EXPECT_EQ(r.value().predicted, 3 * 127);
    EXPECT_GT(r.value().perplexity, 1.0);
    EXPECT_LT(r.value().perplexity, 256.0);
    EXPECT_FALSE(llm::perplexity(llamaModel(), "x", {}).ok());
}

TEST(WeightBytesPerToken, CountsEveryWeightOnceAndOneEmbeddingRow) {
    // 3,148,032 fp32 parameters; the 256 x 256 token embedding is read one row per token, the
    // rotary cos/sin tables [2048, 32] one row each; the graph's shape constants add about 2 KB.
    const int64_t weights = (3148032 - 256 * 256 + 256) * 4;
    const int64_t rotaryRows = 2 * 32 * 4;
    const int64_t bytes = llm::weightBytesPerToken(*llamaModel());
    EXPECT_GE(bytes, weights + rotaryRows);
    EXPECT_LE(bytes, weights + rotaryRows + 4096);
}
