// prune-n-m: semi-structured N:M sparsity — in every group of M consecutive reduction elements of an
// output row (consecutive input channels) keep the N largest |w| and zero the rest (2:4 = 50 %).
#include "passes/prune/calibrated_layers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace opstudio::passes::prune {

namespace {

class NmPruning final : public Pass {
public:
    void run(PassContext& ctx) override {
        const int64_t n = ctx.params.getInt("n"), m = ctx.params.getInt("m");
        if (n >= m)
            throw Error("prune-n-m: n (" + std::to_string(n) + ") must be smaller than m (" +
                        std::to_string(m) + ")");
        auto layers = prunableLayers(ctx, ctx.params.getList("skip"));
        std::vector<LayerWeight> fit;
        std::vector<std::vector<float>> values;
        for (auto& l : layers) {
            if (l.k % m != 0) {
                ctx.skip(*l.node, "reduction length " + std::to_string(l.k) +
                                      " is not a multiple of m=" + std::to_string(m));
                continue;
            }
            std::vector<float> v = gatherRows(*ctx.model.graph, l);
            std::vector<int64_t> idx(static_cast<size_t>(m));
            for (size_t g0 = 0; g0 < v.size(); g0 += static_cast<size_t>(m)) {
                std::iota(idx.begin(), idx.end(), static_cast<int64_t>(g0));
                // Largest N first (ties by position), zero the remaining M - N.
                std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
                    const float fa = std::fabs(v[a]), fb = std::fabs(v[b]);
                    return fa > fb || (fa == fb && a < b);
                });
                for (int64_t j = n; j < m; ++j)
                    v[idx[j]] = 0.f;
            }
            values.push_back(std::move(v));
            fit.push_back(std::move(l));
        }
        if (!fit.empty() && ctx.params.getString("update") == "refit")
            refitMasked(ctx, fit, values, ctx.params.getFloat("damp"), "prune-n-m update=refit");
        for (size_t i = 0; i < fit.size(); ++i)
            scatterRows(ctx, fit[i], values[i]);
        const size_t pruned = fit.size();
        if (pruned == 0)
            ctx.report.notes.push_back(
                "pass does not apply: no layer with a constant f32 weight whose reduction "
                "length is a multiple of m");
    }
};

} // namespace

PassInfo nmPruningPass() {
    PassInfo info;
    info.name = "prune-n-m";
    info.description = "N:M semi-structured pruning (2:4, 4:8) along the reduction axis, by magnitude";
    info.category = PassCategory::Pruning;
    info.exact = false;
    info.params = {intParam("n", "Weights kept per group", 1, 15, 2), intParam("m", "Group size", 2, 16, 4),
                   updateParam(), dampParam(), skipParam()};
    info.create = [] { return std::make_unique<NmPruning>(); };
    return info;
}

} // namespace opstudio::passes::prune
