// `opstudio-cli generate MODEL --prompt TEXT --tokens N [--threads T] [--temperature X --top-k K
//  --top-p P --seed S] [--no-roofline] [--json [FILE]]`: byte-level text generation with a KV cache;
// reports prefill ms, decode tokens/s, bytes read per token and the share of the measured DRAM
// read bandwidth that decode reaches.
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/llm/generate.h"
#include "opstudio/profile/machine.h"

#include <cstdio>
#include <iostream>

namespace opstudio::cli {

namespace {

struct GenerateRequest {
    std::string model;
    std::string prompt;
    int tokens = 32;
    int threads = 1;
    double temperature = 0;
    int topK = 0;
    double topP = 1.0;
    uint64_t seed = 0;
    bool reference = false;
    bool noRoofline = false;
    bool stream = false;
    JsonOption json;
};

std::string printable(const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes) {
        if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f))
            out.push_back(static_cast<char>(c));
        else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

} // namespace

void addGenerateCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<GenerateRequest>();
    auto* cmd = app.add_subcommand(
        "generate",
        "Generate text with a KV-cache decoder (byte vocabulary); decode speed vs memory bandwidth");
    cmd->add_option("model", request->model, "ONNX decoder (past_key_values.N.* -> present.N.*)")->required();
    cmd->add_option("--prompt", request->prompt, "Prompt text (bytes are tokens)")->required();
    cmd->add_option("--tokens", request->tokens, "Tokens to generate")->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", request->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--temperature", request->temperature, "0: greedy; > 0: sample softmax(logits / T)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-k", request->topK, "Sample among the k most likely tokens (0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p", request->topP, "Nucleus sampling threshold (1: off)")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--seed", request->seed, "Seed for sampling");
    cmd->add_flag("--reference", request->reference, "Use the reference kernels (plain loops)");
    cmd->add_flag("--no-roofline", request->noRoofline,
                  "Do not read or measure the machine's DRAM bandwidth");
    cmd->add_flag("--stream", request->stream, "Print tokens as they are generated");
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            auto model = std::make_shared<ir::Model>(loadModelOrThrow(request->model));
            auto decoder = llm::Decoder::create(model, {request->threads, request->reference});
            if (!decoder.ok()) throw decoder.error();
            llm::Decoder& d = *decoder.value();
            const int threads = d.session().options().threads;
            llm::GenerateOptions go;
            go.tokens = request->tokens;
            go.sampling = {request->temperature, request->topK, request->topP, request->seed};
            const bool stream = request->stream && !request->json.requested();
            if (stream) {
                std::cout << printable(request->prompt) << std::flush;
                go.onToken = [](int64_t t, int) {
                    const int64_t one[] = {t};
                    std::cout << printable(llm::tokensToBytes(one)) << std::flush;
                    return true;
                };
            }
            const auto prompt = llm::bytesToTokens(request->prompt);
            auto result = llm::generate(d, prompt, go);
            if (!result.ok()) throw result.error();
            const llm::GenerateResult& r = result.value();
            const std::string text = llm::tokensToBytes(r.tokens);

            nlohmann::json j{
                {"model", request->model},
                {"threads", threads},
                {"prompt", printable(request->prompt)},
                {"prompt_tokens", r.promptTokens},
                {"tokens", r.tokens},
                {"text", printable(text)},
                {"sampling",
                 {{"temperature", request->temperature},
                  {"top_k", request->topK},
                  {"top_p", request->topP},
                  {"seed", request->seed}}},
                {"prefill_ms", r.prefillMs},
                {"prefill_tokens_per_second", r.prefillMs > 0 ? r.promptTokens / (r.prefillMs / 1e3) : 0.0},
                {"decode_steps", r.decodeMs.size()},
                {"decode_tokens_per_second", r.decodeTokensPerSecond},
                {"decode_cpu_ms", r.decodeCpuMs},
                {"weight_bytes_per_token", r.weightBytesPerToken},
                {"kv_bytes_per_token", r.kvBytesPerToken},
                {"achieved_gbps", r.achievedGBps()}};
            double percent = -1;
            profile::Ceilings c;
            if (!request->noRoofline) {
                c = profile::ceilingsFor(profile::machineCeilings(false), threads);
                if (c.memGBps > 0) percent = 100.0 * r.achievedGBps() / c.memGBps;
                const double bytes = static_cast<double>(r.weightBytesPerToken) + r.kvBytesPerToken;
                j["machine"] = {{"threads", c.threads},
                                {"dram_gbps", c.memGBps},
                                {"cache_gbps", c.cacheGBps},
                                {"cache_bytes", c.cacheBytes},
                                {"bytes_per_token_fit_cache", c.cacheBytes > 0 && bytes <= c.cacheBytes}};
                j["percent_of_dram_bandwidth"] = percent;
            }
            if (request->json.requested()) {
                emitJson(request->json, j);
                return 0;
            }
            if (stream)
                std::cout << "\n";
            else
                std::cout << printable(request->prompt) << printable(text) << "\n";
            std::printf("prompt %lld tokens, generated %zu, threads %d\n",
                        static_cast<long long>(r.promptTokens), r.tokens.size(), threads);
            std::printf("build     %.1f ms (session + warm-up)\n", d.buildMs());
            std::printf("prefill   %.2f ms (%.0f tokens/s)\n", r.prefillMs,
                        r.prefillMs > 0 ? r.promptTokens / (r.prefillMs / 1e3) : 0.0);
            std::printf("decode    %.1f tokens/s over %zu steps\n", r.decodeTokensPerSecond,
                        r.decodeMs.size());
            std::printf("bytes     %.2f MB weights + %.3f MB KV cache read per token\n",
                        r.weightBytesPerToken / 1e6, r.kvBytesPerToken / 1e6);
            std::printf("bandwidth %.2f GB/s achieved", r.achievedGBps());
            if (percent >= 0)
                std::printf(
                    " = %.0f%% of measured DRAM read %.1f GB/s (cache tier %.1f GB/s up to %.1f MB%s)",
                    percent, c.memGBps, c.cacheGBps, c.cacheBytes / 1e6,
                    (c.cacheBytes > 0 && r.weightBytesPerToken <= c.cacheBytes)
                        ? "; the weights fit in it, so DRAM is not the ceiling"
                        : "");
            std::printf("\n");
            return 0;
        };
    });
}

} // namespace opstudio::cli
