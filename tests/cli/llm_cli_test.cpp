// `opstudio-cli generate` and `opstudio-cli perplexity` on the trained byte-level LLaMA.
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace {

const std::string kDir = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes";

struct CliRun {
    int code = -1;
    std::string out;
};

CliRun cli(const std::string& args) {
    CliRun r;
    FILE* p = popen((std::string(OPSTUDIO_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
        r.out.append(buf, n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

nlohmann::json readJson(const std::string& path) {
    std::ifstream f(path);
    return nlohmann::json::parse(f);
}

} // namespace

TEST(CliPerplexity, ReproducesTorchHeldOutPerplexity) {
    const auto ref = readJson(kDir + "/perplexity.json");
    const CliRun r =
        cli("perplexity " + kDir + "/model.onnx --text " + kDir + "/heldout.txt --chunk 128 --json");
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["chunks"], ref["chunks"]);
    EXPECT_EQ(j["predicted_bytes"], ref["predicted_bytes"]);
    EXPECT_NEAR(j["perplexity"].get<double>(), ref["perplexity"].get<double>(), 1e-4);
}

TEST(CliGenerate, GreedyJsonEqualsTorchAndReportsBandwidth) {
    const auto ref = readJson(kDir + "/torch_greedy.json");
    const CliRun r = cli("generate " + kDir +
                         "/model.onnx --prompt 'The GNU General Public License' --tokens 48 "
                         "--threads 2 --no-roofline --json");
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tokens"], ref["tokens"]);
    EXPECT_EQ(j["text"], ref["text"]);
    EXPECT_EQ(j["threads"], 2);
    EXPECT_EQ(j["decode_steps"], 47);
    EXPECT_GT(j["decode_tokens_per_second"].get<double>(), 0);
    EXPECT_GT(j["weight_bytes_per_token"].get<int64_t>(), 12'000'000);
    EXPECT_GT(j["achieved_gbps"].get<double>(), 0);
}

TEST(CliGenerate, ModelWithoutKvCacheFailsWithOneErrorLine) {
    const CliRun r = cli("generate " + std::string(OPSTUDIO_TEST_DATA_DIR) +
                         "/models/gpt_decoder/model.onnx --prompt hi --tokens 2");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("past_key_values"), std::string::npos) << r.out;
}

TEST(CliProfile, ProfilesOneDecodeStepWithAGivenPast) {
    // A decode step: one new token after a past of 8 (docs/llm.md, "Profiling one decode step").
    const std::string json = ::testing::TempDir() + "/llm_decode_step_profile.json";
    const CliRun r = cli("profile " + kDir +
                         "/model.onnx --dim batch=1 --dim sequence=1 --dim past_sequence=8 --dim total_sequence=9 "
                         "--runs 2 --warmup 1 --no-roofline --json " + json);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = readJson(json);
    int kvAppends = 0, logits = 0;
    for (const auto& n : j["nodes"]) {
        // present.N.key/value = Concat(past [1, 2, 8, 32], new [1, 2, 1, 32]) -> [1, 2, 9, 32]
        if (n["name"].get<std::string>().find("/Concat_5") != std::string::npos ||
            n["name"].get<std::string>().find("/Concat_6") != std::string::npos) {
            EXPECT_EQ(n["input_shapes"][0], nlohmann::json::parse("[1, 2, 8, 32]"));
            EXPECT_EQ(n["input_shapes"][1], nlohmann::json::parse("[1, 2, 1, 32]"));
            EXPECT_EQ(n["output_shapes"][0], nlohmann::json::parse("[1, 2, 9, 32]"));
            ++kvAppends;
        }
        if (n["name"] == "/m/lm_head/MatMul") {
            EXPECT_EQ(n["output_shapes"][0], nlohmann::json::parse("[1, 1, 256]"));
            ++logits;
        }
    }
    EXPECT_EQ(kvAppends, 8); // 4 layers x key and value
    EXPECT_EQ(logits, 1);    // the LM head runs on the one new token
    EXPECT_GT(j["total_ms"].get<double>(), 0);
}
