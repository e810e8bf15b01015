// `opstudio-cli compare A.onnx B.onnx [--inputs DIR] [--threads N] [--runs N] [--warmup N] [--seed S]
//  [--dim NAME=VALUE]... [--threshold X] [--no-divergence] [--json [FILE]]`: accuracy of B against A on the
// same inputs, both latencies, and the first original node where B diverges (docs/compare.md).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/compare/compare.h"
#include "opstudio/compare/compare_export.h"
#include "opstudio/runtime/session.h"

#include <iostream>

namespace opstudio::cli {

namespace {

struct CompareRequest {
    std::string a, b;
    std::string inputs;
    int threads = 1;
    int runs = 10;
    int warmup = 2;
    uint64_t seed = 1;
    double threshold = 1e-3;
    bool noDivergence = false;
    std::vector<std::string> dims;
    JsonOption json;
};

} // namespace

void addCompareCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<CompareRequest>();
    auto* cmd = app.add_subcommand(
        "compare",
        "Compare model B with model A on the same inputs: output errors, latency, first divergence");
    cmd->add_option("a", request->a, "Reference model (A), e.g. the original")->required();
    cmd->add_option("b", request->b, "Candidate model (B), e.g. the optimized one")->required();
    cmd->add_option("--inputs", request->inputs, "Folder with input_N.pb (default: seeded random inputs)");
    cmd->add_option("--threads", request->threads, "Threads (0: all cores; default 1)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--runs", request->runs, "Timed runs per model (default 10)")->check(CLI::PositiveNumber);
    cmd->add_option("--warmup", request->warmup, "Warm-up runs per model (default 2)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--seed", request->seed, "Seed for random inputs (default 1)");
    cmd->add_option("--dim", request->dims, "Symbolic dimension value NAME=VALUE (repeatable)");
    cmd->add_option(
           "--threshold", request->threshold,
           "Relative error (max_abs / max|a|) above which an intermediate value has diverged (default 1e-3)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--no-divergence", request->noDivergence, "Skip the search for the first diverging node");
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            compare::CompareOptions options;
            options.threads = request->threads;
            options.runs = request->runs;
            options.warmup = request->warmup;
            options.seed = request->seed;
            options.dims = parseDims(request->dims);
            options.divergenceThreshold = request->threshold;
            options.findDivergence = !request->noDivergence;
            auto a = std::make_shared<ir::Model>(loadModelOrThrow(request->a));
            auto b = std::make_shared<ir::Model>(loadModelOrThrow(request->b));

            std::map<std::string, ir::Tensor> feeds;
            if (!request->inputs.empty()) {
                // The folder is read against model A's inputs (names, dtypes, shapes checked).
                rt::SessionOptions so;
                so.dims = options.dims;
                auto session = rt::Session::create(a, so);
                if (!session.ok()) throw session.error();
                feeds = readFeedFolder(*session.value(), request->inputs);
            }
            auto result = compare::compareModels(a, b, feeds, options);
            if (!result.ok()) throw result.error();
            if (request->json.requested()) {
                nlohmann::json doc = compare::toJson(result.value());
                doc["a"] = request->a;
                doc["b"] = request->b;
                doc["threshold"] = request->threshold;
                emitJson(request->json, doc);
                if (!request->json.file.empty() && request->json.file != "-")
                    std::cout << "wrote " << request->json.file << "\n";
            } else {
                std::cout << "A         " << request->a << "\nB         " << request->b << "\n"
                          << compare::formatTable(result.value());
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
