// RMSNorm as LLaMA-style exporters write it, after a residual Add -> com.microsoft
// SkipSimplifiedLayerNormalization (what ONNX Runtime and ORT GenAI use):
//   ms = ReduceMean(x², last axis, keepdims)      (x² as Pow(x, 2) or Mul(x, x))
//   r  = 1 / Sqrt(ms + eps)  (Div(1, ·) or Reciprocal);  n = x * r   — or n = x / Sqrt(ms + eps)
//   y  = n * gamma   (optional)
// x = Add(a, b) of two activations: SkipSimplifiedLayerNormalization(a, b, gamma), the sum as its fourth
// output when the residual stream reads it further. An RMSNorm with no residual Add before it is skipped:
// its fused form exists only as an ONNX Runtime extension of the default domain, not valid ONNX.
#include "passes/fusion/fusion_util.h"

#include <algorithm>
#include <set>

namespace opstudio::passes::fusion {

namespace {

struct Match {
    std::string x, gamma, out;
    float eps = 1e-6f;
    std::vector<ir::NodeId> nodes;
    ir::NodeId last = ir::kNoNode;
};

/// `sq` is a Pow(x, 2) / Mul(x, x) candidate. Empty `why` = not an RMSNorm candidate at all.
std::optional<Match> matchAt(const ir::Model& model, ir::Node& sq, std::string& why) {
    ir::Graph& g = *model.graph;
    Match mt;
    mt.x = sq.inputs.at(0);
    const bool isSquare = (sq.opType == "Pow" && sq.inputs.size() == 2 && isScalar(g, sq.inputs[1], 2.0)) ||
                          (sq.opType == "Mul" && sq.inputs.size() == 2 && sq.inputs[1] == mt.x);
    if (!isSquare) return std::nullopt;
    auto single = [&](const std::string& v) -> ir::Node* {
        ir::Node* c = singleConsumer(g, v);
        return c && c->domain.empty() ? c : nullptr;
    };
    ir::Node* rm = single(sq.outputs[0]);
    if (!rm || rm->opType != "ReduceMean") return std::nullopt;
    if (!reducesLastAxisKeepDims(model, *rm, mt.x)) {
        why = "ReduceMean of x² does not reduce only the last axis with keepdims=1";
        return std::nullopt;
    }
    ir::Node* addEps = single(rm->outputs[0]);
    const auto epsName = addEps && addEps->opType == "Add" ? otherInput(*addEps, rm->outputs[0]) : std::nullopt;
    const auto eps = epsName ? scalarConst(g, *epsName) : std::nullopt;
    if (!eps) {
        why = "epsilon Add after mean(x²) not found or not a constant scalar";
        return std::nullopt;
    }
    mt.eps = static_cast<float>(*eps);
    ir::Node* sqrtN = single(addEps->outputs[0]);
    if (!sqrtN || sqrtN->opType != "Sqrt") {
        why = "Sqrt of mean(x²) + eps not found";
        return std::nullopt;
    }
    mt.nodes = {sq.id, rm->id, addEps->id, sqrtN->id};
    ir::Node* next = single(sqrtN->outputs[0]);
    std::string cur;
    if (next && next->opType == "Div" && next->inputs[0] == mt.x && next->inputs[1] == sqrtN->outputs[0]) {
        mt.nodes.push_back(next->id); // x / sqrt(ms + eps)
        cur = next->outputs[0];
    } else {
        std::string inv;
        if (next && next->opType == "Reciprocal") {
            inv = next->outputs[0];
        } else if (next && next->opType == "Div" && next->inputs[1] == sqrtN->outputs[0] &&
                   isScalar(g, next->inputs[0], 1.0)) {
            inv = next->outputs[0];
        } else {
            why = "normalization is neither x / sqrt(mean(x²) + eps) nor x * (1 / sqrt(mean(x²) + eps))";
            return std::nullopt;
        }
        mt.nodes.push_back(next->id);
        ir::Node* mul = single(inv);
        if (!mul || mul->opType != "Mul" || otherInput(*mul, inv) != mt.x) {
            why = "the reciprocal RMS does not multiply x";
            return std::nullopt;
        }
        mt.nodes.push_back(mul->id);
        cur = mul->outputs[0];
    }
    mt.last = mt.nodes.back();
    const ir::Value* xv = g.findValue(mt.x);
    const int64_t h = xv && xv->shape && !xv->shape->empty() && xv->shape->back().known() ? xv->shape->back().value : -1;
    if (ir::Node* mul = single(cur); mul && mul->opType == "Mul") {
        const auto other = otherInput(*mul, cur);
        const ir::Tensor* c = other ? constF32(g, *other) : nullptr;
        if (c && c->rank() >= 1 && c->numel() == c->dim(-1) && (h < 0 || c->dim(-1) == h)) {
            mt.gamma = *other;
            mt.nodes.push_back(mul->id);
            mt.last = mul->id;
            cur = mul->outputs[0];
        }
    }
    mt.out = cur;
    if (mt.gamma.empty() && h < 0) {
        why = "no scale and the hidden size is unknown";
        return std::nullopt;
    }
    // Every intermediate is private to the pattern.
    for (size_t i = 0; i + 1 < mt.nodes.size(); ++i)
        for (const std::string& o : g.node(mt.nodes[i])->outputs)
            if (isGraphOutput(g, o)) {
                why = "an intermediate of the RMSNorm is a graph output";
                return std::nullopt;
            }
    return mt;
}

/// The residual Add(a, b) of two activations that produces x, or nullptr with `why`.
ir::Node* residualAdd(ir::Graph& g, const std::string& x, std::string& why) {
    ir::Node* add = producerIs(g, x, "Add");
    if (!add || constF32(g, add->inputs[0]) || constF32(g, add->inputs[1])) {
        // ONNX Runtime knows the plain form only as SimplifiedLayerNormalization in the default domain (its
        // contrib schema), which is not an ONNX operator: the file would not be valid.
        why = "RMSNorm without a residual Add before it: its fused form (SimplifiedLayerNormalization) exists "
              "only as an ONNX Runtime extension of the default domain, not as a valid ONNX or com.microsoft op";
        return nullptr;
    }
    // Exporters often leave the residual stream's shapes unknown after attention; known ones must agree.
    const ir::Value* va = g.findValue(add->inputs[0]);
    const ir::Value* vb = g.findValue(add->inputs[1]);
    if (va && vb && va->shape && vb->shape && va->shape->size() != vb->shape->size()) {
        why = "residual Add of ranks " + std::to_string(va->shape->size()) + " and " +
              std::to_string(vb->shape->size()) + " (broadcast) cannot join the RMSNorm";
        return nullptr;
    }
    return add;
}

class RmsNormFusion final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Model& model = ctx.model;
        ir::Graph& g = *model.graph;
        g.rebuildIndex();
        if (model.opsetFor(kMsDomain) > 1) {
            ctx.report.notes.push_back("pass does not apply: the model imports com.microsoft at version " +
                                       std::to_string(model.opsetFor(kMsDomain)));
            return;
        }
        std::vector<Match> matches;
        std::set<ir::NodeId> taken;
        for (ir::NodeId id : g.order()) {
            ir::Node* n = g.node(id);
            if (!n || !n->domain.empty() || (n->opType != "Pow" && n->opType != "Mul") || taken.count(id)) continue;
            std::string why;
            auto mt = matchAt(model, *n, why);
            if (!mt) {
                if (!why.empty()) ctx.skip(*n, why);
                continue;
            }
            taken.insert(mt->nodes.begin(), mt->nodes.end());
            matches.push_back(*mt);
        }
        for (const Match& mt : matches) {
            std::string why;
            ir::Node* add = residualAdd(g, mt.x, why);
            if (!add) {
                ctx.skip(*g.node(mt.nodes.front()), why);
                continue;
            }
            ir::Node* last = g.node(mt.last);
            std::string gamma = mt.gamma;
            if (gamma.empty()) {
                const int64_t h = g.findValue(mt.x)->shape->back().value;
                gamma = addInitializer(g, last->name + "_rms_scale", f32Tensor({h}, std::vector<float>(h, 1.f)));
            } else if (const ir::Tensor* t = g.constantValue(gamma); t && t->rank() != 1) {
                gamma = addInitializer(g, gamma + "_1d", t->reshaped({t->dim(-1)}));
            }
            const std::string sum = add->outputs[0];
            int outsideUses = 0;
            for (ir::NodeId c : g.findValue(sum)->consumers)
                if (std::find(mt.nodes.begin(), mt.nodes.end(), c) == mt.nodes.end()) ++outsideUses;
            ir::Node fused;
            fused.name = uniqueName(g, last->name + "_SkipSimplifiedLayerNormalization");
            fused.opType = "SkipSimplifiedLayerNormalization";
            fused.domain = kMsDomain;
            fused.inputs = {add->inputs[0], add->inputs[1], gamma};
            fused.outputs = {mt.out};
            if (outsideUses > 0 || isGraphOutput(g, sum)) fused.outputs = {mt.out, "", "", sum};
            fused.attributes = {floatAttr("epsilon", mt.eps)};
            std::vector<ir::NodeId> replaced = mt.nodes;
            replaced.push_back(add->id);
            fused.provenance = mergeProvenance(g, replaced);
            for (ir::NodeId id : replaced) g.removeNode(id);
            g.addNode(std::move(fused));
            g.rebuildIndex();
            ++ctx.report.applied;
        }
        if (ctx.report.applied == 0) return;
        ensureMsDomain(model);
        finishRewrite(g);
    }
};

} // namespace

PassInfo rmsNormFusionPass() {
    PassInfo info;
    info.name = "fuse-rmsnorm";
    info.description = "Fuse a residual Add + the Pow/ReduceMean/Add/Sqrt/Div/Mul(/Mul) RMSNorm pattern into "
                       "com.microsoft SkipSimplifiedLayerNormalization";
    info.category = PassCategory::Fusion;
    info.exact = true;
    info.create = [] { return std::make_unique<RmsNormFusion>(); };
    return info;
}

} // namespace opstudio::passes::fusion
