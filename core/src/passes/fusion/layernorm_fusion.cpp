// The decomposed LayerNorm exporters write (BERT at opset 13 and friends) -> LayerNormalization:
//   mu = ReduceMean(x, -1); d = x - mu; v = ReduceMean(d^2, -1)      (d^2 as Pow(d, 2) or Mul(d, d))
//   n = d / Sqrt(v + eps)  or  d * Reciprocal(Sqrt(v + eps));  y = n * gamma + beta   (gamma, beta optional)
// Standard LayerNormalization exists from opset 17, and ONNX Runtime has no com.microsoft
// LayerNormalization ("is not a registered function/op"). Below 17 the default-domain import is
// raised to 17 when every other node keeps its meaning (opset_raise.cpp); otherwise every candidate
// is skipped with the node that blocks the raise. The written model is always valid at its opsets.
#include "passes/fusion/fusion_util.h"

#include <algorithm>
#include <set>

namespace opstudio::passes::fusion {

namespace {

struct Match {
    ir::NodeId last = ir::kNoNode;
    std::string x, gamma, beta, out;
    float eps = 1e-5f;
    std::vector<ir::NodeId> nodes;
};

/// Tries the pattern with `rm` as the first ReduceMean. Returns the reason when it does not match
/// in a way worth reporting (empty `why` = not a LayerNorm candidate at all).
std::optional<Match> matchAt(const ir::Model& model, ir::Node& rm, std::string& why) {
    ir::Graph& g = *model.graph;
    Match mt;
    mt.x = rm.inputs.at(0);
    auto single = [&](const std::string& v) -> ir::Node* {
        ir::Node* c = singleConsumer(g, v);
        return c && c->domain.empty() ? c : nullptr;
    };
    ir::Node* sub = single(rm.outputs[0]);
    if (!sub || sub->opType != "Sub" || sub->inputs[0] != mt.x || sub->inputs[1] != rm.outputs[0]) return std::nullopt;
    if (!reducesLastAxisKeepDims(model, rm, mt.x)) {
        why = "ReduceMean does not reduce only the last axis with keepdims=1";
        return std::nullopt;
    }
    // d feeds the square and the division.
    const std::string d = sub->outputs[0];
    const auto users = [&] {
        std::vector<ir::Node*> u;
        g.forEachNode([&](ir::Node& n) {
            if (std::find(n.inputs.begin(), n.inputs.end(), d) != n.inputs.end()) u.push_back(&n);
        });
        return u;
    }();
    if (isGraphOutput(g, d) || users.size() != 2) {
        why = "x - mean has other consumers";
        return std::nullopt;
    }
    ir::Node* sq = nullptr;
    ir::Node* div = nullptr;
    for (ir::Node* u : users) {
        if ((u->opType == "Pow" && u->inputs[0] == d && isScalar(g, u->inputs[1], 2.0)) ||
            (u->opType == "Mul" && u->inputs[0] == d && u->inputs[1] == d))
            sq = u;
        else if (u->opType == "Div" || u->opType == "Mul")
            div = u;
    }
    if (!sq || !div) {
        why = "variance pattern not recognized (expected Pow(x - mean, 2) and a division)";
        return std::nullopt;
    }
    ir::Node* rm2 = single(sq->outputs[0]);
    if (!rm2 || rm2->opType != "ReduceMean" || !reducesLastAxisKeepDims(model, *rm2, mt.x)) {
        why = "variance is not a last-axis ReduceMean";
        return std::nullopt;
    }
    ir::Node* addEps = single(rm2->outputs[0]);
    std::optional<std::string> epsName = addEps && addEps->opType == "Add" ? otherInput(*addEps, rm2->outputs[0]) : std::nullopt;
    const auto eps = epsName ? scalarConst(g, *epsName) : std::nullopt;
    if (!eps) {
        why = "epsilon Add not found or not a constant scalar";
        return std::nullopt;
    }
    mt.eps = static_cast<float>(*eps);
    ir::Node* sqrtN = single(addEps->outputs[0]);
    if (!sqrtN || sqrtN->opType != "Sqrt") {
        why = "Sqrt of the variance not found";
        return std::nullopt;
    }
    mt.nodes = {rm.id, sub->id, sq->id, rm2->id, addEps->id, sqrtN->id};
    std::string denom = sqrtN->outputs[0];
    if (div->opType == "Mul") { // d * Reciprocal(Sqrt(...))
        ir::Node* rec = single(denom);
        if (!rec || rec->opType != "Reciprocal" || otherInput(*div, d) != rec->outputs[0]) {
            why = "normalization is neither d / sqrt(v + eps) nor d * reciprocal(sqrt(v + eps))";
            return std::nullopt;
        }
        mt.nodes.push_back(rec->id);
    } else if (div->inputs[0] != d || div->inputs[1] != denom || single(denom) != div) {
        why = "normalization is not (x - mean) / sqrt(var + eps)";
        return std::nullopt;
    }
    mt.nodes.push_back(div->id);
    std::string cur = div->outputs[0];
    mt.last = div->id;
    // Optional affine part.
    const ir::Value* xv = g.findValue(mt.x);
    const int64_t h = xv && xv->shape && !xv->shape->empty() && xv->shape->back().known() ? xv->shape->back().value : -1;
    auto affine = [&](const std::string& op) -> std::string {
        ir::Node* n = single(cur);
        if (!n || n->opType != op) return {};
        const auto other = otherInput(*n, cur);
        const ir::Tensor* c = other ? constF32(g, *other) : nullptr;
        if (!c || c->rank() < 1 || (h >= 0 && c->dim(-1) != h) || c->numel() != c->dim(-1)) return {};
        mt.nodes.push_back(n->id);
        mt.last = n->id;
        cur = n->outputs[0];
        return *other;
    };
    mt.gamma = affine("Mul");
    mt.beta = affine("Add");
    mt.out = cur;
    if (mt.gamma.empty() && h < 0) {
        why = "no scale and the hidden size is unknown";
        return std::nullopt;
    }
    return mt;
}

class LayerNormFusion final : public Pass {
public:
    void run(PassContext& ctx) override {
        ir::Model& model = ctx.model;
        ir::Graph& g = *model.graph;
        const std::string policy = ctx.params.getString("form");
        std::vector<Match> matches;
        std::set<ir::NodeId> taken;
        for (ir::NodeId id : g.order()) {
            ir::Node* n = g.node(id);
            if (!n || n->opType != "ReduceMean" || !n->domain.empty() || taken.count(id)) continue;
            std::string why;
            auto mt = matchAt(model, *n, why);
            if (!mt) {
                if (!why.empty()) ctx.skip(*n, why);
                continue;
            }
            taken.insert(mt->nodes.begin(), mt->nodes.end());
            matches.push_back(*mt);
        }
        if (matches.empty()) return;

        // Decide once for the model: LayerNormalization needs opset 17.
        const int64_t opset = onnxOpset(model);
        if (opset < 17) {
            std::string why;
            if (policy == "keep-opset") {
                why = "LayerNormalization needs opset 17 and the model is at opset " + std::to_string(opset) +
                      " (form=keep-opset: the opset is not raised)";
            } else if (const auto blocker = opsetRaiseBlocker(model, 17)) {
                why = "LayerNormalization needs opset 17; raising opset " + std::to_string(opset) +
                      " would change a node: " + *blocker;
            }
            if (!why.empty()) {
                for (const Match& mt : matches) ctx.skip(*g.node(mt.nodes.front()), why);
                return;
            }
            raiseOpset(model, 17);
            ctx.report.notes.push_back("default-domain opset raised from " + std::to_string(opset) +
                                       " to 17 for standard LayerNormalization (every node keeps its meaning)");
        }

        for (const Match& mt : matches) {
            ir::Node* last = g.node(mt.last);
            std::string gamma = mt.gamma, beta = mt.beta;
            int64_t h = -1;
            if (!gamma.empty()) h = g.constantValue(gamma)->dim(-1);
            else {
                h = g.findValue(mt.x)->shape->back().value;
                gamma = addInitializer(g, last->name + "_ln_scale", f32Tensor({h}, std::vector<float>(h, 1.f)));
            }
            auto flat = [&](std::string& name) {
                const ir::Tensor* t = g.constantValue(name);
                if (t && t->rank() != 1) name = addInitializer(g, name + "_1d", t->reshaped({t->dim(-1)}));
            };
            flat(gamma);
            if (!beta.empty()) flat(beta);
            ir::Node ln;
            ln.name = uniqueName(g, last->name + "_LayerNormalization");
            ln.opType = "LayerNormalization";
            ln.inputs = {mt.x, gamma};
            if (!beta.empty()) ln.inputs.push_back(beta);
            ln.outputs = {mt.out};
            ln.attributes = {intAttr("axis", -1), floatAttr("epsilon", mt.eps)};
            ln.provenance = mergeProvenance(g, mt.nodes);
            for (ir::NodeId id : mt.nodes) g.removeNode(id);
            g.addNode(std::move(ln));
            ++ctx.report.applied;
        }
        finishRewrite(g);
    }
};

} // namespace

PassInfo layerNormFusionPass() {
    PassInfo info;
    info.name = "fuse-layernorm";
    info.description = "Fuse the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div(/Mul/Add) LayerNorm pattern into LayerNormalization";
    info.category = PassCategory::Fusion;
    info.exact = true;
    ParamSpec form;
    form.name = "form";
    form.type = ParamSpec::Type::Enum;
    form.description = "Below opset 17: raise the opset to 17 when every node keeps its meaning (else skip), or never raise (skip)";
    form.choices = {"raise-opset", "keep-opset"};
    form.defaultValue = std::string("raise-opset");
    info.params = {form};
    info.create = [] { return std::make_unique<LayerNormFusion>(); };
    return info;
}

} // namespace opstudio::passes::fusion
