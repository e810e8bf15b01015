// `opstudio-cli perplexity MODEL --text FILE [--chunk 128] [--max-chunks K] [--threads T] [--json]`:
// byte-level perplexity of a KV-cache decoder; non-overlapping chunks scored independently
// (see opstudio/llm/perplexity.h and docs/llm.md).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/llm/perplexity.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace opstudio::cli {

namespace {

struct PerplexityRequest {
    std::string model;
    std::string text;
    int64_t chunk = 128;
    int64_t maxChunks = 0;
    int threads = 1;
    bool reference = false;
    JsonOption json;
};

} // namespace

void addPerplexityCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<PerplexityRequest>();
    auto* cmd =
        app.add_subcommand("perplexity", "Byte-level perplexity of a KV-cache decoder on a text file");
    cmd->add_option("model", request->model, "ONNX decoder (past_key_values.N.* -> present.N.*)")->required();
    cmd->add_option("--text", request->text, "Text file (bytes are tokens)")->required();
    cmd->add_option("--chunk", request->chunk, "Bytes per independently scored chunk")
        ->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--max-chunks", request->maxChunks, "Score only the first K chunks (0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", request->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--reference", request->reference, "Use the reference kernels (plain loops)");
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            std::ifstream in(request->text, std::ios::binary);
            if (!in) throw CliError("cannot read text file '" + request->text + "'");
            std::stringstream ss;
            ss << in.rdbuf();
            const std::string text = ss.str();
            auto model = std::make_shared<ir::Model>(loadModelOrThrow(request->model));
            llm::PerplexityOptions po;
            po.chunk = request->chunk;
            po.maxChunks = request->maxChunks;
            po.threads = request->threads;
            po.reference = request->reference;
            auto r = llm::perplexity(model, text, po);
            if (!r.ok()) throw r.error();
            const auto& p = r.value();
            if (request->json.requested()) {
                emitJson(request->json, nlohmann::json{{"model", request->model},
                                                       {"text", request->text},
                                                       {"chunk_bytes", request->chunk},
                                                       {"chunks", p.chunks},
                                                       {"predicted_bytes", p.predicted},
                                                       {"mean_nll", p.meanNll},
                                                       {"perplexity", p.perplexity},
                                                       {"seconds", p.seconds}});
            } else {
                std::printf(
                    "perplexity %.4f (%.4f nats/byte) over %lld bytes in %lld chunks of %lld, %.2f s\n",
                    p.perplexity, p.meanNll, static_cast<long long>(p.predicted),
                    static_cast<long long>(p.chunks), static_cast<long long>(request->chunk), p.seconds);
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
