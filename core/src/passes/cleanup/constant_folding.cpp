// Evaluates nodes whose inputs are all constants (initializers or Constant nodes) once, with
// OpStudio's own runtime, and stores their outputs as initializers.
#include "opstudio/passes/graph_edit.h"
#include "passes/cleanup/cleanup.h"
#include "passes/evaluate.h"

#include <set>

namespace opstudio::passes {

namespace {

// Ops whose output must not be frozen: random draws change every run.
const std::set<std::string> kNondeterministic = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                 "RandomUniformLike", "Bernoulli", "Multinomial"};

class ConstantFolding final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Graph& g = *ctx.model.graph;
        const int64_t maxBytes = ctx.params.getInt("max_size_kb") * 1024;
        const bool foldConstantNodes = ctx.params.getBool("constant_nodes_to_initializers");
        const std::vector<ir::NodeId> order = g.order();
        for (ir::NodeId id : order) {
            if (ctx.cancelled()) throw Error("cancelled");
            ir::Node* node = g.node(id);
            if (!node) continue;
            if (node->opType == "Constant" && node->domain.empty()) {
                if (!foldConstantNodes || node->outputs.size() != 1 || isGraphOutput(g, node->outputs[0])) continue;
                if (const ir::Tensor* t = g.constantValue(node->outputs[0])) {
                    const std::string out = node->outputs[0];
                    const ir::Tensor value = *t;
                    g.removeNode(id);
                    g.initializers[out] = value;
                    ++ctx.report.applied;
                }
                continue;
            }
            bool allConstant = true;
            std::vector<ir::Tensor> inputs;
            for (const auto& in : node->inputs) {
                if (in.empty()) {
                    inputs.emplace_back();
                    continue;
                }
                const ir::Tensor* t = g.constantValue(in);
                if (!t) {
                    allConstant = false;
                    break;
                }
                inputs.push_back(*t);
            }
            if (!allConstant) continue;
            if (!node->subgraphs().empty()) {
                ctx.skip(*node, "control flow (If/Loop/Scan) is not folded");
                continue;
            }
            if (kNondeterministic.count(node->opType)) {
                ctx.skip(*node, "random operator: its output changes every run");
                continue;
            }
            bool output = false;
            for (const auto& o : node->outputs) output = output || isGraphOutput(g, o);
            if (output) {
                ctx.skip(*node, "an output is a graph output");
                continue;
            }
            std::vector<ir::Tensor> results;
            try {
                results = evaluateNode(ctx.model, *node, inputs);
            } catch (const Error& e) {
                ctx.skip(*node, "cannot evaluate: " + e.describe());
                continue;
            }
            int64_t bytes = 0;
            for (const auto& t : results) bytes += t.defined() ? static_cast<int64_t>(t.byteSize()) : 0;
            int64_t inBytes = 0;
            for (const auto& t : inputs) inBytes += t.defined() ? static_cast<int64_t>(t.byteSize()) : 0;
            // Folding that grows the model (Expand/Tile/ConstantOfShape of big shapes) is limited.
            if (bytes > maxBytes && bytes > inBytes) {
                ctx.skip(*node, "folded output would be " + std::to_string(bytes / 1024) + " KB, above max_size_kb=" +
                                    std::to_string(maxBytes / 1024));
                continue;
            }
            const std::vector<std::string> outs = node->outputs;
            g.removeNode(id);
            for (size_t i = 0; i < outs.size(); ++i) {
                if (outs[i].empty() || !results[i].defined()) continue;
                g.initializers[outs[i]] = results[i];
                ir::Value& v = g.value(outs[i]);
                v.dtype = results[i].dtype();
                v.shape = ir::toValueShape(results[i].shape());
                v.hasType = true;
            }
            ++ctx.report.applied;
        }
        g.rebuildIndex();
        removeUnusedInitializers(g);
        g.rebuildIndex();
    }
};

} // namespace

PassInfo constantFoldingPass() {
    PassInfo info;
    info.name = "fold-constants";
    info.description = "Evaluate nodes whose inputs are all constants and store the results as initializers";
    info.category = PassCategory::Cleanup;
    ParamSpec size;
    size.name = "max_size_kb";
    size.type = ParamSpec::Type::Int;
    size.description = "Do not fold a node whose outputs exceed this size (KB) and are larger than its inputs";
    size.min = 0;
    size.max = 1 << 22;
    size.defaultValue = int64_t{1024};
    ParamSpec nodes;
    nodes.name = "constant_nodes_to_initializers";
    nodes.type = ParamSpec::Type::Bool;
    nodes.description = "Also turn Constant nodes into initializers";
    nodes.defaultValue = true;
    info.params = {size, nodes};
    info.create = [] { return std::make_unique<ConstantFolding>(); };
    return info;
}

} // namespace opstudio::passes
