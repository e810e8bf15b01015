// Removes Identity and inference-mode Dropout: their output is their input.
#include "opstudio/passes/graph_edit.h"
#include "passes/cleanup/cleanup.h"

#include <algorithm>

namespace opstudio::passes {

namespace {

class IdentityRemoval final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Graph& g = *ctx.model.graph;
        const bool dropout = ctx.params.getBool("dropout");
        const std::vector<ir::NodeId> order = g.order();
        for (ir::NodeId id : order) {
            ir::Node* node = g.node(id);
            if (!node || !node->domain.empty()) continue;
            const bool isIdentity = node->opType == "Identity";
            const bool isDropout = node->opType == "Dropout";
            if (!isIdentity && !(isDropout && dropout)) continue;
            if (node->inputs.empty() || node->inputs[0].empty() || node->outputs.empty()) continue;
            if (isDropout) {
                if (node->outputs.size() > 1 && !node->outputs[1].empty() && useCount(g, node->outputs[1]) > 0) {
                    ctx.skip(*node, "the Dropout mask output is used");
                    continue;
                }
                if (node->inputs.size() > 2 && !node->inputs[2].empty()) {
                    const ir::Tensor* training = g.constantValue(node->inputs[2]);
                    if (!training || training->toDoubles().at(0) != 0.0) {
                        ctx.skip(*node, "training_mode is not a constant false");
                        continue;
                    }
                }
            }
            const std::string in = node->inputs[0];
            const std::string out = node->outputs[0];
            if (isGraphOutput(g, out)) {
                // Keep the graph output name: let the producer of `in` write `out` directly.
                ir::Node* producer = producerOf(g, in);
                if (!producer || isGraphOutput(g, in)) {
                    ctx.skip(*node, "it connects a graph input or initializer (or another graph output) to a graph output");
                    continue;
                }
                if (!producer->subgraphs().empty() && useCount(g, in) > 1) {
                    ctx.skip(*node, "its input feeds other nodes and the graph output must keep its name");
                    continue;
                }
                g.removeNode(id);
                for (auto& o : producer->outputs)
                    if (o == in) o = out;
                replaceAllUses(g, in, out);
            } else {
                g.removeNode(id);
                replaceAllUses(g, out, in);
            }
            ++ctx.report.applied;
        }
        g.rebuildIndex();
    }
};

} // namespace

PassInfo identityRemovalPass() {
    PassInfo info;
    info.name = "remove-identity";
    info.description = "Remove Identity nodes and inference-mode Dropout (output = input)";
    info.category = PassCategory::Cleanup;
    ParamSpec dropout;
    dropout.name = "dropout";
    dropout.type = ParamSpec::Type::Bool;
    dropout.description = "Also remove Dropout whose mask is unused and training_mode is off";
    dropout.defaultValue = true;
    info.params = {dropout};
    info.create = [] { return std::make_unique<IdentityRemoval>(); };
    return info;
}

} // namespace opstudio::passes
