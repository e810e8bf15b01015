// MatMul + Add(constant bias) -> Gemm when A and B are 2-D (Gemm is only defined on matrices).
#include "passes/fusion/fusion_util.h"

namespace opstudio::passes::fusion {

namespace {

int rankOf(const ir::Graph& g, const std::string& v) {
    const ir::Value* val = g.findValue(v);
    return val && val->shape ? static_cast<int>(val->shape->size()) : -1;
}

class MatMulAddFusion final : public RewriteRule {
public:
    std::vector<std::string> targetOpTypes() const override { return {"Add"}; }

    bool matches(const ir::Model& model, const ir::Node& add, const Params&, std::string& whyNot) const override {
        auto& g = const_cast<ir::Graph&>(*model.graph);
        if (!add.domain.empty() || add.inputs.size() != 2) return false;
        ir::Node* mm = nullptr;
        std::string bias;
        for (int i = 0; i < 2 && !mm; ++i)
            if ((mm = producerIs(g, add.inputs[i], "MatMul"))) bias = add.inputs[1 - i];
        if (!mm) return false;
        const ir::Tensor* c = constF32(g, bias);
        if (!c) return false; // a residual Add
        if (std::string w = whyNotSingleUse(g, mm->outputs[0], "MatMul"); !w.empty()) {
            whyNot = w;
            return false;
        }
        const int ra = rankOf(g, mm->inputs[0]), rb = rankOf(g, mm->inputs[1]);
        if (ra != 2 || rb != 2) {
            whyNot = "MatMul inputs have rank " + std::to_string(ra) + " and " + std::to_string(rb) +
                     " (Gemm needs 2-D; kept as MatMul + Add)";
            return false;
        }
        if (c->rank() > 2) {
            whyNot = "bias of shape " + ir::shapeToString(c->shape()) + " does not broadcast to the Gemm output";
            return false;
        }
        // C must broadcast to [M, N] without growing it.
        const ir::Value* out = g.findValue(mm->outputs[0]);
        const auto os = out ? ir::concreteShape(out->shape) : std::nullopt;
        if (!os) {
            whyNot = "MatMul output shape is unknown";
            return false;
        }
        for (int d = 0; d < c->rank(); ++d) {
            const int64_t od = (*os)[os->size() - c->rank() + d];
            if (c->dim(d) != 1 && c->dim(d) != od) {
                whyNot = "bias of shape " + ir::shapeToString(c->shape()) + " does not broadcast to the Gemm output";
                return false;
            }
        }
        return true;
    }

    bool apply(ir::Model& model, ir::Node& add, const Params&, std::string&) const override {
        ir::Graph& g = *model.graph;
        ir::Node* mm = producerIs(g, add.inputs[0], "MatMul");
        std::string bias = add.inputs[1];
        if (!mm) {
            mm = producerIs(g, add.inputs[1], "MatMul");
            bias = add.inputs[0];
        }
        mm->opType = "Gemm";
        mm->inputs.push_back(bias);
        mm->provenance = mergeProvenance(g, {mm->id, add.id});
        const std::string out = add.outputs[0];
        g.removeNode(add.id);
        mm->outputs[0] = out;
        g.rebuildIndex();
        return true;
    }
};

} // namespace

PassInfo matMulAddFusionPass() {
    return rulePass("fuse-matmul-add", "Fuse 2-D MatMul + constant bias Add into Gemm", true, {},
                    [] { return std::make_unique<MatMulAddFusion>(); });
}

} // namespace opstudio::passes::fusion
