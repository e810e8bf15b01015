// Removes nodes whose outputs nobody reads (ONNX inference ops have no side effects), and the
// initializers left without readers.
#include "opstudio/passes/graph_edit.h"
#include "passes/cleanup/cleanup.h"

#include <functional>
#include <unordered_set>

namespace opstudio::passes {

namespace {

void collectReads(const ir::Graph& g, std::unordered_set<std::string>& reads) {
    g.forEachNode([&](const ir::Node& n) {
        for (const auto& in : n.inputs)
            if (!in.empty()) reads.insert(in);
        for (ir::Graph* sg : n.subgraphs()) {
            collectReads(*sg, reads);
            for (const auto& o : sg->outputs) reads.insert(o);
        }
    });
}

class DeadNodeElimination final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Graph& g = *ctx.model.graph;
        // Walk backwards so a whole dead chain goes in one pass.
        std::unordered_set<std::string> live(g.outputs.begin(), g.outputs.end());
        std::vector<ir::NodeId> order = g.order();
        std::vector<ir::NodeId> dead;
        for (auto it = order.rbegin(); it != order.rend(); ++it) {
            const ir::Node& n = *g.node(*it);
            bool used = false;
            for (const auto& o : n.outputs) used = used || (!o.empty() && live.count(o));
            if (!used) {
                dead.push_back(*it);
                continue;
            }
            for (const auto& in : n.inputs)
                if (!in.empty()) live.insert(in);
            for (ir::Graph* sg : n.subgraphs()) collectReads(*sg, live);
        }
        for (ir::NodeId id : dead) g.removeNode(id);
        ctx.report.applied += static_cast<int>(dead.size());
        const size_t before = g.initializers.size();
        g.rebuildIndex();
        removeUnusedInitializers(g);
        if (g.initializers.size() != before)
            ctx.report.notes.push_back("removed " + std::to_string(before - g.initializers.size()) + " unused initializers");
        ctx.report.applied += static_cast<int>(before - g.initializers.size());
        g.rebuildIndex();
    }
};

} // namespace

PassInfo deadNodeEliminationPass() {
    PassInfo info;
    info.name = "eliminate-dead-nodes";
    info.description = "Remove nodes and initializers whose outputs are never used";
    info.category = PassCategory::Cleanup;
    info.create = [] { return std::make_unique<DeadNodeElimination>(); };
    return info;
}

} // namespace opstudio::passes
