// Add(a, b) + LayerNormalization -> com.microsoft SkipLayerNormalization(a, b, gamma, beta).
// When the sum is also read elsewhere (pre-LN transformers carry it as the residual), it comes out of
// SkipLayerNormalization's fourth output (input_skip_bias_sum) instead of being computed twice.
#include "passes/fusion/fusion_util.h"

namespace opstudio::passes::fusion {

namespace {

std::optional<std::vector<int64_t>> shapeOf(const ir::Graph& g, const std::string& v) {
    const ir::Value* val = g.findValue(v);
    if (!val) return std::nullopt;
    return ir::concreteShape(val->shape);
}

class SkipLayerNormFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override { return {"LayerNormalization"}; }

    bool matches(const ir::Model& model, const ir::Node& ln, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!ln.domain.empty()) return false;
        ir::Node* add = producerIs(g, ln.inputs.at(0), "Add");
        if (!add) return false;
        if (constF32(g, add->inputs[0]) || constF32(g, add->inputs[1])) {
            whyNot = "the Add before LayerNormalization adds a constant, not a residual";
            return false;
        }
        for (size_t i = 1; i < ln.outputs.size(); ++i)
            if (!ln.outputs[i].empty() && useCount(g, ln.outputs[i]) > 0) {
                whyNot = "LayerNormalization mean/inv_std_dev outputs are used";
                return false;
            }
        const int64_t axis = ln.attrInt("axis", -1);
        const auto sa = shapeOf(g, add->inputs[0]), sb = shapeOf(g, add->inputs[1]);
        if (!sa || !sb) {
            whyNot = "residual Add input shapes are unknown";
            return false;
        }
        if (*sa != *sb || sa->size() != 3) {
            whyNot = "residual Add inputs must both be [batch, sequence, hidden] (got " + ir::shapeToString(*sa) + " and " +
                     ir::shapeToString(*sb) + ")";
            return false;
        }
        if (axis != -1 && axis != 2) {
            whyNot = "LayerNormalization axis is not the last one";
            return false;
        }
        const int64_t h = sa->back();
        const ir::Tensor* gamma = constF32(g, ln.inputs.at(1));
        const ir::Tensor* beta = ln.presentInput(2) ? constF32(g, ln.inputs[2]) : nullptr;
        if (!gamma || gamma->numel() != h || (ln.presentInput(2) && (!beta || beta->numel() != h))) {
            whyNot = "LayerNormalization scale/bias are not constant vectors of the hidden size";
            return false;
        }
        if (model.opsetFor(kMsDomain) > 1) {
            whyNot = "the model imports com.microsoft at version " + std::to_string(model.opsetFor(kMsDomain));
            return false;
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& ln, const Params&, std::string&) const override {
        ir::Graph& g = *model.graph;
        ir::Node* add = producerIs(g, ln.inputs[0], "Add");
        const std::string sum = add->outputs[0];
        const bool sumUsed = useCount(g, sum) > 1 || isGraphOutput(g, sum);
        ir::Node skip;
        skip.name = uniqueName(g, ln.name + "_SkipLayerNormalization");
        skip.opType = "SkipLayerNormalization";
        skip.domain = kMsDomain;
        skip.inputs = {add->inputs[0], add->inputs[1], ln.inputs[1]};
        if (ln.presentInput(2)) skip.inputs.push_back(ln.inputs[2]);
        skip.outputs = {ln.outputs[0]};
        if (sumUsed) skip.outputs = {ln.outputs[0], "", "", sum};
        skip.attributes = {floatAttr("epsilon", ln.attrFloat("epsilon", 1e-5f))};
        skip.provenance = mergeProvenance(g, {add->id, ln.id});
        g.removeNode(ln.id);
        g.removeNode(add->id);
        g.addNode(std::move(skip));
        ensureMsDomain(model);
        g.rebuildIndex();
        g.topologicalSort();
        return true;
    }
};

} // namespace

PassInfo skipLayerNormFusionPass() {
    return rulePass("fuse-skip-layernorm",
                    "Fuse residual Add + LayerNormalization into com.microsoft SkipLayerNormalization", true, {},
                    [] { return std::make_unique<SkipLayerNormFusion>(); });
}

} // namespace opstudio::passes::fusion
