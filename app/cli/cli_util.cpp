#include "cli/cli_util.h"

#include "opstudio/onnx/model_io.h"

#include <fstream>
#include <iostream>

namespace opstudio::cli {

ir::Model loadModelOrThrow(const std::string& path, bool inferShapes) {
    onnxio::LoadOptions options;
    options.inferShapes = inferShapes;
    auto result = onnxio::loadModel(path, options);
    if (!result.ok()) throw result.error();
    return std::move(result).value();
}

void addJsonOption(CLI::App& command, JsonOption& json) {
    json.option = command.add_option("--json", json.file,
                                     "Machine-readable output to FILE, or to standard output without FILE")
                      ->expected(0, 1);
}

void emitJson(const JsonOption& json, const nlohmann::json& doc) {
    const std::string text = doc.dump(2) + "\n";
    if (json.file.empty() || json.file == "-") {
        std::cout << text << std::flush;
        return;
    }
    std::ofstream out(json.file, std::ios::trunc);
    if (!out) throw CliError("cannot write JSON to '" + json.file + "'");
    out << text;
    if (!out) throw CliError("cannot write JSON to '" + json.file + "'");
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
        if (used != value.size() || v < 0) throw CliError("--dim value for '" + spec.substr(0, eq) + "' must be a non-negative integer");
        dims[spec.substr(0, eq)] = v;
    }
    return dims;
}

nlohmann::json shapeToJson(const ir::ValueShape& shape) {
    if (!shape) return nullptr;
    auto out = nlohmann::json::array();
    for (const auto& d : *shape) {
        if (d.known()) out.push_back(d.value);
        else if (!d.symbol.empty()) out.push_back(d.symbol);
        else out.push_back(nullptr);
    }
    return out;
}

std::string domainName(const std::string& domain) { return domain.empty() ? "ai.onnx" : domain; }

} // namespace opstudio::cli
