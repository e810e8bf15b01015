// The HTML report: one file, inline CSS and SVG, readable offline and printable.
#include "opstudio/compare/compare.h"
#include "opstudio/report/report.h"
#include "opstudio/report/svg_chart.h"

#include <cstdio>
#include <sstream>

namespace opstudio::report {

namespace {

constexpr const char* kCss = R"css(
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.kv td:first-child{font-weight:bold;background:#fafafa}
.good{color:#2e7d32}.bad{color:#c62828}.muted{color:#777;font-size:12px}
svg.chart text{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;fill:#222}
details{margin:4px 0 8px}
)css";

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

std::string mb(int64_t bytes) {
    return fixed(static_cast<double>(bytes) / 1e6, 2) + " MB";
}

std::string opsetsText(const ModelSummary& m) {
    std::string s;
    for (const auto& o : m.opsets)
        s += (s.empty() ? "" : ", ") + (o.domain.empty() ? std::string("ai.onnx") : o.domain) + " " +
             std::to_string(o.version);
    return s.empty() ? "-" : s;
}

class Html {
public:
    Html& raw(const std::string& s) {
        m_out << s;
        return *this;
    }
    Html& text(const std::string& s) {
        m_out << escapeHtml(s);
        return *this;
    }
    Html& element(const std::string& tag, const std::string& content, const std::string& cls = {}) {
        m_out << "<" << tag;
        if (!cls.empty()) m_out << " class=\"" << cls << "\"";
        m_out << ">" << escapeHtml(content) << "</" << tag << ">";
        return *this;
    }
    /// A table; cells that parse as numbers are right-aligned.
    Html& table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::string& cls = {}) {
        m_out << "<table" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">";
        if (!header.empty()) {
            m_out << "<thead><tr>";
            for (const auto& h : header)
                m_out << "<th>" << escapeHtml(h) << "</th>";
            m_out << "</tr></thead>";
        }
        m_out << "<tbody>";
        for (const auto& row : rows) {
            m_out << "<tr>";
            for (const auto& c : row)
                m_out << (looksNumeric(c) ? "<td class=\"n\">" : "<td>") << escapeHtml(c) << "</td>";
            m_out << "</tr>";
        }
        m_out << "</tbody></table>\n";
        return *this;
    }
    std::string str() const { return m_out.str(); }

private:
    static bool looksNumeric(const std::string& s) {
        if (s.empty()) return false;
        const char c = s[0];
        return (c >= '0' && c <= '9') ||
               ((c == '-' || c == '+') && s.size() > 1 && s[1] >= '0' && s[1] <= '9');
    }
    std::ostringstream m_out;
};

void modelSection(Html& h, const std::string& heading, const ModelSummary& m, const profile::Profile* p) {
    h.element("h2", heading);
    std::vector<std::vector<std::string>> rows{{"name", m.name}};
    if (!m.path.empty()) rows.push_back({"file", m.path});
    if (!m.producer.empty()) rows.push_back({"producer", m.producer});
    rows.push_back({"opsets", opsetsText(m)});
    rows.push_back(
        {"nodes",
         std::to_string(m.nodes) +
             (m.totalNodes > m.nodes ? " (" + std::to_string(m.totalNodes) + " with subgraphs)" : "")});
    rows.push_back({"parameters", std::to_string(m.parameters)});
    rows.push_back({"weights", mb(m.weightBytes)});
    if (p) {
        rows.push_back({"latency", fixed(p->total.median, 3) + " ms median (p10 " + fixed(p->total.p10, 3) +
                                       ", p90 " + fixed(p->total.p90, 3) + ") over " +
                                       std::to_string(p->runs) + " runs, " + std::to_string(p->threads) +
                                       " thread" + (p->threads == 1 ? "" : "s")});
        rows.push_back(
            {"compute", fixed(p->totalFlops / 1e9, 3) + " GFLOP per run, " +
                            fixed(p->total.median > 0 ? p->totalFlops / (p->total.median * 1e6) : 0, 1) +
                            " GFLOP/s"});
    }
    h.table({}, rows, "kv");
}

void profileSection(Html& h, const std::string& heading, const profile::Profile& p, int topK) {
    h.element("h2", heading);
    BarChart chart;
    chart.title = "Time by operator type";
    chart.series = {"self time"};
    const size_t shown = 15;
    double other = 0;
    for (size_t i = 0; i < p.opTypes.size(); ++i) {
        if (i < shown)
            chart.rows.push_back({p.opTypes[i].opType, {p.opTypes[i].totalMs}});
        else
            other += p.opTypes[i].totalMs;
    }
    if (other > 0)
        chart.rows.push_back({"other (" + std::to_string(p.opTypes.size() - shown) + " types)", {other}});
    h.element("h3", "Time by operator type");
    h.raw(svgBarChart(chart)).raw("\n");

    std::vector<std::vector<std::string>> types;
    for (const auto& t : p.opTypes)
        types.push_back({t.opType, std::to_string(t.count), fixed(t.totalMs, 3), fixed(100 * t.share, 1),
                         fixed(t.gflops, 1), t.bound.empty() ? "-" : t.bound});
    h.table({"op type", "nodes", "ms", "%", "GFLOP/s", "bound"}, types);

    const auto top = topNodeIndices(p, topK);
    h.element("h3", "Top " + std::to_string(top.size()) + " nodes by self time");
    std::vector<std::vector<std::string>> rows;
    int rank = 0;
    for (size_t i : top) {
        const auto& n = p.nodes[i];
        const double share = p.observedTotal.median > 0 ? 100.0 * n.selfMedianMs / p.observedTotal.median : 0;
        rows.push_back({std::to_string(++rank), n.name, n.opType, fixed(n.selfMedianMs, 3), fixed(share, 1),
                        fixed(n.gflops, 1), n.bound.empty() ? "-" : n.bound,
                        n.bound.empty() ? "-" : fixed(n.rooflinePercent, 0), n.kernelPath});
    }
    h.table({"#", "node", "op", "ms", "%", "GFLOP/s", "bound", "% roofline", "kernel"}, rows);
}

void optimizedSection(Html& h, const ReportData& d) {
    const auto& before = d.profile;
    const auto& after = *d.optimizedProfile;
    h.element("h2", "Before and after optimization");
    const double speedup = after.total.median > 0 ? before.total.median / after.total.median : 0;
    std::vector<std::vector<std::string>> rows{
        {"latency", fixed(before.total.median, 3) + " ms \u2192 " + fixed(after.total.median, 3) + " ms"},
        {"speedup", fixed(speedup, 2) + "x"}};
    if (d.optimizedModel) {
        rows.push_back(
            {"nodes", std::to_string(d.model.nodes) + " \u2192 " + std::to_string(d.optimizedModel->nodes)});
        rows.push_back({"weights", mb(d.model.weightBytes) + " \u2192 " + mb(d.optimizedModel->weightBytes)});
    }
    h.table({}, rows, "kv");

    BarChart chart;
    chart.title = "Time by operator type, before and after";
    chart.series = {"before", "after"};
    std::vector<std::vector<std::string>> table;
    for (const auto& t : opTypeDeltas(before, after)) {
        chart.rows.push_back({t.opType, {t.beforeMs, t.afterMs}});
        table.push_back({t.opType, std::to_string(t.beforeCount), std::to_string(t.afterCount),
                         fixed(t.beforeMs, 3), fixed(t.afterMs, 3), fixed(t.afterMs - t.beforeMs, 3)});
    }
    h.raw(svgBarChart(chart)).raw("\n");
    h.table({"op type", "nodes before", "nodes after", "ms before", "ms after", "\u0394 ms"}, table);
}

void passesSection(Html& h, const std::vector<passes::PassReport>& reports) {
    h.element("h2", "Passes");
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : reports)
        rows.push_back({r.pass, std::to_string(r.applied), std::to_string(r.skipped.size()),
                        std::to_string(r.nodesBefore) + " \u2192 " + std::to_string(r.nodesAfter),
                        fixed(static_cast<double>(r.bytesSaved()) / 1e6, 3), fixed(r.wallMs, 1)});
    h.table({"pass", "applied", "skipped", "nodes", "MB saved", "ms"}, rows);
    constexpr size_t kMaxSkips = 50;
    for (const auto& r : reports) {
        if (r.skipped.empty() && r.notes.empty()) continue;
        h.raw("<details><summary>")
            .text(r.pass + ": " + std::to_string(r.skipped.size()) + " skipped")
            .raw("</summary>");
        for (const auto& note : r.notes)
            h.element("p", note, "muted");
        std::vector<std::vector<std::string>> skips;
        for (size_t i = 0; i < r.skipped.size() && i < kMaxSkips; ++i)
            skips.push_back({r.skipped[i].node, r.skipped[i].opType, r.skipped[i].reason});
        if (!skips.empty()) h.table({"node", "op", "reason"}, skips);
        if (r.skipped.size() > kMaxSkips)
            h.element("p", "and " + std::to_string(r.skipped.size() - kMaxSkips) + " more", "muted");
        h.raw("</details>\n");
    }
}

void comparisonSection(Html& h, const compare::CompareResult& c) {
    h.element("h2", "Accuracy (optimized against original)");
    std::vector<std::vector<std::string>> rows;
    for (const auto& o : c.outputs)
        rows.push_back({o.name, general(o.maxAbs), general(o.meanAbs), general(o.maxRel), fixed(o.cosine, 6),
                        o.snrDb >= compare::kIdenticalSnrDb ? "identical" : fixed(o.snrDb, 1),
                        o.classifier ? fixed(100 * o.top1Agreement, 1) + "%" : "-",
                        o.classifier ? fixed(100 * o.top5Agreement, 1) + "%" : "-"});
    h.table({"output", "max abs", "mean abs", "max rel", "cosine", "SNR dB", "top-1", "top-5"}, rows);
    h.element("p", "Latency without profiling (alternating runs): original " + fixed(c.aMs, 3) +
                       " ms, optimized " + fixed(c.bMs, 3) + " ms, speedup " + fixed(c.speedup, 2) + "x.");
    h.raw("<p>");
    if (c.firstDivergence) {
        const auto& d = *c.firstDivergence;
        h.raw("<span class=\"bad\">First divergence</span>: node <code>")
            .text(d.node)
            .raw("</code> (")
            .text(d.opType)
            .raw("), value <code>")
            .text(d.value)
            .raw("</code>, relative error ")
            .text(general(d.relativeError))
            .raw(", max abs ")
            .text(general(d.maxAbs));
    } else {
        h.raw("<span class=\"good\">No intermediate value diverges beyond the threshold.</span>");
    }
    h.raw("</p>\n");
}

} // namespace

std::string toHtml(const ReportData& d) {
    const std::string title = d.title.empty() ? "OpStudio report: " + d.model.name : d.title;
    Html h;
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.element("title", title);
    h.raw("<style>").raw(kCss).raw("</style></head>\n<body>\n");
    h.element("h1", title);
    h.element("p",
              "Generated by OpStudio " + std::string(OPSTUDIO_VERSION) +
                  ". Times are medians of repeated runs.",
              "muted");
    modelSection(h, "Model", d.model, &d.profile);
    profileSection(h, "Profile", d.profile, d.topNodes);
    if (d.optimizedProfile) {
        if (d.optimizedModel) modelSection(h, "Optimized model", *d.optimizedModel, &*d.optimizedProfile);
        optimizedSection(h, d);
        profileSection(h, "Optimized profile", *d.optimizedProfile, d.topNodes);
    }
    if (!d.passes.empty()) passesSection(h, d.passes);
    if (d.comparison) comparisonSection(h, *d.comparison);
    h.raw("</body></html>\n");
    return h.str();
}

} // namespace opstudio::report
