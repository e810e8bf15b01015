// MatMul followed by Mul or Div by a constant scalar -> com.microsoft FusedMatMul with alpha
// (the scale is applied to the accumulated product, as oneDNN's output scale).
#include "passes/fusion/fusion_util.h"

namespace opstudio::passes::fusion {

namespace {

class MatMulScaleFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override { return {"Mul", "Div"}; }

    static std::optional<float> alphaOf(const ir::Graph& g, const ir::Node& op, const std::string& mmOut) {
        const auto other = otherInput(op, mmOut);
        if (!other || (op.opType == "Div" && op.inputs[0] != mmOut)) return std::nullopt;
        const ir::Tensor* c = constF32(g, *other);
        if (!c || c->numel() != 1) return std::nullopt;
        const float v = c->data<float>()[0];
        if (op.opType == "Div") return v == 0.f ? std::nullopt : std::optional<float>(1.f / v);
        return v;
    }

    bool matches(const ir::Model& model, const ir::Node& op, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!op.domain.empty() || op.inputs.size() != 2) return false;
        ir::Node* mm = nullptr;
        for (int i = 0; i < 2 && !mm; ++i) mm = producerIs(g, op.inputs[i], "MatMul");
        if (!mm || !alphaOf(g, op, mm->outputs[0])) return false;
        if (std::string w = whyNotSingleUse(g, mm->outputs[0], "MatMul"); !w.empty()) {
            whyNot = w;
            return false;
        }
        if (model.opsetFor(kMsDomain) > 1) {
            whyNot = "the model imports com.microsoft at version " + std::to_string(model.opsetFor(kMsDomain));
            return false;
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& op, const Params&, std::string&) const override {
        ir::Graph& g = *model.graph;
        ir::Node* mm = producerIs(g, op.inputs[0], "MatMul");
        if (!mm) mm = producerIs(g, op.inputs[1], "MatMul");
        const float alpha = *alphaOf(g, op, mm->outputs[0]);
        mm->opType = "FusedMatMul";
        mm->domain = kMsDomain;
        mm->attributes = {floatAttr("alpha", alpha)};
        mm->provenance = mergeProvenance(g, {mm->id, op.id});
        const std::string out = op.outputs[0];
        g.removeNode(op.id);
        mm->outputs[0] = out;
        ensureMsDomain(model);
        g.rebuildIndex();
        return true;
    }
};

} // namespace

PassInfo matMulScaleFusionPass() {
    return rulePass("fuse-matmul-scale", "Fuse MatMul + Mul/Div by a constant scalar into com.microsoft FusedMatMul (alpha)",
                    true, {}, [] { return std::make_unique<MatMulScaleFusion>(); });
}

} // namespace opstudio::passes::fusion
