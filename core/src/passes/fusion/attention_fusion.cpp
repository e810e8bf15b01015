// Multi-head self-attention -> one com.microsoft Attention node (the forms recognized are listed in
// attention_match.cpp: separate or packed QKV projections cut by Split/Slice, batch-first modules and
// torch.nn.MultiheadAttention's sequence-first graph, causal masks by Where or an added triangular
// constant, padding masks (1 - mask) * filter, scale on the scores or on q and k).
// The node is ORT's contrib Attention: weights [hidden_in, 3*hidden] = Wq|Wk|Wv, bias [3*hidden],
// mask_index = the raw 0/1 mask as int32 [B, T] with mask_filter_value = filter, unidirectional = 1
// for the causal mask, scale = the product of the score scalings. OpStudio runs it with its own kernel
// (runtime/kernels/fused.cpp). Not exact: softmax and the fused GEMMs sum in another order (budget
// kAttentionFusionMaxAbs).
#include "passes/fusion/attention_match.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace opstudio::passes::fusion {

namespace {

using attention::Match;

class AttentionFusion final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Model& model = ctx.model;
        ir::Graph& g = *model.graph;
        if (model.opsetFor(kMsDomain) > 1) {
            ctx.report.notes.push_back("the model imports com.microsoft at version " +
                                       std::to_string(model.opsetFor(kMsDomain)) + ": attention not fused");
            return;
        }
        const std::vector<ir::NodeId> order = g.order();
        for (ir::NodeId id : order) {
            ir::Node* sm = g.node(id);
            if (!sm || sm->opType != "Softmax" || !sm->domain.empty()) continue;
            std::string why;
            const auto m = attention::matchAt(g, *sm, onnxOpset(model), why);
            if (!m) {
                if (!why.empty()) ctx.skip(*sm, why);
                continue;
            }
            rewrite(model, *m);
            ++ctx.report.applied;
        }
        finishRewrite(g);
    }

private:
    static void rewrite(ir::Model& model, const Match& m) {
        ir::Graph& g = *model.graph;
        const int64_t in = m.q.w.dim(0), h = m.q.w.dim(1);
        // weights = [Wq | Wk | Wv] column blocks; bias = [bq, bk, bv].
        ir::Tensor w(ir::DType::F32, {in, 3 * h});
        float* wd = w.data<float>();
        const float* srcs[3] = {m.q.w.data<float>(), m.k.w.data<float>(), m.v.w.data<float>()};
        for (int64_t r = 0; r < in; ++r)
            for (int j = 0; j < 3; ++j)
                std::copy(srcs[j] + r * h, srcs[j] + (r + 1) * h, wd + r * 3 * h + j * h);
        std::vector<float> bias(static_cast<size_t>(3 * h), 0.f);
        const std::vector<float>* biases[3] = {&m.q.b, &m.k.b, &m.v.b};
        for (int j = 0; j < 3; ++j)
            if (!biases[j]->empty()) std::copy(biases[j]->begin(), biases[j]->end(), bias.begin() + j * h);
        const std::string base = g.node(m.anchor)->name;
        ir::Node att;
        att.name = uniqueName(g, base + "_Attention");
        att.opType = "Attention";
        att.domain = kMsDomain;
        att.inputs = {m.x, addInitializer(g, base + "_qkv_weight", std::move(w)),
                      addInitializer(g, base + "_qkv_bias", f32Tensor({3 * h}, bias))};
        if (!m.maskSource.empty()) att.inputs.push_back(maskIndex(g, m.maskSource));
        att.outputs = {m.outW ? uniqueName(g, base + "_context") : m.out};
        att.attributes = {intAttr("num_heads", m.q.heads), floatAttr("scale", m.scale)};
        if (m.causal) att.attributes.push_back(intAttr("unidirectional", 1));
        if (!m.maskSource.empty()) att.attributes.push_back(floatAttr("mask_filter_value", m.maskFilter));
        const std::vector<ir::NodeId> provenance = mergeProvenance(g, m.nodes);
        att.provenance = provenance;
        std::vector<ir::Node> added;
        if (m.outW) { // sequence-first exports: the output projection, now batch-first
            ir::Node mm;
            mm.name = uniqueName(g, base + "_out_proj");
            mm.opType = "MatMul";
            mm.inputs = {att.outputs[0], addInitializer(g, base + "_out_proj_weight", *m.outW)};
            mm.outputs = {m.outB.empty() ? m.out : uniqueName(g, base + "_out_proj_matmul")};
            mm.provenance = provenance;
            added.push_back(std::move(mm));
            if (!m.outB.empty()) {
                ir::Node add;
                add.name = uniqueName(g, base + "_out_proj_bias");
                add.opType = "Add";
                add.inputs = {added.back().outputs[0],
                              addInitializer(g, base + "_out_proj_b",
                                             f32Tensor({static_cast<int64_t>(m.outB.size())}, m.outB))};
                add.outputs = {m.out};
                add.provenance = provenance;
                added.push_back(std::move(add));
            }
        }
        for (ir::NodeId id : m.nodes)
            g.removeNode(id);
        g.addNode(std::move(att));
        for (auto& n : added)
            g.addNode(std::move(n));
        ensureMsDomain(model);
        g.rebuildIndex();
        g.topologicalSort();
        removeDeadMaskChains(g);
    }

    /// The 2-D mask as int32 (what ORT's Attention takes as mask_index); one Cast shared by all layers.
    static std::string maskIndex(ir::Graph& g, const std::string& source) {
        const ir::Value* v = g.findValue(source);
        if (v && v->dtype == ir::DType::I32) return source;
        std::string found;
        g.forEachNode([&](const ir::Node& n) {
            if (n.opType == "Cast" && n.domain.empty() && n.inputs[0] == source && n.attrInt("to", 0) == 6)
                found = n.outputs[0];
        });
        if (!found.empty()) return found;
        ir::Node cast;
        cast.name = uniqueName(g, source + "_mask_index");
        cast.opType = "Cast";
        cast.inputs = {source};
        cast.outputs = {uniqueName(g, source + "_int32")};
        cast.attributes = {intAttr("to", 6)};
        const std::string out = cast.outputs[0];
        g.addNode(std::move(cast));
        g.rebuildIndex();
        return out;
    }

    /// Unsqueeze/Cast/Sub/Mul nodes of the old mask nobody reads any more.
    static void removeDeadMaskChains(ir::Graph& g) {
        for (bool again = true; again;) {
            again = false;
            std::vector<ir::NodeId> dead;
            g.forEachNode([&](const ir::Node& n) {
                static const std::set<std::string> kMaskOps = {"Unsqueeze", "Cast", "Sub", "Mul", "Constant"};
                if (!n.domain.empty() || !kMaskOps.count(n.opType) || n.outputs.size() != 1) return;
                if (useCount(g, n.outputs[0]) == 0 && !isGraphOutput(g, n.outputs[0])) dead.push_back(n.id);
            });
            for (ir::NodeId id : dead)
                g.removeNode(id);
            again = !dead.empty();
            g.rebuildIndex();
        }
    }
};

} // namespace

PassInfo attentionFusionPass() {
    PassInfo info;
    info.name = "fuse-attention";
    info.description = "Fuse multi-head self-attention (QKV MatMuls, heads, scaled masked Softmax) into "
                       "com.microsoft Attention";
    info.category = PassCategory::Fusion;
    info.exact = false; // softmax / GEMM summation order: within kAttentionFusionMaxAbs
    info.create = [] { return std::make_unique<AttentionFusion>(); };
    return info;
}

} // namespace opstudio::passes::fusion
