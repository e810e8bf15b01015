// `opstudio-cli run MODEL [--inputs DIR] --outputs DIR`: one inference with tensors on disk in
// the ONNX test-data layout (input_N.pb / output_N.pb).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/runtime/session.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <regex>

namespace fs = std::filesystem;

namespace opstudio::cli {

namespace {

struct RunRequest {
    std::string model;
    std::string inputs;
    std::string outputs;
    int threads = 1;
    std::vector<std::string> dims;
    uint64_t seed = 0;
    bool reference = false;
    JsonOption json;
};

void writeTensor(const ir::Tensor& t, const std::string& name, const fs::path& path) {
    auto status = onnxio::writeTensorFile(t, name, path.string());
    if (!status.ok()) throw status.error();
}

} // namespace

void addRunCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<RunRequest>();
    auto* cmd =
        app.add_subcommand("run", "Run a model once on tensors from a folder (or seeded random inputs)");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("--inputs", request->inputs, "Folder with input_N.pb (serialized onnx.TensorProto)");
    cmd->add_option("--outputs", request->outputs, "Folder for output_N.pb (created when missing)")
        ->required();
    cmd->add_option("--threads", request->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--dim", request->dims, "Symbolic dimension value NAME=VALUE (repeatable)");
    cmd->add_option("--seed", request->seed, "Seed for random inputs");
    cmd->add_flag("--reference", request->reference, "Use the reference kernels (plain loops)");
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            rt::SessionOptions options;
            options.threads = request->threads;
            options.dims = parseDims(request->dims);
            options.reference = request->reference;
            auto model = std::make_shared<ir::Model>(loadModelOrThrow(request->model));
            auto session = rt::Session::create(model, options);
            if (!session.ok()) throw session.error();
            rt::Session& s = *session.value();

            const fs::path outDir(request->outputs);
            std::error_code ec;
            fs::create_directories(outDir, ec);
            if (!fs::is_directory(outDir, ec))
                throw CliError("cannot create outputs folder '" + request->outputs + "'");

            std::map<std::string, ir::Tensor> feeds;
            if (!request->inputs.empty()) {
                feeds = readFeedFolder(s, request->inputs);
            } else {
                feeds = rt::randomFeeds(s, request->seed);
                // The generated inputs are saved so the run can be replayed with --inputs.
                for (size_t i = 0; i < s.inputs().size(); ++i) {
                    const auto& name = s.inputs()[i].name;
                    writeTensor(feeds.at(name), name, outDir / ("input_" + std::to_string(i) + ".pb"));
                }
            }
            auto result = s.run(feeds);
            if (!result.ok()) throw request->inputs.empty() ? withDimsHint(result.error(), s) : result.error();
            nlohmann::json outputs = nlohmann::json::array();
            for (size_t i = 0; i < result.value().size(); ++i) {
                const auto& out = result.value()[i];
                const std::string file = "output_" + std::to_string(i) + ".pb";
                writeTensor(out.tensor, out.name, outDir / file);
                outputs.push_back({{"name", out.name},
                                   {"dtype", std::string(ir::dtypeName(out.tensor.dtype()))},
                                   {"shape", out.tensor.shape()},
                                   {"file", file}});
            }
            if (request->json.requested()) {
                emitJson(request->json, nlohmann::json{{"model", request->model}, {"outputs", outputs}});
            } else {
                for (const auto& o : outputs)
                    std::cout << o["file"].get<std::string>() << ": " << o["name"].get<std::string>() << " "
                              << o["dtype"].get<std::string>() << " " << o["shape"].dump() << "\n";
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
