// GELU patterns -> com.microsoft Gelu / FastGelu / BiasGelu.
//   erf form:  0.5 * x * (1 + erf(x / sqrt(2)))                     -> Gelu (exact)
//   tanh form: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) -> FastGelu (same formula)
// in the orderings exporters write: x / sqrt2 or x * (1/sqrt2); (x * t) * 0.5 or (0.5 * x) * t;
// x^3 as Pow(x, 3), x * (x * x) or (x * x) * x. With `bias`, an Add of a constant vector before the
// GELU joins it: BiasGelu(A, bias) for the erf form, FastGelu(A, bias) for the tanh form.
#include "passes/fusion/fusion_util.h"

#include <algorithm>
#include <cmath>

namespace opstudio::passes::fusion {

namespace {

struct GeluMatch {
    std::string x, out;
    std::vector<ir::NodeId> nodes;
};

ir::Node* sole(ir::Graph& g, const std::string& v, const std::string& op) {
    ir::Node* c = singleConsumer(g, v);
    return c && c->opType == op && c->domain.empty() ? c : nullptr;
}

/// The tail shared by both forms: t -> Add(1) -> Mul(x) -> Mul(0.5), or -> Mul(0.5 * x).
bool matchTail(ir::Graph& g, const std::string& t, GeluMatch& m, std::string& why) {
    ir::Node* add1 = sole(g, t, "Add");
    const auto one = add1 ? otherInput(*add1, t) : std::nullopt;
    if (!one || !isScalar(g, *one, 1.0)) {
        why = "1 + erf/tanh(...) not found";
        return false;
    }
    ir::Node* mul = sole(g, add1->outputs[0], "Mul");
    const auto o = mul ? otherInput(*mul, add1->outputs[0]) : std::nullopt;
    if (!o) {
        why = "x * (1 + ...) not found";
        return false;
    }
    m.nodes.push_back(add1->id);
    m.nodes.push_back(mul->id);
    if (*o == m.x) { // (x * (1 + t)) * 0.5
        ir::Node* half = sole(g, mul->outputs[0], "Mul");
        const auto h = half ? otherInput(*half, mul->outputs[0]) : std::nullopt;
        if (!h || !isScalar(g, *h, 0.5)) {
            why = "the final * 0.5 not found";
            return false;
        }
        m.nodes.push_back(half->id);
        m.out = half->outputs[0];
        return true;
    }
    // (0.5 * x) * (1 + t)
    ir::Node* halfX = producerIs(g, *o, "Mul");
    const auto h = halfX ? otherInput(*halfX, m.x) : std::nullopt;
    if (!h || !isScalar(g, *h, 0.5) || useCount(g, *o) != 1) {
        why = "neither x * (1 + t) * 0.5 nor 0.5 * x * (1 + t)";
        return false;
    }
    m.nodes.push_back(halfX->id);
    m.out = mul->outputs[0];
    return true;
}

std::optional<GeluMatch> matchErf(ir::Graph& g, ir::Node& erf, std::string& why) {
    GeluMatch m;
    ir::Value* in = g.findValue(erf.inputs[0]);
    ir::Node* scale = in && in->producer != ir::kNoNode ? g.node(in->producer) : nullptr;
    if (!scale || !scale->domain.empty() || scale->inputs.size() != 2 || useCount(g, erf.inputs[0]) != 1) {
        why = "erf input is not x / sqrt(2)";
        return std::nullopt;
    }
    if (scale->opType == "Div" && isScalar(g, scale->inputs[1], std::sqrt(2.0))) m.x = scale->inputs[0];
    else if (scale->opType == "Mul" && isScalar(g, scale->inputs[1], std::sqrt(0.5))) m.x = scale->inputs[0];
    else if (scale->opType == "Mul" && isScalar(g, scale->inputs[0], std::sqrt(0.5))) m.x = scale->inputs[1];
    else {
        why = "erf input is not x / sqrt(2)";
        return std::nullopt;
    }
    m.nodes = {scale->id, erf.id};
    if (!matchTail(g, erf.outputs[0], m, why)) return std::nullopt;
    return m;
}

/// x^3 as Pow(x, 3), x * (x * x) or (x * x) * x; returns the nodes.
bool matchCube(ir::Graph& g, const std::string& cube, const std::string& x, std::vector<ir::NodeId>& nodes) {
    ir::Node* p = producerIs(g, cube, "Pow");
    if (p) {
        if (p->inputs[0] != x || !isScalar(g, p->inputs[1], 3.0)) return false;
        nodes.push_back(p->id);
        return true;
    }
    ir::Node* m = producerIs(g, cube, "Mul");
    if (!m) return false;
    const auto sq = otherInput(*m, x);
    ir::Node* s = sq ? producerIs(g, *sq, "Mul") : nullptr;
    if (!s || s->inputs[0] != x || s->inputs[1] != x || useCount(g, *sq) != 1) return false;
    nodes.push_back(m->id);
    nodes.push_back(s->id);
    return true;
}

std::optional<GeluMatch> matchTanh(ir::Graph& g, ir::Node& tanh, std::string& why) {
    GeluMatch m;
    why = "tanh input is not sqrt(2/pi) * (x + 0.044715 x^3)";
    ir::Node* scale = producerIs(g, tanh.inputs[0], "Mul");
    if (!scale || useCount(g, tanh.inputs[0]) != 1) return std::nullopt;
    std::string inner;
    const double c = std::sqrt(2.0 / 3.14159265358979323846);
    if (isScalar(g, scale->inputs[0], c)) inner = scale->inputs[1];
    else if (isScalar(g, scale->inputs[1], c)) inner = scale->inputs[0];
    else return std::nullopt;
    ir::Node* add = producerIs(g, inner, "Add");
    if (!add || useCount(g, inner) != 1) return std::nullopt;
    for (int i = 0; i < 2 && m.x.empty(); ++i) {
        ir::Node* k = producerIs(g, add->inputs[1 - i], "Mul");
        if (!k || useCount(g, add->inputs[1 - i]) != 1) continue;
        std::string cube;
        if (isScalar(g, k->inputs[0], 0.044715)) cube = k->inputs[1];
        else if (isScalar(g, k->inputs[1], 0.044715)) cube = k->inputs[0];
        else continue;
        std::vector<ir::NodeId> cubeNodes;
        if (useCount(g, cube) != 1 || !matchCube(g, cube, add->inputs[i], cubeNodes)) continue;
        m.x = add->inputs[i];
        m.nodes = cubeNodes;
        m.nodes.push_back(k->id);
    }
    if (m.x.empty()) return std::nullopt;
    m.nodes.push_back(add->id);
    m.nodes.push_back(scale->id);
    m.nodes.push_back(tanh.id);
    why.clear();
    if (!matchTail(g, tanh.outputs[0], m, why)) return std::nullopt;
    return m;
}

class GeluFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override { return {"Erf", "Tanh"}; }

    bool matches(const ir::Model& model, const ir::Node& n, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!n.domain.empty()) return false;
        std::string why;
        const auto m = n.opType == "Erf" ? matchErf(g, const_cast<ir::Node&>(n), why) : matchTanh(g, const_cast<ir::Node&>(n), why);
        if (!m) {
            // A lone Tanh (an activation) is not a GELU candidate; report only partial GELU shapes.
            if (n.opType == "Erf") whyNot = "GELU pattern not recognized: " + why;
            return false;
        }
        if (model.opsetFor(kMsDomain) > 1) {
            whyNot = "the model imports com.microsoft at version " + std::to_string(model.opsetFor(kMsDomain));
            return false;
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& n, const Params& params, std::string& whyNot) const override {
        ir::Graph& g = *model.graph;
        const bool erfForm = n.opType == "Erf";
        auto m = erfForm ? matchErf(g, n, whyNot) : matchTanh(g, n, whyNot);
        if (!m) return false;
        ir::Node fused;
        fused.domain = kMsDomain;
        fused.opType = erfForm ? "Gelu" : "FastGelu";
        fused.inputs = {m->x};
        fused.outputs = {m->out};
        // Bias: x = Add(A, b) with b a constant vector of the last dim, read only by the GELU nodes.
        ir::Node* biasAdd = params.getBool("bias") ? producerIs(g, m->x, "Add") : nullptr;
        if (biasAdd) {
            int usesInside = 0;
            for (ir::NodeId id : m->nodes)
                for (const auto& in : g.node(id)->inputs) usesInside += in == m->x ? 1 : 0;
            const ir::Value* xv = g.findValue(m->x);
            const auto shape = xv ? ir::concreteShape(xv->shape) : std::nullopt;
            for (int i = 0; i < 2; ++i) {
                const ir::Tensor* b = constF32(g, biasAdd->inputs[i]);
                const std::string a = biasAdd->inputs[1 - i];
                if (!b || constF32(g, a) || useCount(g, m->x) != usesInside || isGraphOutput(g, m->x)) continue;
                if (!shape || shape->empty() || b->numel() != shape->back() || b->numel() != b->dim(-1)) continue;
                std::string bias = biasAdd->inputs[i];
                if (b->rank() != 1) bias = addInitializer(g, bias + "_1d", b->reshaped({b->numel()}));
                fused.opType = erfForm ? "BiasGelu" : "FastGelu";
                fused.inputs = {a, bias};
                m->nodes.push_back(biasAdd->id);
                break;
            }
        }
        fused.name = uniqueName(g, n.name + "_" + fused.opType);
        fused.provenance = mergeProvenance(g, m->nodes);
        for (ir::NodeId id : m->nodes) g.removeNode(id);
        g.addNode(std::move(fused));
        ensureMsDomain(model);
        g.rebuildIndex();
        g.topologicalSort();
        return true;
    }
};

} // namespace

PassInfo geluFusionPass() {
    return rulePass("fuse-gelu",
                    "Fuse erf GELU into com.microsoft Gelu/BiasGelu and tanh GELU into FastGelu", true,
                    {boolParam("bias", "Also absorb a constant bias Add before the GELU (BiasGelu / FastGelu bias)", true)},
                    [] { return std::make_unique<GeluFusion>(); });
}

} // namespace opstudio::passes::fusion
