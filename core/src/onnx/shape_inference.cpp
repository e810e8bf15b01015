// libonnx shape inference as an advisory source of value types: it never fails a load, and it
// only fills in value records that the model left without a type.
#include "onnx_internal.h"

#include "opstudio/onnx/model_io.h"

#include <onnx/shape_inference/implementation.h>

namespace opstudio::onnxio {

namespace detail {

void inferOnProto(onnx::ModelProto& proto) {
    try {
        onnx::ShapeInferenceOptions options(/*check_type=*/false, /*strict_mode=*/0, /*data_prop=*/false);
        onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), options);
    } catch (...) {
        // Inference is best effort: unknown ops, newer opsets and inconsistent exporters make it throw.
    }
}

namespace {

void mergeValueInfo(const onnx::ValueInfoProto& vi, ir::Graph& graph) {
    if (vi.name().empty() || !vi.has_type()) return;
    ir::Value* v = graph.findValue(vi.name());
    if (!v) v = &graph.value(vi.name());
    if (v->hasType && v->shape) return;
    ir::Value inferred;
    valueFromTypeProto(vi.type(), inferred);
    if (!inferred.hasType) return;
    if (!v->hasType) {
        v->dtype = inferred.dtype;
        v->hasType = true;
    }
    if (!v->shape && v->dtype == inferred.dtype) v->shape = inferred.shape;
}

} // namespace

void mergeInferredTypes(const onnx::GraphProto& inferred, ir::Graph& graph, bool exportedOrder) {
    for (const auto& vi : inferred.value_info())
        mergeValueInfo(vi, graph);
    for (const auto& vi : inferred.output())
        mergeValueInfo(vi, graph);
    std::vector<ir::NodeId> order;
    if (exportedOrder) {
        order = exportOrder(graph);
    } else {
        for (ir::NodeId id = 0; id < graph.idBound(); ++id)
            if (graph.node(id)) order.push_back(id);
    }
    if (static_cast<size_t>(inferred.node_size()) != order.size()) return;
    for (int i = 0; i < inferred.node_size(); ++i) {
        const auto& np = inferred.node(i);
        ir::Node* node = graph.node(order[static_cast<size_t>(i)]);
        if (!node || node->opType != np.op_type()) return; // the two do not line up: stop quietly
        for (const auto& ap : np.attribute()) {
            ir::Attribute* a = node->attr(ap.name());
            if (!a) continue;
            if (ap.has_g() && a->g) mergeInferredTypes(ap.g(), *a->g, exportedOrder);
            for (int k = 0; k < ap.graphs_size() && k < static_cast<int>(a->graphs.size()); ++k)
                if (a->graphs[static_cast<size_t>(k)])
                    mergeInferredTypes(ap.graphs(k), *a->graphs[static_cast<size_t>(k)], exportedOrder);
        }
    }
}

} // namespace detail

void inferShapes(ir::Model& model) {
    onnx::ModelProto proto;
    detail::exportModel(model, proto, {});
    detail::inferOnProto(proto);
    detail::mergeInferredTypes(proto.graph(), *model.graph, /*exportedOrder=*/true);
}

} // namespace opstudio::onnxio
