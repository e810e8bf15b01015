// Replaces Shape and Size of values whose shape is fully static by constants, so that the
// shape-computing subgraphs exporters emit (Shape -> Gather -> Unsqueeze -> Concat -> Reshape)
// can be folded away by fold-constants.
#include "opstudio/passes/graph_edit.h"
#include "passes/cleanup/cleanup.h"

#include <algorithm>

namespace opstudio::passes {

namespace {

class ShapeFolding final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Graph& g = *ctx.model.graph;
        const std::vector<ir::NodeId> order = g.order();
        for (ir::NodeId id : order) {
            ir::Node* node = g.node(id);
            if (!node || !node->domain.empty() || (node->opType != "Shape" && node->opType != "Size")) continue;
            if (node->inputs.empty() || node->outputs.empty()) continue;
            const ir::Value* v = g.findValue(node->inputs[0]);
            const auto shape = v ? ir::concreteShape(v->shape) : std::nullopt;
            if (!shape) {
                ctx.skip(*node, "input shape " + (v ? ir::valueShapeToString(v->shape) : std::string("?")) +
                                    " is not fully static (set symbolic dims to fold it)");
                continue;
            }
            if (isGraphOutput(g, node->outputs[0])) {
                ctx.skip(*node, "its output is a graph output");
                continue;
            }
            ir::Tensor t;
            if (node->opType == "Size") {
                t = ir::Tensor::scalar<int64_t>(ir::shapeNumel(*shape));
            } else {
                // Shape-15 start/end slice the dims (negative counts from the back, clamped).
                const auto rank = static_cast<int64_t>(shape->size());
                int64_t start = node->attrInt("start", 0), end = node->attrInt("end", rank);
                if (start < 0) start += rank;
                if (end < 0) end += rank;
                start = std::clamp<int64_t>(start, 0, rank);
                end = std::clamp<int64_t>(end, start, rank);
                std::vector<int64_t> dims(shape->begin() + start, shape->begin() + end);
                t = ir::Tensor::fromVector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
            }
            const std::string out = node->outputs[0];
            g.removeNode(id);
            g.initializers[out] = t;
            ir::Value& ov = g.value(out);
            ov.dtype = ir::DType::I64;
            ov.shape = ir::toValueShape(t.shape());
            ov.hasType = true;
            ++ctx.report.applied;
        }
        g.rebuildIndex();
    }
};

} // namespace

PassInfo shapeFoldingPass() {
    PassInfo info;
    info.name = "fold-shapes";
    info.description = "Replace Shape/Size of statically shaped values by constants";
    info.category = PassCategory::Cleanup;
    info.create = [] { return std::make_unique<ShapeFolding>(); };
    return info;
}

} // namespace opstudio::passes
