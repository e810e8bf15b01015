// The Markdown report: the HTML report's tables (GitHub-flavoured), without charts.
#include "opstudio/report/report.h"

#include <cstdio>
#include <sstream>

namespace opstudio::report {

namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string general(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

/// A table cell: pipes escaped, line breaks flattened.
std::string cell(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n' || c == '\r')
            out += ' ';
        else
            out += c;
    }
    return out;
}

void table(std::ostringstream& out, const std::vector<std::string>& header,
           const std::vector<std::vector<std::string>>& rows) {
    out << "|";
    for (const auto& h : header)
        out << " " << cell(h) << " |";
    out << "\n|";
    for (size_t i = 0; i < header.size(); ++i)
        out << (i == 0 ? " --- |" : " ---: |");
    out << "\n";
    for (const auto& r : rows) {
        out << "|";
        for (const auto& c : r)
            out << " " << cell(c) << " |";
        out << "\n";
    }
    out << "\n";
}

void modelTable(std::ostringstream& out, const ModelSummary& m, const profile::Profile* p) {
    std::string opsets;
    for (const auto& o : m.opsets)
        opsets += (opsets.empty() ? "" : ", ") + (o.domain.empty() ? std::string("ai.onnx") : o.domain) +
                  " " + std::to_string(o.version);
    std::vector<std::vector<std::string>> rows{{"name", m.name}};
    if (!m.path.empty()) rows.push_back({"file", m.path});
    rows.push_back({"opsets", opsets.empty() ? "-" : opsets});
    rows.push_back({"nodes", std::to_string(m.nodes)});
    rows.push_back({"parameters", std::to_string(m.parameters)});
    rows.push_back({"weights", fixed(m.weightBytes / 1e6, 2) + " MB"});
    if (p)
        rows.push_back(
            {"latency", fixed(p->total.median, 3) + " ms median over " + std::to_string(p->runs) + " runs"});
    table(out, {"", "value"}, rows);
}

void profileTables(std::ostringstream& out, const profile::Profile& p, int topK) {
    out << "### Time by operator type\n\n";
    std::vector<std::vector<std::string>> types;
    for (const auto& t : p.opTypes)
        types.push_back({t.opType, std::to_string(t.count), fixed(t.totalMs, 3), fixed(100 * t.share, 1),
                         fixed(t.gflops, 1), t.bound.empty() ? "-" : t.bound});
    table(out, {"op type", "nodes", "ms", "%", "GFLOP/s", "bound"}, types);
    const auto top = topNodeIndices(p, topK);
    out << "### Top " << top.size() << " nodes by self time\n\n";
    std::vector<std::vector<std::string>> rows;
    int rank = 0;
    for (size_t i : top) {
        const auto& n = p.nodes[i];
        const double share = p.observedTotal.median > 0 ? 100.0 * n.selfMedianMs / p.observedTotal.median : 0;
        rows.push_back({std::to_string(++rank), n.name, n.opType, fixed(n.selfMedianMs, 3), fixed(share, 1),
                        fixed(n.gflops, 1), n.bound.empty() ? "-" : n.bound});
    }
    table(out, {"#", "node", "op", "ms", "%", "GFLOP/s", "bound"}, rows);
}

} // namespace

std::string toMarkdown(const ReportData& d) {
    std::ostringstream out;
    out << "# " << (d.title.empty() ? "OpStudio report: " + d.model.name : d.title) << "\n\n";
    out << "## Model\n\n";
    modelTable(out, d.model, &d.profile);
    out << "## Profile\n\n";
    profileTables(out, d.profile, d.topNodes);
    if (d.optimizedProfile) {
        const auto& a = *d.optimizedProfile;
        const double speedup = a.total.median > 0 ? d.profile.total.median / a.total.median : 0;
        out << "## Before and after optimization\n\n";
        out << "Latency " << fixed(d.profile.total.median, 3) << " ms -> " << fixed(a.total.median, 3)
            << " ms: speedup **" << fixed(speedup, 2) << "x**.\n\n";
        if (d.optimizedModel) modelTable(out, *d.optimizedModel, &a);
        std::vector<std::vector<std::string>> rows;
        for (const auto& t : opTypeDeltas(d.profile, a))
            rows.push_back({t.opType, std::to_string(t.beforeCount), std::to_string(t.afterCount),
                            fixed(t.beforeMs, 3), fixed(t.afterMs, 3), fixed(t.afterMs - t.beforeMs, 3)});
        table(out, {"op type", "nodes before", "nodes after", "ms before", "ms after", "delta ms"}, rows);
        out << "## Optimized profile\n\n";
        profileTables(out, a, d.topNodes);
    }
    if (!d.passes.empty()) {
        out << "## Passes\n\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& r : d.passes)
            rows.push_back({r.pass, std::to_string(r.applied), std::to_string(r.skipped.size()),
                            std::to_string(r.nodesBefore) + " -> " + std::to_string(r.nodesAfter),
                            fixed(r.bytesSaved() / 1e6, 3)});
        table(out, {"pass", "applied", "skipped", "nodes", "MB saved"}, rows);
        std::vector<std::vector<std::string>> skips;
        for (const auto& r : d.passes)
            for (const auto& s : r.skipped)
                skips.push_back({r.pass, s.node, s.opType, s.reason});
        if (!skips.empty()) {
            out << "### Skipped candidates\n\n";
            table(out, {"pass", "node", "op", "reason"}, skips);
        }
    }
    if (d.comparison) {
        const auto& c = *d.comparison;
        out << "## Accuracy (optimized against original)\n\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& o : c.outputs)
            rows.push_back({o.name, general(o.maxAbs), general(o.meanAbs), general(o.maxRel),
                            fixed(o.cosine, 6),
                            o.snrDb >= compare::kIdenticalSnrDb ? "identical" : fixed(o.snrDb, 1),
                            o.classifier ? fixed(100 * o.top1Agreement, 1) + "%" : "-",
                            o.classifier ? fixed(100 * o.top5Agreement, 1) + "%" : "-"});
        table(out, {"output", "max abs", "mean abs", "max rel", "cosine", "SNR dB", "top-1", "top-5"}, rows);
        out << "Latency without profiling (alternating runs): original " << fixed(c.aMs, 3)
            << " ms, optimized " << fixed(c.bMs, 3) << " ms, speedup " << fixed(c.speedup, 2) << "x.\n\n";
        if (c.firstDivergence)
            out << "First divergence: node `" << c.firstDivergence->node << "` (" << c.firstDivergence->opType
                << "), value `" << c.firstDivergence->value << "`, relative error "
                << general(c.firstDivergence->relativeError) << ".\n";
        else
            out << "No intermediate value diverges beyond the threshold.\n";
    }
    return out.str();
}

} // namespace opstudio::report
