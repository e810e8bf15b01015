// prune-wanda: pruning by weights and activations (Sun et al., Wanda 2023). The score of w_ij (output row
// i, input j) is |w_ij| · ‖X_j‖₂, the weight's magnitude times the calibration norm of the input it
// multiplies, compared within each output row (unstructured) or within each group of M consecutive inputs
// of a row (N:M). No retraining; `update=refit` adds the least-squares refit of the kept weights
// (H_SS w_S = (H w)_S, the shared layer solver), the error compensation of prune-sparsegpt's refit mode.
#include "passes/prune/calibrated_layers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace opstudio::passes::prune {

namespace {

class WandaPruning final : public Pass {
public:
    void run(PassContext& ctx) override {
        const double sparsity = ctx.params.getFloat("sparsity");
        const int64_t n = ctx.params.getInt("n"), m = ctx.params.getInt("m");
        const bool refit = ctx.params.getString("update") == "refit";
        const double damp = ctx.params.getFloat("damp");
        if (n > 0 && n >= m)
            throw Error("prune-wanda: n (" + std::to_string(n) + ") must be smaller than m (" + std::to_string(m) +
                        ")");
        auto layers = prunableLayers(ctx, ctx.params.getList("skip"));
        if (n > 0) {
            std::vector<LayerWeight> fit;
            for (auto& l : layers) {
                if (l.k % m != 0)
                    ctx.skip(*l.node, "reduction length " + std::to_string(l.k) + " is not a multiple of m=" +
                                          std::to_string(m));
                else
                    fit.push_back(std::move(l));
            }
            layers = std::move(fit);
        }
        if (layers.empty()) {
            ctx.report.notes.push_back("pass does not apply: no MatMul/Gemm/Conv with a constant f32 weight");
            return;
        }
        auto inputs = collectPrunableInputs(ctx, layers, /*gram=*/refit, "prune-wanda");
        for (const auto& l : layers) {
            if (ctx.cancelled()) throw Error("prune-wanda cancelled");
            const calibrate::LayerInputStats& s = inputs.at(l.node->name);
            if (s.k != l.k) {
                ctx.skip(*l.node, "calibration input has " + std::to_string(s.k) + " features, the weight " +
                                      std::to_string(l.k));
                continue;
            }
            std::vector<double> norm(static_cast<size_t>(l.k));
            for (int64_t j = 0; j < l.k; ++j)
                norm[static_cast<size_t>(j)] = std::sqrt(s.sumSq[static_cast<size_t>(j)]);
            std::vector<float> w = gatherRows(*ctx.model.graph, l);
            std::vector<double> score(w.size());
            for (int64_t r = 0; r < l.rows; ++r)
                for (int64_t j = 0; j < l.k; ++j) {
                    const auto at = static_cast<size_t>(r * l.k + j);
                    score[at] = std::fabs(static_cast<double>(w[at])) * norm[static_cast<size_t>(j)];
                }
            const int64_t group = n > 0 ? m : l.k;
            const auto perGroup = static_cast<size_t>(
                n > 0 ? m - n : static_cast<int64_t>(std::floor(sparsity * static_cast<double>(l.k))));
            std::vector<uint8_t> keep(w.size(), 1);
            std::vector<int64_t> idx(static_cast<size_t>(group));
            for (int64_t r = 0; r < l.rows && perGroup > 0; ++r)
                for (int64_t g0 = 0; g0 < l.k; g0 += group) {
                    std::iota(idx.begin(), idx.end(), r * l.k + g0);
                    // The perGroup lowest scores (ties by position, so the count is exact).
                    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(perGroup - 1), idx.end(),
                                     [&](int64_t a, int64_t b) {
                                         return score[a] < score[b] || (score[a] == score[b] && a < b);
                                     });
                    for (size_t i = 0; i < perGroup; ++i)
                        keep[static_cast<size_t>(idx[i])] = 0;
                }
            if (refit && s.rows > 0) calibrate::refitRows(s.gram, w, keep, l.rows, damp);
            for (size_t i = 0; i < w.size(); ++i)
                if (!keep[i]) w[i] = 0.f;
            scatterRows(ctx, l, w);
        }
        noteDenseWeights(ctx);
    }
};

} // namespace

PassInfo wandaPruningPass() {
    PassInfo info;
    info.name = "prune-wanda";
    info.description =
        "Activation-aware pruning (Wanda): zero the weights with the lowest |w| times input activation norm, "
        "per output row";
    info.category = PassCategory::Pruning;
    info.exact = false;
    info.params = {floatParam("sparsity", "Fraction of weights set to zero per output row (n = 0)", 0.0, 0.99, 0.5)};
    for (ParamSpec& p : nmMaskParams()) info.params.push_back(std::move(p));
    info.params.insert(info.params.end(), {updateParam(), dampParam(), skipParam()});
    info.create = [] { return std::make_unique<WandaPruning>(); };
    return info;
}

} // namespace opstudio::passes::prune
