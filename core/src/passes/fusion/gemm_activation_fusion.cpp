// Gemm + activation -> com.microsoft FusedGemm (activation, activation_alpha, activation_beta as ORT's
// FusedGemm reads them: the activation's own attributes with an "activation_" prefix).
#include "passes/fusion/fusion_util.h"

#include <algorithm>

namespace opstudio::passes::fusion {

namespace {

const std::vector<std::string> kFusable = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid"};

class GemmActivationFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override {
        return {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "Clip", "HardSwish", "Elu", "Selu", "Softplus"};
    }

    bool matches(const ir::Model& model, const ir::Node& act, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!act.domain.empty() || act.inputs.empty()) return false;
        ir::Node* gemm = producerIs(g, act.inputs[0], "Gemm");
        if (!gemm) return false;
        if (std::find(kFusable.begin(), kFusable.end(), act.opType) == kFusable.end()) {
            whyNot = "FusedGemm (ORT and ours) takes Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid; the activation is " +
                     act.opType + " (kept unfused)";
            return false;
        }
        if (std::string w = whyNotSingleUse(g, gemm->outputs[0], "Gemm"); !w.empty()) {
            whyNot = w;
            return false;
        }
        if (model.opsetFor(kMsDomain) > 1) {
            whyNot = "the model imports com.microsoft at version " + std::to_string(model.opsetFor(kMsDomain));
            return false;
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& act, const Params&, std::string& whyNot) const override {
        ir::Graph& g = *model.graph;
        ir::Node* gemm = producerIs(g, act.inputs[0], "Gemm");
        const auto info = readActivation(model, act, whyNot);
        if (!info) return false;
        gemm->opType = "FusedGemm";
        gemm->domain = kMsDomain;
        gemm->attributes.push_back(stringAttr("activation", info->op));
        if (info->params.size() > 0) gemm->attributes.push_back(floatAttr("activation_alpha", info->params[0]));
        if (info->params.size() > 1) gemm->attributes.push_back(floatAttr("activation_beta", info->params[1]));
        gemm->provenance = mergeProvenance(g, {gemm->id, act.id});
        const std::string out = act.outputs[0];
        g.removeNode(act.id);
        gemm->outputs[0] = out;
        ensureMsDomain(model);
        g.rebuildIndex();
        return true;
    }
};

} // namespace

PassInfo gemmActivationFusionPass() {
    return rulePass("fuse-gemm-activation", "Fuse Gemm + Relu/LeakyRelu/Sigmoid/Tanh/HardSigmoid into com.microsoft FusedGemm",
                    true, {}, [] { return std::make_unique<GemmActivationFusion>(); });
}

} // namespace opstudio::passes::fusion
