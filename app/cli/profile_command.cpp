// `opstudio-cli profile MODEL [--runs N] [--warmup N] [--threads N] [--dim NAME=VALUE]... [--inputs DIR]
//  [--json [FILE]] [--csv FILE] [--trace FILE] [--top K] [--remeasure-machine]`:
// per-node latency statistics, costs and roofline placement (docs/profiling.md).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/profile/profile_export.h"
#include "opstudio/profile/profiler.h"
#include "opstudio/runtime/session.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <regex>

namespace fs = std::filesystem;

namespace opstudio::cli {

namespace {

struct ProfileRequest {
    std::string model;
    int runs = 20;
    int warmup = 3;
    int threads = 1;
    std::vector<std::string> dims;
    std::string inputs;
    uint64_t seed = 0;
    JsonOption json;
    std::string csv;
    std::string trace;
    int top = 15;
    bool remeasureMachine = false;
    bool noRoofline = false;
};

// input_N.pb of a folder (ONNX test-data layout), matched to inputs by tensor name, else by position.
std::map<std::string, ir::Tensor> readInputFolder(const rt::Session& session, const std::string& dirName) {
    const fs::path dir(dirName);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw CliError("inputs folder '" + dirName + "' does not exist");
    const std::regex pattern("input_([0-9]+)\\.pb");
    std::vector<std::pair<long, fs::path>> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::smatch m;
        const std::string name = entry.path().filename().string();
        if (std::regex_match(name, m, pattern)) files.emplace_back(std::stol(m[1]), entry.path());
    }
    std::sort(files.begin(), files.end());
    const auto& inputs = session.inputs();
    if (files.size() != inputs.size())
        throw CliError("the model has " + std::to_string(inputs.size()) + " inputs but '" + dirName + "' holds " +
                       std::to_string(files.size()) + " input_N.pb files");
    std::map<std::string, ir::Tensor> feeds;
    for (size_t i = 0; i < files.size(); ++i) {
        std::string name;
        auto tensor = onnxio::readTensorFile(files[i].second.string(), &name);
        if (!tensor.ok()) throw tensor.error();
        std::string target = inputs[i].name;
        if (!name.empty()) {
            const bool known = std::any_of(inputs.begin(), inputs.end(), [&](const rt::IoInfo& in) { return in.name == name; });
            if (!known)
                throw CliError("'" + files[i].second.filename().string() + "' holds tensor '" + name +
                               "', which is not an input of the model");
            target = name;
        }
        if (feeds.count(target)) throw CliError("input '" + target + "' is given twice");
        feeds[target] = tensor.value();
    }
    return feeds;
}

void writeOrThrow(const std::string& path, const std::string& text) {
    const Status s = profile::writeTextFile(path, text);
    if (!s.ok()) throw s.error();
}

} // namespace

void addProfileCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<ProfileRequest>();
    auto* cmd = app.add_subcommand("profile", "Time every node over repeated runs: statistics, FLOPs, bytes, roofline");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("--runs", request->runs, "Timed runs (default 20)")->check(CLI::PositiveNumber);
    cmd->add_option("--warmup", request->warmup, "Warm-up runs before timing (default 3)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", request->threads, "Threads (0: all cores; default 1)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--dim", request->dims, "Symbolic dimension value NAME=VALUE (repeatable)");
    cmd->add_option("--inputs", request->inputs, "Folder with input_N.pb (default: seeded random inputs)");
    cmd->add_option("--seed", request->seed, "Seed for random inputs");
    addJsonOption(*cmd, request->json);
    cmd->add_option("--csv", request->csv, "Write one CSV row per node to FILE");
    cmd->add_option("--trace", request->trace, "Write a Chrome trace (Perfetto, chrome://tracing) to FILE");
    cmd->add_option("--top", request->top, "Nodes listed in the table (default 15)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--remeasure-machine", request->remeasureMachine,
                  "Measure this machine's ceilings again (else the cached ones are used)");
    cmd->add_flag("--no-roofline", request->noRoofline, "Skip the machine ceilings and the roofline columns");
    cmd->callback([request, &action] {
        action = [request] {
            rt::SessionOptions options;
            options.threads = request->threads;
            options.dims = parseDims(request->dims);
            auto model = std::make_shared<ir::Model>(loadModelOrThrow(request->model));
            auto session = rt::Session::create(model, options);
            if (!session.ok()) throw session.error();
            rt::Session& s = *session.value();
            const auto feeds = request->inputs.empty() ? rt::randomFeeds(s, request->seed)
                                                       : readInputFolder(s, request->inputs);

            profile::ProfileOptions po;
            po.runs = request->runs;
            po.warmup = request->warmup;
            po.recordTrace = !request->trace.empty();
            // Ceilings come from the cache (measured once, ~1 s) before timing, never during it.
            if (!request->noRoofline) {
                std::string why;
                po.machine = profile::machineCeilings(request->remeasureMachine, profile::machineCachePath(), &why);
                // Say when the ceilings were measured now and why (stale cache, first run, the flag).
                if (why != "cached") std::cerr << "machine ceilings measured now: " << why << "\n";
            }
            auto result = profile::Profiler(s, po).run(feeds);
            if (!result.ok()) throw request->inputs.empty() ? withDimsHint(result.error(), s) : result.error();
            profile::Profile& p = result.value();
            p.model = request->model;

            const bool jsonToStdout = request->json.requested() && (request->json.file.empty() || request->json.file == "-");
            std::vector<std::string> written;
            if (!request->csv.empty()) {
                writeOrThrow(request->csv, profile::toCsv(p));
                written.push_back(request->csv);
            }
            if (!request->trace.empty()) {
                writeOrThrow(request->trace, profile::toChromeTrace(p).dump() + "\n");
                written.push_back(request->trace);
            }
            if (request->json.requested()) {
                emitJson(request->json, profile::toJson(p));
                if (!jsonToStdout) written.push_back(request->json.file);
            }
            if (!request->json.requested() && written.empty()) {
                std::cout << profile::formatTable(p, request->top);
            } else if (!jsonToStdout) {
                std::cout << "median " << p.total.median << " ms over " << p.runs << " runs; wrote";
                for (const auto& f : written) std::cout << " " << f;
                std::cout << "\n";
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
