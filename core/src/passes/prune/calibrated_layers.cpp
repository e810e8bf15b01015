#include "passes/prune/calibrated_layers.h"

namespace opstudio::passes::prune {

namespace {

void requireCalibration(const PassContext& ctx, const std::string& pass) {
    if (!ctx.calibration || ctx.calibration->feeds.empty())
        throw Error(pass + " needs calibration inputs: give opstudio-cli optimize --calibration DIR, "
                           "--calibration-text FILE (language models) or --calibration-random N");
}

/// Why the collector cannot give this layer's inputs; empty when it can.
std::string whyNotCollectable(const PassContext& ctx, const LayerWeight& l) {
    if (l.node->opType == "Conv" && l.node->attrInt("group", 1) != 1)
        return "grouped Conv (group " + std::to_string(l.node->attrInt("group", 1)) +
               "): its input channels differ per group, one Gram matrix does not serve all rows";
    if (l.node->opType == "Conv" && ctx.model.graph->initializers.at(l.name).rank() != 4)
        return "only 2-D Conv calibration inputs are collected";
    if (l.node->name.empty()) return "unnamed node: calibration inputs are collected by node name";
    return {};
}

} // namespace

void keepCollectable(PassContext& ctx, std::vector<LayerWeight>& layers, const std::string& pass) {
    requireCalibration(ctx, pass);
    std::vector<LayerWeight> kept;
    for (auto& l : layers) {
        if (const std::string why = whyNotCollectable(ctx, l); !why.empty()) {
            ctx.skip(*l.node, why);
            continue;
        }
        kept.push_back(std::move(l));
    }
    layers = std::move(kept);
}

void refitMasked(PassContext& ctx, const std::vector<LayerWeight>& layers, std::vector<std::vector<float>>& values,
                 double damp, const std::string& pass) {
    requireCalibration(ctx, pass);
    std::vector<const LayerWeight*> collectable;
    for (const auto& l : layers) {
        if (const std::string why = whyNotCollectable(ctx, l); !why.empty())
            ctx.report.notes.push_back(l.node->name + ": pruned without refit (" + why + ")");
        else
            collectable.push_back(&l);
    }
    const auto inputs = collectInputsOf(ctx, collectable, /*gram=*/true);
    for (size_t i = 0; i < layers.size(); ++i) {
        auto it = inputs.find(layers[i].node->name);
        if (it == inputs.end()) continue;
        const calibrate::LayerInputStats& s = it->second;
        if (s.k != layers[i].k || s.rows == 0) {
            ctx.report.notes.push_back(layers[i].node->name + ": pruned without refit (no matching calibration rows)");
            continue;
        }
        std::vector<float>& w = values[i];
        // The mask is what the score zeroed; the kept weights of each row solve H_SS w_S = (H w)_S against
        // the dense row, so the original weights are the right-hand side.
        const std::vector<float> dense = gatherRows(*ctx.model.graph, layers[i]);
        std::vector<uint8_t> keep(w.size());
        for (size_t j = 0; j < w.size(); ++j)
            keep[j] = w[j] != 0.f;
        w = dense;
        calibrate::refitRows(s.gram, w, keep, layers[i].rows, damp);
        for (size_t j = 0; j < w.size(); ++j)
            if (!keep[j]) w[j] = 0.f;
    }
    ctx.report.notes.push_back("refit: kept weights of " + std::to_string(inputs.size()) +
                               " layers refit by least squares on " +
                               std::to_string(ctx.calibration->feeds.size()) + " calibration sets");
}

std::map<std::string, calibrate::LayerInputStats> collectInputsOf(PassContext& ctx,
                                                                  const std::vector<const LayerWeight*>& layers,
                                                                  bool gram) {
    std::vector<std::string> names;
    for (const LayerWeight* l : layers)
        names.push_back(l->node->name);
    if (names.empty()) return {};
    calibrate::CollectOptions options;
    options.gram = gram;
    options.cancelled = ctx.cancelled;
    auto stats = calibrate::collectLayerInputs(ctx.model, *ctx.calibration, names, options);
    if (!stats.ok()) throw stats.error();
    return std::move(stats.value());
}

std::map<std::string, calibrate::LayerInputStats> collectPrunableInputs(PassContext& ctx,
                                                                        std::vector<LayerWeight>& layers,
                                                                        bool gram, const std::string& pass) {
    keepCollectable(ctx, layers, pass);
    std::vector<const LayerWeight*> all;
    for (const auto& l : layers)
        all.push_back(&l);
    auto stats = collectInputsOf(ctx, all, gram);
    if (!all.empty())
        ctx.report.notes.push_back("calibration: " + std::to_string(ctx.calibration->feeds.size()) +
                                   " sets, inputs of " + std::to_string(all.size()) + " layers");
    return stats;
}

} // namespace opstudio::passes::prune
