#pragma once
// Helpers shared by the subcommands: loading with a clear error, JSON output, --dim parsing.
#include "opstudio/ir/graph.h"
#include "opstudio/runtime/session.h"
#include "opstudio/util/error.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace opstudio::cli {

/// Thrown by commands for a user-facing failure; main prints it as one `error:` line.
using CliError = opstudio::Error;

/// Loads a model or throws the loader's error (with file context).
ir::Model loadModelOrThrow(const std::string& path, bool inferShapes = true);

/// `--json [FILE]`: adds the option; `jsonRequested` says whether it was given.
struct JsonOption {
    CLI::Option* option = nullptr;
    std::string file;
    bool requested() const { return option && option->count() > 0; }
};
void addJsonOption(CLI::App& command, JsonOption& json);
/// Writes JSON to the file given with --json, or to stdout when no file was given.
void emitJson(const JsonOption& json, const nlohmann::json& doc);

/// Parses "NAME=VALUE" pairs given with --dim.
std::map<std::string, int64_t> parseDims(const std::vector<std::string>& specs);

/// Symbolic input dims that no --dim sets (random feeds use 1 for them): "W of input 'x'" entries, with the
/// option that sets them. Empty when every symbol has a value.
std::string unsetDimsHint(const rt::Session& session);
/// `error` with the unset-dims hint added (a failure with symbols set to 1 is often caused by them).
Error withDimsHint(const Error& error, const rt::Session& session);

/// Feeds from a folder of input_N.pb (ONNX test-data layout): matched to the session's inputs by
/// TensorProto name when set, else by position; dtype, rank and known dims are checked.
std::map<std::string, ir::Tensor> readFeedFolder(const rt::Session& session, const std::string& dir);

/// [1, "batch", null] for a value shape; null when even the rank is unknown.
nlohmann::json shapeToJson(const ir::ValueShape& shape);

/// The ONNX domain spelled for people and scripts ("" -> "ai.onnx").
std::string domainName(const std::string& domain);

} // namespace opstudio::cli
