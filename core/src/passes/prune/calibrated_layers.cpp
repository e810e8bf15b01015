#include "passes/prune/calibrated_layers.h"

namespace opstudio::passes::prune {

void keepCollectable(PassContext& ctx, std::vector<LayerWeight>& layers, const std::string& pass) {
    if (!ctx.calibration || ctx.calibration->feeds.empty())
        throw Error(pass + " needs calibration inputs: give opstudio-cli optimize --calibration DIR, "
                           "--calibration-text FILE (language models) or --calibration-random N");
    std::vector<LayerWeight> kept;
    for (auto& l : layers) {
        if (l.node->opType == "Conv" && l.node->attrInt("group", 1) != 1) {
            ctx.skip(*l.node, "grouped Conv (group " + std::to_string(l.node->attrInt("group", 1)) +
                                  "): its input channels differ per group, one Gram matrix does not serve all rows");
            continue;
        }
        if (l.node->opType == "Conv" && ctx.model.graph->initializers.at(l.name).rank() != 4) {
            ctx.skip(*l.node, "only 2-D Conv calibration inputs are collected");
            continue;
        }
        if (l.node->name.empty()) {
            ctx.skip(*l.node, "unnamed node: calibration inputs are collected by node name");
            continue;
        }
        kept.push_back(std::move(l));
    }
    layers = std::move(kept);
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
