#pragma once
// Private helpers shared by the ONNX importer, exporter, validator and shape inference.
#include "opstudio/ir/graph.h"
#include "opstudio/onnx/model_io.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

namespace opstudio::onnxio::detail {

/// Largest element count accepted for one tensor (2^40): anything bigger is a corrupt or hostile file.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

/// Resolves an external-data location strictly inside `baseDir` (no absolute paths, no escapes
/// through '..' or symlinks). Throws opstudio::Error.
std::string resolveExternalPath(const std::string& baseDir, const std::string& location);

/// Validates the graph (names defined once, inputs defined before use, opsets imported)
/// and sorts it topologically; recurses into subgraphs. `outerScope` holds names visible from
/// enclosing graphs. Throws opstudio::Error with node context.
void validateGraph(ir::Graph& graph, const ir::Model& model,
                   const std::unordered_set<std::string>& outerScope,
                   const std::unordered_set<std::string>& sparseNames);

/// Newest opset of `domain` ("" = ai.onnx) that the linked libonnx (checker, schemas) knows; 0 if none.
int64_t checkerMaxOpset(const std::string& domain);

/// The version of `opType` in force at `opset` of `domain` (its schema's since_version), 0 when libonnx
/// has no such operator at that opset.
int64_t schemaSinceVersion(const std::string& opType, const std::string& domain, int64_t opset);

/// Every ai.onnx / ai.onnx.ml node (only those of this graph in `only` when given; else subgraphs too) must name an
/// operator that exists at the model's opset for its domain. Opsets newer than libonnx knows are not
/// judged. Throws opstudio::Error naming the node, the op and the opset.
void checkOpsExistAtOpsets(const ir::Graph& graph, const ir::Model& model,
                           const std::unordered_set<ir::NodeId>* only = nullptr);

/// Value type (tensor element type and shape) <-> TypeProto.
void valueFromTypeProto(const onnx::TypeProto& type, ir::Value& value);
void valueToTypeProto(const ir::Value& value, onnx::TypeProto& type);

/// Receives tensor bytes that go to an external data file during export; returns false to keep inline.
using ExternalSink = std::function<bool(const ir::Tensor& tensor, onnx::TensorProto& proto)>;

/// IR -> proto with an optional sink for external data.
void exportModel(const ir::Model& model, onnx::ModelProto& proto, const ExternalSink& sink);

/// Node order used by the exporter (topological; stable).
std::vector<ir::NodeId> exportOrder(const ir::Graph& graph);

/// Opset imports in the form libonnx wants.
int64_t opsetOf(const ir::Model& model, const std::string& domain);

/// Copies types inferred by libonnx (value_info, outputs) into value records that lack them.
/// Node i of the proto is node id i when `exportedOrder` is false (a freshly imported graph),
/// else the i-th node of exportOrder(graph).
void mergeInferredTypes(const onnx::GraphProto& inferred, ir::Graph& graph, bool exportedOrder);

/// Shape inference on an already-built proto (errors are swallowed: inference is advisory).
void inferOnProto(onnx::ModelProto& proto);

} // namespace opstudio::onnxio::detail
