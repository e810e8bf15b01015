#include "opstudio/compare/compare_export.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace opstudio::compare {

namespace {

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

std::string pad(const std::string& s, size_t width, bool left = true) {
    if (s.size() >= width) return s + " ";
    const std::string fill(width - s.size(), ' ');
    return left ? s + fill : fill + s;
}

// JSON has no NaN/infinity: such numbers become null.
nlohmann::json number(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

} // namespace

nlohmann::json toJson(const CompareResult& r) {
    nlohmann::json outputs = nlohmann::json::array();
    for (const auto& o : r.outputs) {
        nlohmann::json j{{"name", o.name},
                         {"max_abs", number(o.maxAbs)},
                         {"mean_abs", number(o.meanAbs)},
                         {"max_rel", number(o.maxRel)},
                         {"cosine", number(o.cosine)},
                         {"snr_db", number(o.snrDb)},
                         {"classifier", o.classifier}};
        j["top1"] = o.classifier ? number(o.top1Agreement) : nlohmann::json(nullptr);
        j["top5"] = o.classifier ? number(o.top5Agreement) : nlohmann::json(nullptr);
        outputs.push_back(std::move(j));
    }
    nlohmann::json doc{{"a_ms", number(r.aMs)},
                       {"b_ms", number(r.bMs)},
                       {"speedup", number(r.speedup)},
                       {"a_weight_bytes", r.aWeightBytes},
                       {"b_weight_bytes", r.bWeightBytes},
                       {"a_nodes", r.aNodes},
                       {"b_nodes", r.bNodes},
                       {"outputs", outputs}};
    if (r.firstDivergence) {
        const auto& d = *r.firstDivergence;
        doc["first_divergence"] = {{"node", d.node},
                                   {"op_type", d.opType},
                                   {"value", d.value},
                                   {"relative_error", number(d.relativeError)},
                                   {"max_abs", number(d.maxAbs)}};
    }
    return doc;
}

std::string formatTable(const CompareResult& r) {
    std::ostringstream out;
    out << "latency   A " << fmt("%.3f", r.aMs) << " ms, B " << fmt("%.3f", r.bMs) << " ms (median), speedup "
        << fmt("%.2f", r.speedup) << "x\n";
    out << "weights   A " << fmt("%.2f", r.aWeightBytes / 1e6) << " MB, B "
        << fmt("%.2f", r.bWeightBytes / 1e6) << " MB\n";
    out << "nodes     A " << r.aNodes << ", B " << r.bNodes << "\n\n";
    out << pad("output", 28) << pad("max_abs", 12, false) << pad("mean_abs", 12, false)
        << pad("max_rel", 12, false) << pad("cosine", 11, false) << pad("snr_db", 9, false)
        << pad("top1", 7, false) << pad("top5", 7, false) << "\n";
    for (const auto& o : r.outputs) {
        out << pad(o.name, 28) << pad(fmt("%.3g", o.maxAbs), 12, false)
            << pad(fmt("%.3g", o.meanAbs), 12, false) << pad(fmt("%.3g", o.maxRel), 12, false)
            << pad(fmt("%.6f", o.cosine), 11, false)
            << pad(o.snrDb >= kIdenticalSnrDb ? "inf" : fmt("%.1f", o.snrDb), 9, false)
            << pad(o.classifier ? fmt("%.3f", o.top1Agreement) : "-", 7, false)
            << pad(o.classifier ? fmt("%.3f", o.top5Agreement) : "-", 7, false) << "\n";
    }
    out << "\n";
    if (r.firstDivergence) {
        const auto& d = *r.firstDivergence;
        out << "first divergence: node '" << d.node << "' (" << d.opType << "), value '" << d.value
            << "': relative error " << fmt("%.3g", d.relativeError) << ", max_abs " << fmt("%.3g", d.maxAbs)
            << "\n";
    } else {
        out << "first divergence: none above the threshold\n";
    }
    return out.str();
}

} // namespace opstudio::compare
