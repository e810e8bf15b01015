// Conv + activation -> com.microsoft FusedConv (activation, activation_params exactly as ONNX Runtime
// writes them). The activation runs as a oneDNN post-op on the convolution's output.
#include "passes/fusion/fusion_util.h"

#include <algorithm>

namespace opstudio::passes::fusion {

namespace {

// What ORT's FusedConv (and ours) implements. HardSwish, Elu, Selu, Softplus... stay separate nodes.
const std::vector<std::string> kFusable = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "Tanh"};
const std::vector<std::string> kReported = {"HardSwish", "Elu", "Selu", "Softplus", "Softsign", "ThresholdedRelu", "Mish",
                                            "Gelu", "Celu", "PRelu"};

class ConvActivationFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override {
        std::vector<std::string> t = kFusable;
        t.insert(t.end(), kReported.begin(), kReported.end());
        return t;
    }

    bool matches(const ir::Model& model, const ir::Node& act, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!act.domain.empty() || act.inputs.empty()) return false;
        ir::Node* conv = producerIs(g, act.inputs[0], "Conv");
        if (!conv) {
            // An earlier fusion may have made it a FusedConv already.
            const ir::Value* v = g.findValue(act.inputs[0]);
            const ir::Node* p = v && v->producer != ir::kNoNode ? g.node(v->producer) : nullptr;
            if (p && p->opType == "FusedConv" && std::find(kFusable.begin(), kFusable.end(), act.opType) != kFusable.end())
                whyNot = "the FusedConv before it already has an activation";
            return false;
        }
        if (std::find(kFusable.begin(), kFusable.end(), act.opType) == kFusable.end()) {
            whyNot = "FusedConv supports Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, Tanh; the activation is " +
                     act.opType + " (kept unfused)";
            return false;
        }
        if (std::string w = whyNotSingleUse(g, conv->outputs[0], "Conv"); !w.empty()) {
            whyNot = w;
            return false;
        }
        if (!readActivation(model, act, whyNot)) return false;
        if (model.opsetFor(kMsDomain) > 1) {
            whyNot = "the model imports com.microsoft at version " + std::to_string(model.opsetFor(kMsDomain));
            return false;
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& act, const Params&, std::string& whyNot) const override {
        ir::Graph& g = *model.graph;
        ir::Node* conv = producerIs(g, act.inputs[0], "Conv");
        const auto info = readActivation(model, act, whyNot);
        if (!info) return false;
        conv->opType = "FusedConv";
        conv->domain = kMsDomain;
        conv->attributes.push_back(stringAttr("activation", info->op));
        if (!info->params.empty()) conv->attributes.push_back(floatsAttr("activation_params", info->params));
        conv->provenance = mergeProvenance(g, {conv->id, act.id});
        const std::string out = act.outputs[0];
        g.removeNode(act.id);
        conv->outputs[0] = out;
        ensureMsDomain(model);
        g.rebuildIndex();
        return true;
    }
};

} // namespace

PassInfo convActivationFusionPass() {
    return rulePass("fuse-conv-activation",
                    "Fuse Conv + Relu/Clip/LeakyRelu/Sigmoid/HardSigmoid/Tanh into com.microsoft FusedConv", true, {},
                    [] { return std::make_unique<ConvActivationFusion>(); });
}

} // namespace opstudio::passes::fusion
