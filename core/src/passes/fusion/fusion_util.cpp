#include "passes/fusion/fusion_util.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace opstudio::passes::fusion {

const ir::Tensor* constF32(const ir::Graph& g, const std::string& value) {
    if (value.empty()) return nullptr;
    const ir::Tensor* t = g.constantValue(value);
    return t && t->dtype() == ir::DType::F32 ? t : nullptr;
}

std::optional<double> scalarConst(const ir::Graph& g, const std::string& value) {
    if (value.empty()) return std::nullopt;
    const ir::Tensor* t = g.constantValue(value);
    if (!t || t->numel() != 1) return std::nullopt;
    const auto d = t->toDoubles();
    if (d.size() != 1) return std::nullopt;
    return d[0];
}

bool isScalar(const ir::Graph& g, const std::string& value, double expected, double tol) {
    const auto v = scalarConst(g, value);
    return v && std::abs(*v - expected) <= tol * std::max(1.0, std::abs(expected));
}

std::optional<std::string> otherInput(const ir::Node& n, const std::string& value) {
    if (n.inputs.size() != 2) return std::nullopt;
    if (n.inputs[0] == value) return n.inputs[1];
    if (n.inputs[1] == value) return n.inputs[0];
    return std::nullopt;
}

ir::Node* producerIs(ir::Graph& g, const std::string& value, const std::string& op) {
    if (value.empty()) return nullptr;
    const ir::Value* v = g.findValue(value);
    if (!v || v->producer == ir::kNoNode) return nullptr;
    ir::Node* p = g.node(v->producer);
    return p && p->opType == op && p->domain.empty() ? p : nullptr;
}

std::vector<ir::Node*> consumersOf(ir::Graph& g, const std::string& value) {
    std::vector<ir::Node*> out;
    g.forEachNode([&](ir::Node& n) {
        if (std::find(n.inputs.begin(), n.inputs.end(), value) != n.inputs.end()) out.push_back(&n);
    });
    return out;
}

std::string whyNotSingleUse(const ir::Graph& g, const std::string& value, const std::string& what) {
    if (isGraphOutput(g, value)) return what + " output is a graph output";
    const int uses = useCount(g, value);
    if (uses > 1) return what + " output has a second consumer";
    return "";
}

void ensureMsDomain(ir::Model& model) {
    if (model.opsetFor(kMsDomain) == 0) model.setOpset(kMsDomain, 1);
}

void finishRewrite(ir::Graph& g) {
    g.rebuildIndex();
    // Constants only the rewritten nodes read (Pow exponents, epsilons) go with them.
    std::vector<ir::NodeId> deadConstants;
    g.forEachNode([&](const ir::Node& n) {
        if (n.opType == "Constant" && n.domain.empty() && n.outputs.size() == 1 && useCount(g, n.outputs[0]) == 0)
            deadConstants.push_back(n.id);
    });
    for (ir::NodeId id : deadConstants) g.removeNode(id);
    g.rebuildIndex();
    g.topologicalSort();
    removeUnusedInitializers(g);
    g.rebuildIndex();
}

ir::Tensor f32Tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
    return ir::Tensor::fromVector<float>(std::move(shape), values);
}

ir::Attribute floatAttr(const std::string& name, float v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Float;
    a.f = v;
    return a;
}
ir::Attribute intAttr(const std::string& name, int64_t v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Int;
    a.i = v;
    return a;
}
ir::Attribute stringAttr(const std::string& name, const std::string& v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::String;
    a.s = v;
    return a;
}
ir::Attribute floatsAttr(const std::string& name, std::vector<float> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Floats;
    a.floats = std::move(v);
    return a;
}

int64_t onnxOpset(const ir::Model& m) { return m.opsetFor(""); }

std::optional<ActivationInfo> readActivation(const ir::Model& m, const ir::Node& act, std::string& whyNot) {
    const ir::Graph& g = *m.graph;
    ActivationInfo info{act.opType, {}};
    if (act.opType == "Relu" || act.opType == "Sigmoid" || act.opType == "Tanh") return info;
    if (act.opType == "LeakyRelu") {
        info.params = {act.attrFloat("alpha", 0.01f)};
        return info;
    }
    if (act.opType == "HardSigmoid") {
        info.params = {act.attrFloat("alpha", 0.2f), act.attrFloat("beta", 0.5f)};
        return info;
    }
    if (act.opType == "Clip") {
        float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
        if (onnxOpset(m) < 11) {
            lo = act.attrFloat("min", lo);
            hi = act.attrFloat("max", hi);
        } else {
            for (size_t i = 1; i < 3; ++i) {
                if (!act.presentInput(i)) continue;
                const auto v = scalarConst(g, act.inputs[i]);
                if (!v) {
                    whyNot = std::string("Clip ") + (i == 1 ? "min" : "max") + " is not a constant";
                    return std::nullopt;
                }
                (i == 1 ? lo : hi) = static_cast<float>(*v);
            }
        }
        info.params = {lo, hi};
        return info;
    }
    whyNot = act.opType + " is not an activation the fused kernels support";
    return std::nullopt;
}

namespace {

class RulePass final : public Pass {
public:
    explicit RulePass(std::unique_ptr<RewriteRule> rule) : m_inner(std::move(rule)) {}
    void run(PassContext& ctx) override {
        m_inner.run(ctx);
        finishRewrite(*ctx.model.graph);
    }

private:
    RewritePass m_inner;
};

} // namespace

PassInfo rulePass(std::string name, std::string description, bool exact, std::vector<ParamSpec> params,
                  std::function<std::unique_ptr<RewriteRule>()> makeRule) {
    PassInfo info;
    info.name = std::move(name);
    info.description = std::move(description);
    info.category = PassCategory::Fusion;
    info.exact = exact;
    info.params = std::move(params);
    info.create = [makeRule] { return std::make_unique<RulePass>(makeRule()); };
    return info;
}

bool reducesLastAxisKeepDims(const ir::Model& m, const ir::Node& rm, const std::string& x) {
    if (rm.attrInt("keepdims", 1) != 1) return false;
    std::vector<int64_t> axes = rm.attrInts("axes");
    if (rm.presentInput(1)) {
        const ir::Tensor* a = m.graph->constantValue(rm.inputs[1]);
        if (!a) return false;
        axes = a->toInt64s();
    }
    if (axes.size() != 1) return false;
    if (axes[0] == -1) return true;
    const ir::Value* v = m.graph->findValue(x);
    return v && v->shape && static_cast<int64_t>(v->shape->size()) == axes[0] + 1;
}

} // namespace opstudio::passes::fusion
