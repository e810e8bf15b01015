// prune-magnitude: unstructured pruning that zeroes the smallest |w| of MatMul/Gemm/Conv weights,
// with the target sparsity applied per layer, per output row or over all layers at once (global).
#include "passes/prune/calibrated_layers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace opstudio::passes::prune {

namespace {

/// Zeroes exactly floor(sparsity * count) of the smallest |v| among v[idx...] (ties broken by position,
/// so the mask reaches the requested count exactly).
void pruneSmallest(std::vector<float>& v, std::vector<int64_t>& idx, double sparsity) {
    const auto count = static_cast<size_t>(std::floor(sparsity * static_cast<double>(idx.size())));
    if (count == 0) return;
    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(count - 1), idx.end(),
                     [&](int64_t a, int64_t b) {
                         const float fa = std::fabs(v[a]), fb = std::fabs(v[b]);
                         return fa < fb || (fa == fb && a < b);
                     });
    for (size_t i = 0; i < count; ++i)
        v[idx[i]] = 0.f;
}

class MagnitudePruning final : public Pass {
public:
    void run(PassContext& ctx) override {
        const double sparsity = ctx.params.getFloat("sparsity");
        const std::string scope = ctx.params.getString("scope");
        auto layers = prunableLayers(ctx, ctx.params.getList("skip"));
        if (layers.empty()) {
            ctx.report.notes.push_back("pass does not apply: no MatMul/Gemm/Conv with a constant f32 weight");
            return;
        }
        std::vector<std::vector<float>> values;
        for (const auto& l : layers)
            values.push_back(gatherRows(*ctx.model.graph, l));
        if (scope == "global") {
            // One threshold over every layer: the |w| of rank floor(sparsity * total).
            std::vector<float> all;
            for (const auto& v : values)
                for (float x : v)
                    all.push_back(std::fabs(x));
            const auto count = static_cast<size_t>(std::floor(sparsity * static_cast<double>(all.size())));
            if (count > 0) {
                std::vector<int64_t> idx(all.size());
                std::iota(idx.begin(), idx.end(), 0);
                pruneSmallest(all, idx, sparsity);
                size_t pos = 0;
                for (auto& v : values)
                    for (float& x : v) {
                        if (all[pos] == 0.f) x = 0.f;
                        ++pos;
                    }
            }
        } else {
            for (size_t li = 0; li < layers.size(); ++li) {
                auto& v = values[li];
                const int64_t rows = layers[li].rows, k = layers[li].k;
                if (scope == "per-layer") {
                    std::vector<int64_t> idx(v.size());
                    std::iota(idx.begin(), idx.end(), 0);
                    pruneSmallest(v, idx, sparsity);
                } else {
                    for (int64_t r = 0; r < rows; ++r) {
                        std::vector<int64_t> idx(static_cast<size_t>(k));
                        std::iota(idx.begin(), idx.end(), r * k);
                        pruneSmallest(v, idx, sparsity);
                    }
                }
            }
        }
        if (ctx.params.getString("update") == "refit")
            refitMasked(ctx, layers, values, ctx.params.getFloat("damp"), "prune-magnitude update=refit");
        for (size_t li = 0; li < layers.size(); ++li)
            scatterRows(ctx, layers[li], values[li]);
        noteDenseWeights(ctx);
    }
};

} // namespace

PassInfo magnitudePruningPass() {
    PassInfo info;
    info.name = "prune-magnitude";
    info.description = "Unstructured pruning: zero the smallest-magnitude MatMul/Gemm/Conv weights";
    info.category = PassCategory::Pruning;
    info.exact = false;
    info.params = {floatParam("sparsity", "Fraction of weights set to zero", 0.0, 0.99, 0.5),
                   enumParam("scope",
                             "Where the sparsity is reached: per layer, per output row, or over all layers",
                             {"per-layer", "per-row", "global"}, "per-layer"),
                   updateParam(), dampParam(), skipParam()};
    info.create = [] { return std::make_unique<MagnitudePruning>(); };
    return info;
}

} // namespace opstudio::passes::prune
