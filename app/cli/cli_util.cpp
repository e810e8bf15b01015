#include "cli/cli_util.h"

#include "opstudio/util/atomic_file.h"

#include "opstudio/onnx/model_io.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

namespace fs = std::filesystem;

namespace opstudio::cli {

namespace {

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
    for (auto& [i, p] : found)
        out.push_back(p);
    return out;
}

void checkFeed(const rt::IoInfo& info, const ir::Tensor& t, const std::string& file) {
    if (t.dtype() != info.dtype)
        throw CliError("input '" + info.name + "' from " + file + " has dtype " +
                       std::string(ir::dtypeName(t.dtype())) + ", the model expects " +
                       std::string(ir::dtypeName(info.dtype)));
    if (!info.shape) return;
    const auto& dims = *info.shape;
    bool ok = static_cast<int>(dims.size()) == t.rank();
    for (size_t i = 0; ok && i < dims.size(); ++i)
        if (dims[i].known() && dims[i].value != t.shape()[i]) ok = false;
    if (!ok)
        throw CliError("input '" + info.name + "' from " + file + " has shape " +
                       ir::shapeToString(t.shape()) + ", the model expects " +
                       ir::valueShapeToString(info.shape));
}

} // namespace

std::map<std::string, ir::Tensor> readFeedFolder(const rt::Session& session, const std::string& dir) {
    const auto files = tensorFiles(fs::path(dir), "input");
    const auto& inputs = session.inputs();
    if (files.size() != inputs.size())
        throw CliError("the model has " + std::to_string(inputs.size()) + " inputs but '" + dir + "' holds " +
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
                for (const auto& in : inputs)
                    known += (known.empty() ? "" : ", ") + in.name;
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

ir::Model loadModelOrThrow(const std::string& path, bool inferShapes) {
    onnxio::LoadOptions options;
    options.inferShapes = inferShapes;
    auto result = onnxio::loadModel(path, options);
    if (!result.ok()) throw result.error();
    return std::move(result).value();
}

void addJsonOption(CLI::App& command, JsonOption& json) {
    json.option = command
                      .add_option("--json", json.file,
                                  "Machine-readable output to FILE, or to standard output without FILE")
                      ->expected(0, 1);
}

void emitJson(const JsonOption& json, const nlohmann::json& doc) {
    const std::string text = doc.dump(2) + "\n";
    if (json.file.empty() || json.file == "-") {
        std::cout << text << std::flush;
        return;
    }
    const Status written = opstudio::util::writeFileAtomically(json.file, text);
    if (!written.ok()) throw CliError("cannot write JSON: " + std::string(written.error().what()));
}

std::map<std::string, int64_t> parseDims(const std::vector<std::string>& specs) {
    std::map<std::string, int64_t> dims;
    for (const auto& spec : specs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
            throw CliError("--dim expects NAME=VALUE, got '" + spec + "'");
        const std::string value = spec.substr(eq + 1);
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(value, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != value.size() || v < 0)
            throw CliError("--dim value for '" + spec.substr(0, eq) + "' must be a non-negative integer");
        dims[spec.substr(0, eq)] = v;
    }
    return dims;
}

std::string unsetDimsHint(const rt::Session& session) {
    std::string list, example;
    for (const auto& in : session.inputs()) {
        if (!in.shape) continue;
        for (size_t d = 0; d < in.shape->size(); ++d) {
            const auto& dim = (*in.shape)[d];
            if (dim.known()) continue;
            const bool named = !dim.symbol.empty();
            if (named && session.options().dims.count(dim.symbol)) continue;
            list += (list.empty() ? "" : ", ") + (named ? dim.symbol : "dim " + std::to_string(d)) +
                    " of input '" + in.name + "'";
            if (named && example.empty()) example = "--dim " + dim.symbol + "=320";
        }
    }
    if (list.empty()) return {};
    return "symbolic dims set to 1: " + list + " (choose values with " +
           (example.empty() ? "--dim NAME=V" : example) + ", repeatable, or pass real inputs with --inputs)";
}

Error withDimsHint(const Error& error, const rt::Session& session) {
    const std::string hint = unsetDimsHint(session);
    if (hint.empty()) return error;
    return Error(error.describe() + "; " + hint);
}

nlohmann::json shapeToJson(const ir::ValueShape& shape) {
    if (!shape) return nullptr;
    auto out = nlohmann::json::array();
    for (const auto& d : *shape) {
        if (d.known())
            out.push_back(d.value);
        else if (!d.symbol.empty())
            out.push_back(d.symbol);
        else
            out.push_back(nullptr);
    }
    return out;
}

std::string domainName(const std::string& domain) {
    return domain.empty() ? "ai.onnx" : domain;
}

} // namespace opstudio::cli
