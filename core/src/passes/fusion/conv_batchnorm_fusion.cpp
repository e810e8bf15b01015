// Folds an inference BatchNormalization into the Conv before it (weights and bias rewritten).
#include "passes/fusion/fusion_util.h"

#include <cmath>

namespace opstudio::passes::fusion {

namespace {

class ConvBatchNormFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override { return {"BatchNormalization"}; }

    bool matches(const ir::Model& model, const ir::Node& bn, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!bn.domain.empty()) return false;
        ir::Node* conv = producerIs(g, bn.inputs.at(0), "Conv");
        if (!conv) return false; // not a candidate: nothing to fold into
        for (size_t i = 1; i < bn.outputs.size(); ++i)
            if (!bn.outputs[i].empty() && useCount(g, bn.outputs[i]) > 0) {
                whyNot = "BatchNormalization training outputs (running mean/var) are used";
                return false;
            }
        if (bn.attrInt("training_mode", 0) != 0) {
            whyNot = "BatchNormalization has training_mode=1";
            return false;
        }
        if (std::string w = whyNotSingleUse(g, conv->outputs.at(0), "Conv"); !w.empty()) {
            whyNot = w + " (BatchNormalization cannot be folded without changing it)";
            return false;
        }
        if (bn.inputs.size() < 5) {
            whyNot = "BatchNormalization has fewer than 5 inputs";
            return false;
        }
        for (size_t i = 1; i < 5; ++i)
            if (!constF32(g, bn.inputs[i])) {
                whyNot = "BatchNormalization input " + std::to_string(i) + " is not a constant f32 tensor";
                return false;
            }
        const ir::Tensor* w = constF32(g, conv->inputs.at(1));
        if (!w) {
            whyNot = "Conv weights are not a constant f32 tensor";
            return false;
        }
        if (conv->presentInput(2) && !constF32(g, conv->inputs[2])) {
            whyNot = "Conv bias is not a constant f32 tensor";
            return false;
        }
        const int64_t m = w->dim(0);
        for (size_t i = 1; i < 5; ++i)
            if (constF32(g, bn.inputs[i])->numel() != m) {
                whyNot = "BatchNormalization parameters do not have one value per Conv output channel";
                return false;
            }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& bn, const Params&, std::string&) const override {
        ir::Graph& g = *model.graph;
        ir::Node* conv = producerIs(g, bn.inputs[0], "Conv");
        const ir::Tensor& w = *constF32(g, conv->inputs[1]);
        const float* gamma = constF32(g, bn.inputs[1])->data<float>();
        const float* beta = constF32(g, bn.inputs[2])->data<float>();
        const float* mean = constF32(g, bn.inputs[3])->data<float>();
        const float* var = constF32(g, bn.inputs[4])->data<float>();
        const double eps = bn.attrFloat("epsilon", 1e-5f);
        const int64_t m = w.dim(0), per = w.numel() / m;
        const float* b = conv->presentInput(2) ? constF32(g, conv->inputs[2])->data<float>() : nullptr;

        // W' = W * gamma / sqrt(var + eps);  b' = (b - mean) * gamma / sqrt(var + eps) + beta
        ir::Tensor w2(ir::DType::F32, w.shape());
        ir::Tensor b2(ir::DType::F32, {m});
        const float* ws = w.data<float>();
        float* wd = w2.data<float>();
        for (int64_t oc = 0; oc < m; ++oc) {
            const double s = gamma[oc] / std::sqrt(static_cast<double>(var[oc]) + eps);
            for (int64_t i = 0; i < per; ++i) wd[oc * per + i] = static_cast<float>(ws[oc * per + i] * s);
            b2.data<float>()[oc] = static_cast<float>(((b ? b[oc] : 0.0) - mean[oc]) * s + beta[oc]);
        }
        const std::string wName = addInitializer(g, conv->inputs[1] + "_bn_folded", std::move(w2));
        const std::string bName = addInitializer(g, conv->name + "_bias_bn_folded", std::move(b2));
        conv->inputs.resize(3);
        conv->inputs[1] = wName;
        conv->inputs[2] = bName;
        conv->provenance = mergeProvenance(g, {conv->id, bn.id});
        const std::string out = bn.outputs[0];
        g.removeNode(bn.id);
        conv->outputs[0] = out;
        g.rebuildIndex();
        return true;
    }
};

} // namespace

PassInfo convBatchNormFusionPass() {
    return rulePass("fuse-conv-batchnorm",
                    "Fold inference BatchNormalization into the preceding Conv's weights and bias", true, {},
                    [] { return std::make_unique<ConvBatchNormFusion>(); });
}

} // namespace opstudio::passes::fusion
