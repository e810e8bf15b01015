#include "passes/prune/prune_util.h"

#include "opstudio/calibrate/layer_solver.h"
#include "opstudio/passes/graph_edit.h"

#include <algorithm>
#include <cstdio>

namespace opstudio::passes::prune {

namespace {

const ir::Tensor* constWeight(const ir::Graph& g, const std::string& name) {
    auto it = g.initializers.find(name);
    if (it == g.initializers.end() || it->second.dtype() != ir::DType::F32) return nullptr;
    return &it->second;
}

} // namespace

std::vector<LayerWeight> prunableLayers(PassContext& ctx, const std::vector<std::string>& skip) {
    ir::Graph& g = *ctx.model.graph;
    g.rebuildIndex();
    std::vector<LayerWeight> layers;
    for (ir::NodeId id : g.order()) {
        ir::Node& n = *g.node(id);
        if (!n.domain.empty() || (n.opType != "MatMul" && n.opType != "Gemm" && n.opType != "Conv")) continue;
        if (std::find(skip.begin(), skip.end(), n.name) != skip.end()) {
            ctx.skip(n, "in the skip list");
            continue;
        }
        if (n.inputs.size() < 2 || n.inputs[1].empty()) continue;
        const ir::Tensor* w = constWeight(g, n.inputs[1]);
        if (!w) {
            ctx.skip(n, "weight input '" + n.inputs[1] + "' is not a constant f32 initializer");
            continue;
        }
        if (useCount(g, n.inputs[1]) != 1) {
            ctx.skip(n, "weight '" + n.inputs[1] +
                            "' is shared with other nodes (pruning it would change them too)");
            continue;
        }
        LayerWeight l{&n, n.inputs[1]};
        if (n.opType == "Conv") {
            if (w->rank() < 3) {
                ctx.skip(n, "Conv weight of rank " + std::to_string(w->rank()));
                continue;
            }
            // [M, C/g, spatial...]: row m, reduction (spatial, c) with c fastest.
            const int64_t m = w->dim(0), c = w->dim(1), sp = w->numel() / std::max<int64_t>(1, m * c);
            l.rows = m;
            l.k = c * sp;
            l.offsets.resize(static_cast<size_t>(m * l.k));
            for (int64_t r = 0; r < m; ++r)
                for (int64_t s = 0; s < sp; ++s)
                    for (int64_t ci = 0; ci < c; ++ci)
                        l.offsets[r * l.k + s * c + ci] = (r * c + ci) * sp + s;
        } else {
            if (w->rank() != 2) {
                ctx.skip(n, n.opType + " weight of rank " + std::to_string(w->rank()) +
                                " (batched weights are not pruned)");
                continue;
            }
            const bool transB = n.opType == "Gemm" && n.attrInt("transB", 0) != 0;
            const int64_t kk = transB ? w->dim(1) : w->dim(0), nn = transB ? w->dim(0) : w->dim(1);
            l.rows = nn;
            l.k = kk;
            l.offsets.resize(static_cast<size_t>(nn * kk));
            for (int64_t r = 0; r < nn; ++r)
                for (int64_t i = 0; i < kk; ++i)
                    l.offsets[r * kk + i] = transB ? r * kk + i : i * nn + r;
        }
        if (l.rows * l.k == 0) {
            ctx.skip(n, "empty weight");
            continue;
        }
        layers.push_back(std::move(l));
    }
    return layers;
}

std::vector<float> gatherRows(const ir::Graph& g, const LayerWeight& layer) {
    const float* src = g.initializers.at(layer.name).data<float>();
    std::vector<float> out(layer.offsets.size());
    for (size_t i = 0; i < out.size(); ++i)
        out[i] = src[layer.offsets[i]];
    return out;
}

double zeroFraction(const std::vector<float>& v) {
    if (v.empty()) return 0;
    const auto z = std::count(v.begin(), v.end(), 0.f);
    return static_cast<double>(z) / static_cast<double>(v.size());
}

void scatterRows(PassContext& ctx, const LayerWeight& layer, const std::vector<float>& values) {
    ir::Graph& g = *ctx.model.graph;
    const ir::Tensor& old = g.initializers.at(layer.name);
    ir::Tensor t = old.clone();
    float* dst = t.data<float>();
    for (size_t i = 0; i < values.size(); ++i)
        dst[layer.offsets[i]] = values[i];
    const double before =
        zeroFraction(std::vector<float>(old.data<float>(), old.data<float>() + old.numel()));
    g.initializers[layer.name] = std::move(t);
    const auto zeros = std::count(values.begin(), values.end(), 0.f);
    char line[256];
    std::snprintf(line, sizeof line, "%s: %.1f %% zero (%lld / %lld; was %.1f %%)", layer.node->name.c_str(),
                  100.0 * zeroFraction(values), static_cast<long long>(zeros),
                  static_cast<long long>(values.size()), 100.0 * before);
    ctx.report.notes.push_back(line);
    ++ctx.report.applied;
}

ParamSpec skipParam() {
    return {
        "skip", ParamSpec::Type::NodeList, "Node names never pruned (e.g. the LM head), ';'-separated", 0, 0,
        {},     std::vector<std::string>{}};
}

ParamSpec updateParam() {
    return enumParam("update",
                     "none: zero only; refit: least-squares refit of the kept weights so each layer keeps its "
                     "outputs on the calibration inputs (needs calibration)",
                     {"none", "refit"}, "none");
}

ParamSpec dampParam() {
    return floatParam("damp", "Damping λ of the refit, H + λ·mean(diag H)·I", 1e-6, 1.0, calibrate::kDefaultDampRatio);
}

std::vector<ParamSpec> nmMaskParams() {
    return {intParam("n", "Keep N of every M consecutive inputs (0: unstructured at sparsity)", 0, 15, 0),
            intParam("m", "N:M group size", 2, 16, 4)};
}

void noteDenseWeights(PassContext& ctx) {
    ctx.report.notes.push_back(
        "weights stay dense in the file (same bytes); zeros pay off through sparse kernels or compression");
}

} // namespace opstudio::passes::prune
