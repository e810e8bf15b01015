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

/// input_N.pb files of a folder, ordered by N.
std::vector<fs::path> tensorFiles(const fs::path& dir, const std::string& prefix) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw CliError("inputs folder '" + dir.string() + "' does not exist");
    const std::regex pattern(prefix + "_([0-9]+)\\.pb");
    std::vector<std::pair<long, fs::path>> found;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::smatch m;
        const std::string name = entry.path().filename().string();
        if (std::regex_match(name, m, pattern)) found.emplace_back(std::stol(m[1]), entry.path());
    }
    std::sort(found.begin(), found.end());
    std::vector<fs::path> out;
    for (auto& [i, p] : found) out.push_back(p);
    return out;
}

void checkFeed(const rt::IoInfo& info, const ir::Tensor& t, const std::string& file) {
    if (t.dtype() != info.dtype)
        throw CliError("input '" + info.name + "' from " + file + " has dtype " + std::string(ir::dtypeName(t.dtype())) +
                       ", the model expects " + std::string(ir::dtypeName(info.dtype)));
    if (!info.shape) return;
    const auto& dims = *info.shape;
    bool ok = static_cast<int>(dims.size()) == t.rank();
    for (size_t i = 0; ok && i < dims.size(); ++i)
        if (dims[i].known() && dims[i].value != t.shape()[i]) ok = false;
    if (!ok)
        throw CliError("input '" + info.name + "' from " + file + " has shape " + ir::shapeToString(t.shape()) +
                       ", the model expects " + ir::valueShapeToString(info.shape));
}

std::map<std::string, ir::Tensor> readFeeds(const rt::Session& session, const fs::path& dir) {
    const auto files = tensorFiles(dir, "input");
    const auto& inputs = session.inputs();
    if (files.size() != inputs.size())
        throw CliError("the model has " + std::to_string(inputs.size()) + " inputs but '" + dir.string() + "' holds " +
                       std::to_string(files.size()) + " input_N.pb files");
    std::map<std::string, ir::Tensor> feeds;
    for (size_t i = 0; i < files.size(); ++i) {
        std::string name;
        auto tensor = onnxio::readTensorFile(files[i].string(), &name);
        if (!tensor.ok()) throw tensor.error();
        // Matched by the tensor's name when it has one, by position otherwise.
        const rt::IoInfo* info = nullptr;
        if (!name.empty()) {
            for (const auto& in : inputs)
                if (in.name == name) info = &in;
            if (!info) {
                std::string known;
                for (const auto& in : inputs) known += (known.empty() ? "" : ", ") + in.name;
                throw CliError("'" + files[i].filename().string() + "' holds tensor '" + name +
                               "', which is not an input of the model (inputs: " + known + ")");
            }
        } else {
            info = &inputs[i];
        }
        if (feeds.count(info->name)) throw CliError("input '" + info->name + "' is given twice");
        checkFeed(*info, tensor.value(), files[i].filename().string());
        feeds[info->name] = tensor.value();
    }
    return feeds;
}

void writeTensor(const ir::Tensor& t, const std::string& name, const fs::path& path) {
    auto status = onnxio::writeTensorFile(t, name, path.string());
    if (!status.ok()) throw status.error();
}

} // namespace

void addRunCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<RunRequest>();
    auto* cmd = app.add_subcommand("run", "Run a model once on tensors from a folder (or seeded random inputs)");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("--inputs", request->inputs, "Folder with input_N.pb (serialized onnx.TensorProto)");
    cmd->add_option("--outputs", request->outputs, "Folder for output_N.pb (created when missing)")->required();
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
            if (!fs::is_directory(outDir, ec)) throw CliError("cannot create outputs folder '" + request->outputs + "'");

            std::map<std::string, ir::Tensor> feeds;
            if (!request->inputs.empty()) {
                feeds = readFeeds(s, request->inputs);
            } else {
                feeds = rt::randomFeeds(s, request->seed);
                // The generated inputs are saved so the run can be replayed with --inputs.
                for (size_t i = 0; i < s.inputs().size(); ++i) {
                    const auto& name = s.inputs()[i].name;
                    writeTensor(feeds.at(name), name, outDir / ("input_" + std::to_string(i) + ".pb"));
                }
            }
            auto result = s.run(feeds);
            if (!result.ok()) throw result.error();
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
