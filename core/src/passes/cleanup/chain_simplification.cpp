// Cancels or merges redundant chains: Transpose·Transpose, Reshape·Reshape, lossless Cast round
// trips, Cast to the same type and Reshape to the shape a value already has.
#include "opstudio/passes/graph_edit.h"
#include "passes/cleanup/cleanup.h"

namespace opstudio::passes {

namespace {

using ir::DType;

/// True when every value of `from` survives a trip through `via` unchanged.
bool losslessVia(DType from, DType via) {
    if (from == via) return true;
    auto rank = [](DType t) -> int {
        switch (t) {
        case DType::Bool: return 0;
        case DType::I8: case DType::U8: return 1;
        case DType::I16: case DType::U16: return 2;
        case DType::I32: case DType::U32: return 3;
        case DType::I64: case DType::U64: return 4;
        default: return -1;
        }
    };
    const bool fromSigned = from == DType::I8 || from == DType::I16 || from == DType::I32 || from == DType::I64;
    const bool viaSigned = via == DType::I8 || via == DType::I16 || via == DType::I32 || via == DType::I64;
    if (rank(from) >= 0 && rank(via) > 0) {
        // Widening integer casts keep the value when the wider type is signed or both are unsigned.
        if (from == DType::Bool) return true;
        return rank(via) > rank(from) && (viaSigned || !fromSigned);
    }
    switch (via) {
    case DType::F64: return from == DType::F32 || from == DType::F16 || from == DType::BF16 || (rank(from) >= 0 && rank(from) <= 3);
    case DType::F32: return from == DType::F16 || from == DType::BF16 || (rank(from) >= 0 && rank(from) <= 2);
    case DType::F16: return from == DType::Bool || from == DType::I8 || from == DType::U8;
    default: return false;
    }
}

class ChainSimplification final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Graph& g = *ctx.model.graph;
        bool changed = true;
        for (int sweep = 0; changed && sweep < 8; ++sweep) {
            changed = false;
            const std::vector<ir::NodeId> order = g.order();
            for (ir::NodeId id : order) {
                ir::Node* node = g.node(id);
                if (!node || !node->domain.empty() || node->inputs.empty() || node->outputs.empty()) continue;
                if (simplify(ctx, g, *node)) {
                    changed = true;
                    ++ctx.report.applied;
                    g.rebuildIndex();
                }
            }
        }
    }

private:
    /// Removes `node` (a no-op) by routing its input to its readers.
    static bool bypass(PassContext& ctx, ir::Graph& g, ir::Node& node) {
        const std::string in = node.inputs[0], out = node.outputs[0];
        if (isGraphOutput(g, out)) {
            ir::Node* producer = producerOf(g, in);
            if (!producer || isGraphOutput(g, in) || useCount(g, in) > 1) {
                ctx.skip(node, "no-op, but its output is a graph output whose name must be kept");
                return false;
            }
            g.removeNode(node.id);
            for (auto& o : producer->outputs)
                if (o == in) o = out;
            return true;
        }
        g.removeNode(node.id);
        replaceAllUses(g, out, in);
        return true;
    }

    bool simplify(PassContext& ctx, ir::Graph& g, ir::Node& node) {
        const std::string& op = node.opType;
        ir::Node* prev = producerOf(g, node.inputs[0]);
        const bool prevSingleUse = prev && useCount(g, node.inputs[0]) == 1 && !isGraphOutput(g, node.inputs[0]);
        if (op == "Transpose") {
            if (prev && prev->opType == "Transpose" && prev->domain.empty()) {
                if (!prevSingleUse) {
                    ctx.skip(node, "the first Transpose of the pair has other readers");
                    return false;
                }
                const ir::Value* src = g.findValue(prev->inputs[0]);
                auto p1 = prev->attrInts("perm");
                auto p2 = node.attrInts("perm");
                if (p1.empty() || p2.empty() || p1.size() != p2.size()) {
                    ctx.skip(node, "a Transpose without an explicit perm (rank unknown)");
                    return false;
                }
                (void)src;
                // y = T(T(x, p1), p2)  =>  y[i] dims come from x[p1[p2[i]]]
                std::vector<int64_t> q(p2.size());
                bool identity = true;
                for (size_t i = 0; i < p2.size(); ++i) {
                    if (p2[i] < 0 || p2[i] >= static_cast<int64_t>(p1.size())) return false;
                    q[i] = p1[static_cast<size_t>(p2[i])];
                    identity = identity && q[i] == static_cast<int64_t>(i);
                }
                node.inputs[0] = prev->inputs[0];
                node.provenance = mergeProvenance(g, {prev->id, node.id});
                g.removeNode(prev->id);
                node.attr("perm")->ints = q;
                if (identity) bypass(ctx, g, node); // else it stays as an identity Transpose
                return true;
            }
            auto perm = node.attrInts("perm");
            bool identity = !perm.empty();
            for (size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == static_cast<int64_t>(i);
            if (identity) return bypass(ctx, g, node);
            return false;
        }
        if (op == "Reshape" && node.inputs.size() >= 2) {
            const ir::Tensor* target = g.constantValue(node.inputs[1]);
            const ir::Value* in = g.findValue(node.inputs[0]);
            const ir::Value* out = g.findValue(node.outputs[0]);
            const auto inShape = in ? ir::concreteShape(in->shape) : std::nullopt;
            const auto outShape = out ? ir::concreteShape(out->shape) : std::nullopt;
            if (inShape && outShape && *inShape == *outShape) return bypass(ctx, g, node);
            if (prev && prev->opType == "Reshape" && prev->domain.empty() && target) {
                if (!prevSingleUse) {
                    ctx.skip(node, "the first Reshape of the pair has other readers");
                    return false;
                }
                const auto dims = target->toInt64s();
                for (int64_t d : dims)
                    if (d == 0 && node.attrInt("allowzero", 0) == 0) {
                        ctx.skip(node, "target shape copies a dim (0) from the intermediate tensor");
                        return false;
                    }
                node.inputs[0] = prev->inputs[0];
                node.provenance = mergeProvenance(g, {prev->id, node.id});
                g.removeNode(prev->id);
                return true;
            }
            return false;
        }
        if (op == "Cast") {
            const ir::Value* in = g.findValue(node.inputs[0]);
            const auto to = static_cast<DType>(node.attrInt("to", 0));
            if (in && in->hasType && in->dtype == to) return bypass(ctx, g, node);
            if (prev && prev->opType == "Cast" && prev->domain.empty()) {
                const ir::Value* src = g.findValue(prev->inputs[0]);
                const auto via = static_cast<DType>(prev->attrInt("to", 0));
                if (!src || !src->hasType) {
                    ctx.skip(node, "Cast chain: the source dtype is unknown");
                    return false;
                }
                if (!losslessVia(src->dtype, via)) {
                    ctx.skip(node, "Cast chain goes through " + std::string(ir::dtypeName(via)) + ", which changes " +
                                       std::string(ir::dtypeName(src->dtype)) + " values");
                    return false;
                }
                if (!prevSingleUse) {
                    ctx.skip(node, "the first Cast of the pair has other readers");
                    return false;
                }
                // x -> via (lossless) -> to  ==  x -> to
                node.inputs[0] = prev->inputs[0];
                node.provenance = mergeProvenance(g, {prev->id, node.id});
                g.removeNode(prev->id);
                if (src->dtype == to) bypass(ctx, g, node);
                return true;
            }
            return false;
        }
        return false;
    }
};

} // namespace

PassInfo chainSimplificationPass() {
    PassInfo info;
    info.name = "simplify-chains";
    info.description = "Cancel or merge Transpose/Reshape/Cast chains and remove no-op Transpose, Reshape and Cast";
    info.category = PassCategory::Cleanup;
    info.create = [] { return std::make_unique<ChainSimplification>(); };
    return info;
}

} // namespace opstudio::passes
