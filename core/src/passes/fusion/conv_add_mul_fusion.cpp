// Conv followed by Add of a per-channel constant (a bias) or Mul of a per-channel constant (a scale):
// both fold into the Conv's weights and bias.
#include "passes/fusion/fusion_util.h"

namespace opstudio::passes::fusion {

namespace {

/// Per-output-channel values of `c` for a Conv output of rank `rank` with `m` channels (right-aligned
/// broadcasting: every dim 1 except the channel dim, which may be m), or empty when it is not per-channel.
std::vector<float> perChannel(const ir::Tensor& c, int rank, int64_t m) {
    if (c.rank() > rank) return {};
    const int offset = rank - c.rank();
    bool channelDim = false;
    for (int d = 0; d < c.rank(); ++d) {
        const int outDim = d + offset;
        if (c.dim(d) == 1) continue;
        if (outDim == 1 && c.dim(d) == m) channelDim = true;
        else return {};
    }
    std::vector<float> v(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) v[i] = channelDim ? c.data<float>()[i] : c.data<float>()[0];
    return v;
}

class ConvAddMulFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override { return {"Add", "Mul"}; }

    bool matches(const ir::Model& model, const ir::Node& op, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!op.domain.empty() || op.inputs.size() != 2) return false;
        ir::Node* conv = nullptr;
        std::string other;
        for (int i = 0; i < 2 && !conv; ++i) {
            conv = producerIs(g, op.inputs[i], "Conv");
            if (conv) other = op.inputs[1 - i];
        }
        if (!conv) return false;
        const ir::Tensor* c = constF32(g, other);
        if (!c) return false; // a residual Add, not a candidate
        if (std::string w = whyNotSingleUse(g, conv->outputs[0], "Conv"); !w.empty()) {
            whyNot = w;
            return false;
        }
        const ir::Tensor* w = constF32(g, conv->inputs.at(1));
        if (!w || (conv->presentInput(2) && !constF32(g, conv->inputs[2]))) {
            whyNot = "Conv weights or bias are not constant f32 tensors";
            return false;
        }
        if (perChannel(*c, w->rank(), w->dim(0)).empty()) {
            whyNot = op.opType + " constant of shape " + ir::shapeToString(c->shape()) + " is not per-channel";
            return false;
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& op, const Params&, std::string&) const override {
        ir::Graph& g = *model.graph;
        ir::Node* conv = producerIs(g, op.inputs[0], "Conv");
        std::string other = op.inputs[1];
        if (!conv) {
            conv = producerIs(g, op.inputs[1], "Conv");
            other = op.inputs[0];
        }
        const ir::Tensor& w = *constF32(g, conv->inputs[1]);
        const int64_t m = w.dim(0), per = w.numel() / m;
        const std::vector<float> c = perChannel(*constF32(g, other), w.rank(), m);
        std::vector<float> bias(static_cast<size_t>(m), 0.f);
        if (conv->presentInput(2)) {
            const float* b = constF32(g, conv->inputs[2])->data<float>();
            std::copy(b, b + m, bias.begin());
        }
        if (op.opType == "Mul") {
            // (W x + b) * s = (W * s) x + b * s
            ir::Tensor w2(ir::DType::F32, w.shape());
            for (int64_t oc = 0; oc < m; ++oc) {
                for (int64_t i = 0; i < per; ++i) w2.data<float>()[oc * per + i] = w.data<float>()[oc * per + i] * c[oc];
                bias[oc] *= c[oc];
            }
            conv->inputs[1] = addInitializer(g, conv->inputs[1] + "_scaled", std::move(w2));
        } else {
            // (W x + b) + c = W x + (b + c)
            for (int64_t oc = 0; oc < m; ++oc) bias[oc] += c[oc];
        }
        conv->inputs.resize(3);
        conv->inputs[2] = addInitializer(g, conv->name + "_bias_fused", f32Tensor({m}, bias));
        conv->provenance = mergeProvenance(g, {conv->id, op.id});
        const std::string out = op.outputs[0];
        g.removeNode(op.id);
        conv->outputs[0] = out;
        g.rebuildIndex();
        return true;
    }
};

} // namespace

PassInfo convAddMulFusionPass() {
    return rulePass("fuse-conv-add-mul", "Fold a per-channel constant Add (bias) or Mul (scale) after Conv into the Conv",
                    true, {}, [] { return std::make_unique<ConvAddMulFusion>(); });
}

} // namespace opstudio::passes::fusion
