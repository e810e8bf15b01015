// toSvg: one self-contained SVG file (no external fonts, styles or scripts).
#include "opstudio/layout/layout.h"

#include <cstdio>
#include <string>

namespace opstudio::layout {

namespace {

constexpr float kMargin = 16.f;

std::string escapeXml(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        switch (ch) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            out += ch;
        }
    }
    return out;
}

/// Fixed one-decimal numbers: compact and identical across runs.
std::string num(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(v));
    return buf;
}

} // namespace

std::string toSvg(const GraphLayoutInput& graph, const LayoutResult& layout) {
    std::string s;
    const float width = layout.width + 2 * kMargin, height = layout.height + 2 * kMargin;
    s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" + num(height) +
         "\" viewBox=\"0 0 " + num(width) + " " + num(height) + "\">\n";
    s += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
         "markerHeight=\"7\" "
         "orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#777\"/></marker></defs>\n";
    s += "<style>"
         ".edge{fill:none;stroke:#888;stroke-width:1.2}"
         ".node rect{fill:#e8eef7;stroke:#5b7bb2;stroke-width:1}"
         ".input rect{fill:#e3f2e6;stroke:#3a8d4f;stroke-width:1}"
         ".output rect{fill:#fdeee0;stroke:#c77a2c;stroke-width:1}"
         "text{font-family:'DejaVu Sans',Arial,sans-serif;text-anchor:middle;fill:#222}"
         ".label{font-size:" +
         num(kLabelFontPx) +
         "px}.node .label{font-weight:bold}"
         ".detail{font-size:" +
         num(kDetailFontPx) +
         "px;fill:#555}"
         "</style>\n";
    s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    s += "<g transform=\"translate(" + num(kMargin) + "," + num(kMargin) + ")\">\n";

    // Edges first so boxes sit on top of them.
    for (size_t e = 0; e < layout.edges.size(); ++e) {
        const auto& points = layout.edges[e];
        if (points.size() < 2) continue;
        s += "<polyline class=\"edge\" marker-end=\"url(#arrow)\" points=\"";
        for (size_t i = 0; i < points.size(); ++i)
            s += (i ? " " : "") + num(points[i].x) + "," + num(points[i].y);
        s += "\">";
        if (e < graph.edgeValues.size()) s += "<title>" + escapeXml(graph.edgeValues[e]) + "</title>";
        s += "</polyline>\n";
    }

    for (size_t i = 0; i < graph.items.size() && i < layout.centers.size(); ++i) {
        const auto& item = graph.items[i];
        const auto& box = graph.input.nodes[i];
        const Point c = layout.centers[i];
        const char* cls = item.kind == GraphLayoutInput::Kind::GraphInput    ? "input"
                          : item.kind == GraphLayoutInput::Kind::GraphOutput ? "output"
                                                                             : "node";
        // Graph inputs and outputs are pills, operators are rounded rectangles.
        const float radius = item.kind == GraphLayoutInput::Kind::Node ? 4.f : box.height * 0.5f;
        s += std::string("<g class=\"") + cls + "\"><rect x=\"" + num(c.x - box.width * 0.5f) + "\" y=\"" +
             num(c.y - box.height * 0.5f) + "\" width=\"" + num(box.width) + "\" height=\"" +
             num(box.height) + "\" rx=\"" + num(radius) + "\"/>";
        // Baselines: one line centered; two lines split around the center.
        const bool twoLines = !item.detail.empty();
        const float labelY = twoLines ? c.y - 3.f : c.y + kLabelFontPx * 0.35f;
        s += "<text class=\"label\" x=\"" + num(c.x) + "\" y=\"" + num(labelY) + "\">" +
             escapeXml(item.label) + "</text>";
        if (twoLines)
            s += "<text class=\"detail\" x=\"" + num(c.x) + "\" y=\"" + num(c.y + kDetailFontPx + 2.f) +
                 "\">" + escapeXml(item.detail) + "</text>";
        s += "</g>\n";
    }
    s += "</g>\n</svg>\n";
    return s;
}

} // namespace opstudio::layout
