// The JSON report (docs/report.md): the report's content for scripts.
#include "opstudio/compare/compare_export.h"
#include "opstudio/report/report.h"

#include <cmath>

namespace opstudio::report {

namespace {

nlohmann::json number(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json modelJson(const ModelSummary& m) {
    nlohmann::json opsets = nlohmann::json::array();
    for (const auto& o : m.opsets)
        opsets.push_back({{"domain", o.domain.empty() ? "ai.onnx" : o.domain}, {"version", o.version}});
    return {{"name", m.name},
            {"path", m.path},
            {"producer", m.producer},
            {"opsets", opsets},
            {"nodes", m.nodes},
            {"total_nodes", m.totalNodes},
            {"parameters", m.parameters},
            {"weight_bytes", m.weightBytes}};
}

nlohmann::json profileJson(const profile::Profile& p, int topK) {
    nlohmann::json types = nlohmann::json::array();
    for (const auto& t : p.opTypes)
        types.push_back({{"op_type", t.opType},
                         {"count", t.count},
                         {"total_ms", number(t.totalMs)},
                         {"share", number(t.share)},
                         {"gflops", number(t.gflops)},
                         {"bound", t.bound.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.bound)}});
    nlohmann::json top = nlohmann::json::array();
    for (size_t i : topNodeIndices(p, topK)) {
        const auto& n = p.nodes[i];
        top.push_back({{"name", n.name},
                       {"op_type", n.opType},
                       {"self_ms", number(n.selfMedianMs)},
                       {"share", number(p.observedTotal.median > 0 ? n.selfMedianMs / p.observedTotal.median : 0)},
                       {"gflops", number(n.gflops)},
                       {"bound", n.bound.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.bound)},
                       {"kernel", n.kernelPath}});
    }
    return {{"total_ms", number(p.total.median)},
            {"p10_ms", number(p.total.p10)},
            {"p90_ms", number(p.total.p90)},
            {"runs", p.runs},
            {"threads", p.threads},
            {"total_flops", number(p.totalFlops)},
            {"op_types", types},
            {"top_nodes", top}};
}

} // namespace

nlohmann::json toJson(const ReportData& d) {
    nlohmann::json j{{"format", "opstudio-report"},
                     {"version", 1},
                     {"title", d.title.empty() ? "OpStudio report: " + d.model.name : d.title},
                     {"model", modelJson(d.model)},
                     {"profile", profileJson(d.profile, d.topNodes)}};
    if (d.optimizedProfile) {
        nlohmann::json opt{{"profile", profileJson(*d.optimizedProfile, d.topNodes)}};
        opt["model"] = d.optimizedModel ? modelJson(*d.optimizedModel) : nlohmann::json(nullptr);
        const double after = d.optimizedProfile->total.median;
        opt["speedup"] = number(after > 0 ? d.profile.total.median / after : 0);
        nlohmann::json deltas = nlohmann::json::array();
        for (const auto& t : opTypeDeltas(d.profile, *d.optimizedProfile))
            deltas.push_back({{"op_type", t.opType},
                              {"before_ms", number(t.beforeMs)},
                              {"after_ms", number(t.afterMs)},
                              {"before_count", t.beforeCount},
                              {"after_count", t.afterCount}});
        opt["op_types"] = deltas;
        j["optimized"] = std::move(opt);
    } else {
        j["optimized"] = nullptr;
    }
    nlohmann::json passes = nlohmann::json::array();
    for (const auto& r : d.passes) {
        nlohmann::json skipped = nlohmann::json::array();
        for (const auto& s : r.skipped)
            skipped.push_back({{"node", s.node}, {"op_type", s.opType}, {"reason", s.reason}});
        passes.push_back({{"pass", r.pass},
                          {"applied", r.applied},
                          {"nodes_before", r.nodesBefore},
                          {"nodes_after", r.nodesAfter},
                          {"bytes_saved", r.bytesSaved()},
                          {"wall_ms", number(r.wallMs)},
                          {"skipped", skipped},
                          {"notes", r.notes}});
    }
    j["passes"] = std::move(passes);
    j["comparison"] = d.comparison ? compare::toJson(*d.comparison) : nlohmann::json(nullptr);
    return j;
}

} // namespace opstudio::report
