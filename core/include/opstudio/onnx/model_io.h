#pragma once
// ONNX <-> IR. Loading validates what the runtime and passes rely on (names defined once,
// inputs defined before use, no cycles, sane dims, external data inside the model folder)
// and reports problems as values.
#include "opstudio/ir/graph.h"
#include "opstudio/util/error.h"

#include <optional>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
} // namespace onnx

namespace opstudio::onnxio {

struct LoadOptions {
    /// Run libonnx shape inference to fill missing value shapes.
    bool inferShapes = true;
    /// Memory-map external data instead of reading it.
    bool mapExternalData = true;
};

struct SaveOptions {
    enum class ExternalData { Auto, Always, Never };
    /// Auto: weights go to "<file>.data" when the proto would pass protobuf's 2 GB limit.
    ExternalData externalData = ExternalData::Auto;
    /// Tensors at least this big go to external data when it is used.
    size_t externalThreshold = 1024;
    /// Auto: total tensor bytes above which external data is used (2 GB minus room for the graph).
    size_t autoExternalAbove = (size_t{2} << 30) - (size_t{64} << 20);
    /// Run onnx::checker on the result before writing, when it knows every opset the model uses
    /// (see checkerSkipReason). Our structural validation (validateModel) always runs.
    bool check = true;
    /// Receives what was not checked and why ("checker skipped: opset 18 is newer than the checker (17)").
    std::vector<std::string>* notes = nullptr;
};

/// Reads a .onnx file. Never throws.
Result<ir::Model> loadModel(const std::string& path, const LoadOptions& options = {});
/// Parses serialized ModelProto bytes; `baseDir` resolves external data (empty: none allowed).
Result<ir::Model> loadModelFromBytes(const std::string& bytes, const std::string& baseDir,
                                     const LoadOptions& options = {});
/// Writes atomically (temporary file + rename). Refuses to overwrite `model.sourcePath`.
Status saveModel(const ir::Model& model, const std::string& path, const SaveOptions& options = {});

/// IR -> proto (topologically sorted). Throws opstudio::Error.
void toProto(const ir::Model& model, onnx::ModelProto& proto);
/// proto -> IR. Throws opstudio::Error.
ir::Model fromProto(const onnx::ModelProto& proto, const std::string& baseDir,
                    const LoadOptions& options = {});

/// TensorProto <-> Tensor (raw_data and typed fields; external data resolved in baseDir).
ir::Tensor tensorFromProto(const onnx::TensorProto& proto, const std::string& baseDir = {});
void tensorToProto(const ir::Tensor& tensor, const std::string& name, onnx::TensorProto& proto);
/// Reads/writes one serialized TensorProto file (ONNX test-data layout); name is filled when set.
Result<ir::Tensor> readTensorFile(const std::string& path, std::string* name = nullptr);
Status writeTensorFile(const ir::Tensor& tensor, const std::string& name, const std::string& path);

/// Runs onnx::checker::check_model on the IR (after export). Error message from the checker.
/// A model the checker cannot judge (checkerSkipReason) is an error here: callers decide to skip.
Status checkModel(const ir::Model& model);
/// Why the linked ONNX checker (Debian: libonnx 1.12, opsets <= 17) cannot judge this model, e.g.
/// "checker skipped: opset 18 is newer than the checker (17)"; nullopt when it knows every opset used.
std::optional<std::string> checkerSkipReason(const ir::Model& model);
/// OpStudio's own structural validation (what loading checks): every name defined once, every input
/// defined, opsets imported for every domain used, no cycles; subgraphs included. Never throws.
Status validateModel(const ir::Model& model);
/// Runs libonnx shape inference and copies inferred types/shapes into value records.
void inferShapes(ir::Model& model);

} // namespace opstudio::onnxio
