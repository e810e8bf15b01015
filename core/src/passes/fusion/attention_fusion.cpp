// Multi-head self-attention as exporters write it -> one com.microsoft Attention node:
//   q/k/v = x W{q,k,v} (+ b{q,k,v});  reshaped to [B, S, H, D] and transposed to heads
//   (q, v: perm 0,2,1,3; k: perm 0,2,3,1 = K^T);  s = (q k^T) / c  (or * c);
//   mask: Add of (1 - mask[B, T]) * filter (Unsqueeze/Cast chain) or Where(causal constant, fill, s);
//   p = Softmax(s);  ctx = p v, transposed back (0,2,1,3) and reshaped to [B, S, H*D].
// The node is ORT's contrib Attention: weights [hidden_in, 3*hidden] = Wq|Wk|Wv, bias [3*hidden],
// mask_index = the raw 0/1 mask as int32 [B, T] with mask_filter_value = filter, unidirectional = 1
// for the causal mask, scale = 1 / c. OpStudio runs it with its own kernel (runtime/kernels/fused.cpp).
// Not exact: softmax and the fused GEMMs sum in another order (budget kAttentionFusionMaxAbs).
#include "passes/fusion/fusion_util.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace opstudio::passes::fusion {

namespace {

struct Projection {
    std::string x, w, b;
    std::vector<ir::NodeId> nodes;
    int64_t heads = 0, headSize = 0;
};

struct AttentionMatch {
    Projection q, k, v;
    float scale = 1.f;
    bool causal = false;
    std::string maskSource; // 2-D [B, T] raw mask
    float maskFilter = -10000.f;
    std::vector<ir::NodeId> nodes;
    std::string out;
    ir::NodeId anchor = ir::kNoNode;
};

bool isPerm(const ir::Node* n, std::vector<int64_t> perm) { return n && n->attrInts("perm") == perm; }

ir::Node* prod(ir::Graph& g, const std::string& v, const std::string& op) {
    return v.empty() ? nullptr : producerIs(g, v, op);
}

bool singleUse(const ir::Graph& g, const std::string& v) { return useCount(g, v) == 1 && !isGraphOutput(g, v); }

/// transpose(reshape(x W + b, [B, S, H, D]), perm) -> Projection.
bool matchProjection(ir::Graph& g, const std::string& headsValue, const std::vector<int64_t>& perm, Projection& p,
                     std::string& why) {
    ir::Node* tr = prod(g, headsValue, "Transpose");
    if (!tr || !isPerm(tr, perm) || !singleUse(g, headsValue)) {
        why = "head transpose not found";
        return false;
    }
    ir::Node* rs = prod(g, tr->inputs[0], "Reshape");
    if (!rs || !singleUse(g, tr->inputs[0])) {
        why = "head reshape not found";
        return false;
    }
    const ir::Tensor* shape = g.constantValue(rs->inputs.at(1));
    if (!shape || shape->numel() != 4) {
        why = "head reshape shape is not a constant of 4 dims";
        return false;
    }
    const auto dims = shape->toInt64s();
    if (dims[2] <= 0 || dims[3] <= 0) {
        why = "head count and size are not explicit in the reshape";
        return false;
    }
    p.heads = dims[2];
    p.headSize = dims[3];
    p.nodes = {tr->id, rs->id};
    std::string proj = rs->inputs[0];
    if (ir::Node* add = prod(g, proj, "Add")) {
        for (int i = 0; i < 2 && p.b.empty(); ++i)
            if (constF32(g, add->inputs[i]) && prod(g, add->inputs[1 - i], "MatMul")) {
                p.b = add->inputs[i];
                if (!singleUse(g, proj)) break;
                p.nodes.push_back(add->id);
                proj = add->inputs[1 - i];
            }
        if (p.b.empty() || !singleUse(g, rs->inputs[0])) {
            why = "projection bias Add not recognized";
            return false;
        }
    }
    ir::Node* mm = prod(g, proj, "MatMul");
    if (!mm || !singleUse(g, proj)) {
        why = "projection MatMul not found";
        return false;
    }
    const ir::Tensor* w = constF32(g, mm->inputs[1]);
    if (!w || w->rank() != 2 || w->dim(1) != p.heads * p.headSize) {
        why = "projection weights are not a constant [hidden_in, heads*head_size] matrix";
        return false;
    }
    if (!p.b.empty() && constF32(g, p.b)->numel() != w->dim(1)) {
        why = "projection bias size differs from the projection width";
        return false;
    }
    p.x = mm->inputs[0];
    p.w = mm->inputs[1];
    p.nodes.push_back(mm->id);
    return true;
}

/// (1 - Cast(Unsqueeze(Unsqueeze(mask2d)))) * filter, in either operand order.
bool matchAdditiveMask(ir::Graph& g, const std::string& value, AttentionMatch& m, std::string& why) {
    why = "mask pattern not recognized (expected (1 - mask[B, T]) * filter broadcast to [B, 1, 1, T])";
    ir::Node* mul = prod(g, value, "Mul");
    if (!mul) return false;
    std::string subOut;
    std::optional<double> filter;
    for (int i = 0; i < 2 && !filter; ++i)
        if ((filter = scalarConst(g, mul->inputs[i]))) subOut = mul->inputs[1 - i];
    ir::Node* sub = prod(g, subOut, "Sub");
    if (!filter || !sub || !isScalar(g, sub->inputs[0], 1.0)) return false;
    // [B, 1, 1, T]: batch and sequence may be symbolic, the two broadcast dims must be known ones.
    const ir::Value* bv = g.findValue(sub->inputs[1]);
    if (!bv || !bv->shape || bv->shape->size() != 4 || (*bv->shape)[1].value != 1 || (*bv->shape)[2].value != 1)
        return false;
    std::string src = sub->inputs[1];
    for (int steps = 0; steps < 6; ++steps) {
        ir::Node* p = prod(g, src, "Unsqueeze");
        if (!p) p = prod(g, src, "Cast");
        if (!p) break;
        src = p->inputs[0];
    }
    const ir::Value* sv = g.findValue(src);
    if (!sv || !sv->shape || sv->shape->size() != 2 || src == sub->inputs[1]) return false;
    m.maskSource = src;
    m.maskFilter = static_cast<float>(*filter);
    why.clear();
    return true;
}

/// Where(cond, fill, s) with cond the constant causal pattern (true above the diagonal).
bool matchCausal(ir::Graph& g, const ir::Node& where, AttentionMatch& m, std::string& why) {
    why = "mask pattern not recognized (Where condition is not a constant causal mask with a large negative fill)";
    const ir::Tensor* cond = g.constantValue(where.inputs[0]);
    const auto fill = scalarConst(g, where.inputs[1]);
    if (!cond || cond->dtype() != ir::DType::Bool || cond->rank() < 2 || !fill || *fill > -1e4) return false;
    const int64_t s = cond->dim(-2), t = cond->dim(-1);
    if (cond->numel() != s * t || s != t) return false;
    const bool* c = cond->data<bool>();
    for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < t; ++j)
            if (c[i * t + j] != (j > i)) return false;
    m.causal = true;
    why.clear();
    return true;
}

std::optional<AttentionMatch> matchAt(ir::Graph& g, ir::Node& softmax, std::string& why) {
    AttentionMatch m;
    const int64_t axis = softmax.attrInt("axis", -1);
    if (axis != -1 && axis != 3) {
        why = "Softmax is not over the last axis";
        return std::nullopt;
    }
    // Forward: p v -> transpose -> reshape.
    ir::Node* pv = singleConsumer(g, softmax.outputs[0]);
    if (!pv || pv->opType != "MatMul" || pv->inputs[0] != softmax.outputs[0]) return std::nullopt; // not attention
    ir::Node* back = singleConsumer(g, pv->outputs[0]);
    if (!back || back->opType != "Transpose" || !isPerm(back, {0, 2, 1, 3})) {
        why = "context transpose (0,2,1,3) not found";
        return std::nullopt;
    }
    ir::Node* merge = singleConsumer(g, back->outputs[0]);
    if (!merge || merge->opType != "Reshape") {
        why = "context reshape not found";
        return std::nullopt;
    }
    const ir::Tensor* mshape = g.constantValue(merge->inputs.at(1));
    if (!mshape || mshape->numel() != 3) {
        why = "context reshape is not to [B, S, hidden]";
        return std::nullopt;
    }
    m.out = merge->outputs[0];
    m.nodes = {softmax.id, pv->id, back->id, merge->id};
    // Backward: mask, scale, q k^T.
    std::string s = softmax.inputs[0];
    if (ir::Node* where = prod(g, s, "Where")) {
        if (!singleUse(g, s) || !matchCausal(g, *where, m, why)) return std::nullopt;
        m.nodes.push_back(where->id);
        s = where->inputs[2];
    } else if (ir::Node* add = prod(g, s, "Add")) {
        if (!singleUse(g, s)) {
            why = "masked scores have other consumers";
            return std::nullopt;
        }
        // The scores side is the one coming from Div/Mul/MatMul of q k^T.
        int scoresSide = -1;
        for (int i = 0; i < 2; ++i)
            if (prod(g, add->inputs[i], "Div") || prod(g, add->inputs[i], "MatMul")) scoresSide = i;
        if (scoresSide < 0 || !matchAdditiveMask(g, add->inputs[1 - scoresSide], m, why)) {
            if (why.empty()) why = "mask pattern not recognized";
            return std::nullopt;
        }
        m.nodes.push_back(add->id);
        s = add->inputs[scoresSide];
    }
    if (ir::Node* div = prod(g, s, "Div")) {
        const auto c = scalarConst(g, div->inputs[1]);
        if (!c || *c == 0 || div->inputs[0].empty() || !singleUse(g, s)) {
            why = "score scaling is not a division by a constant";
            return std::nullopt;
        }
        m.scale = static_cast<float>(1.0 / *c);
        m.nodes.push_back(div->id);
        s = div->inputs[0];
    } else if (ir::Node* mul = prod(g, s, "Mul")) {
        std::optional<double> c;
        for (int i = 0; i < 2 && !c; ++i)
            if ((c = scalarConst(g, mul->inputs[i]))) s = mul->inputs[1 - i];
        if (!c || !singleUse(g, mul->outputs[0])) {
            why = "score scaling is not a multiplication by a constant";
            return std::nullopt;
        }
        m.scale = static_cast<float>(*c);
        m.nodes.push_back(mul->id);
    }
    ir::Node* qk = prod(g, s, "MatMul");
    if (!qk || !singleUse(g, s)) {
        why = "Q K^T MatMul not found";
        return std::nullopt;
    }
    m.nodes.push_back(qk->id);
    if (!matchProjection(g, qk->inputs[0], {0, 2, 1, 3}, m.q, why) ||
        !matchProjection(g, qk->inputs[1], {0, 2, 3, 1}, m.k, why) ||
        !matchProjection(g, pv->inputs[1], {0, 2, 1, 3}, m.v, why)) {
        why = "Q/K/V projection: " + why;
        return std::nullopt;
    }
    if (m.q.x != m.k.x || m.q.x != m.v.x) {
        why = "Q, K and V are not projections of the same input (cross-attention is not fused)";
        return std::nullopt;
    }
    if (m.q.heads != m.k.heads || m.q.heads != m.v.heads || m.q.headSize != m.k.headSize ||
        m.q.headSize != m.v.headSize) {
        why = "Q, K and V have different head shapes";
        return std::nullopt;
    }
    if (m.q.b.empty() != m.k.b.empty() || m.q.b.empty() != m.v.b.empty()) {
        why = "only some of Q, K, V have a bias";
        return std::nullopt;
    }
    for (const Projection* p : {&m.q, &m.k, &m.v}) m.nodes.insert(m.nodes.end(), p->nodes.begin(), p->nodes.end());
    m.anchor = m.q.nodes.back(); // the Q MatMul: x is available there
    return m;
}

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
            const auto m = matchAt(g, *sm, why);
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
    static void rewrite(ir::Model& model, const AttentionMatch& m) {
        ir::Graph& g = *model.graph;
        const ir::Tensor& wq = *constF32(g, m.q.w);
        const ir::Tensor& wk = *constF32(g, m.k.w);
        const ir::Tensor& wv = *constF32(g, m.v.w);
        const int64_t in = wq.dim(0), h = wq.dim(1);
        // weights = [Wq | Wk | Wv] column blocks; bias = [bq, bk, bv].
        ir::Tensor w(ir::DType::F32, {in, 3 * h});
        float* wd = w.data<float>();
        const float* srcs[3] = {wq.data<float>(), wk.data<float>(), wv.data<float>()};
        for (int64_t r = 0; r < in; ++r)
            for (int j = 0; j < 3; ++j) std::copy(srcs[j] + r * h, srcs[j] + (r + 1) * h, wd + r * 3 * h + j * h);
        std::vector<float> bias(static_cast<size_t>(3 * h), 0.f);
        const std::string* biases[3] = {&m.q.b, &m.k.b, &m.v.b};
        for (int j = 0; j < 3; ++j)
            if (!biases[j]->empty()) {
                const float* b = constF32(g, *biases[j])->data<float>();
                std::copy(b, b + h, bias.begin() + j * h);
            }
        ir::Node* anchor = g.node(m.anchor);
        const std::string base = anchor->name;
        ir::Node att;
        att.name = uniqueName(g, base + "_Attention");
        att.opType = "Attention";
        att.domain = kMsDomain;
        att.inputs = {m.q.x, addInitializer(g, base + "_qkv_weight", std::move(w)),
                      addInitializer(g, base + "_qkv_bias", f32Tensor({3 * h}, bias))};
        if (!m.maskSource.empty()) att.inputs.push_back(maskIndex(g, m.maskSource));
        att.outputs = {m.out};
        att.attributes = {intAttr("num_heads", m.q.heads), floatAttr("scale", m.scale)};
        if (m.causal) att.attributes.push_back(intAttr("unidirectional", 1));
        if (!m.maskSource.empty()) att.attributes.push_back(floatAttr("mask_filter_value", m.maskFilter));
        att.provenance = mergeProvenance(g, m.nodes);
        for (ir::NodeId id : m.nodes) g.removeNode(id);
        g.addNode(std::move(att));
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
            for (ir::NodeId id : dead) g.removeNode(id);
            again = !dead.empty();
            g.rebuildIndex();
        }
    }
};

} // namespace

PassInfo attentionFusionPass() {
    PassInfo info;
    info.name = "fuse-attention";
    info.description = "Fuse multi-head self-attention (QKV MatMuls, heads, scaled masked Softmax) into com.microsoft Attention";
    info.category = PassCategory::Fusion;
    info.exact = false; // softmax / GEMM summation order: within kAttentionFusionMaxAbs
    info.create = [] { return std::make_unique<AttentionFusion>(); };
    return info;
}

} // namespace opstudio::passes::fusion
