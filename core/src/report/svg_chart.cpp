#include "opstudio/report/svg_chart.h"

#include "opstudio/report/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace opstudio::report {

namespace {

constexpr const char* kSeriesColours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759"};
constexpr int kLabelWidth = 190;
constexpr int kValueWidth = 90;
constexpr int kBarHeight = 14;
constexpr int kGap = 8;
constexpr int kTop = 8;

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string valueText(double v, const std::string& unit) {
    char buf[48];
    if (v >= 100)
        std::snprintf(buf, sizeof buf, "%.0f %s", v, unit.c_str());
    else if (v >= 1)
        std::snprintf(buf, sizeof buf, "%.2f %s", v, unit.c_str());
    else
        std::snprintf(buf, sizeof buf, "%.3f %s", v, unit.c_str());
    return buf;
}

std::string shortLabel(const std::string& s) {
    return s.size() > 28 ? s.substr(0, 27) + "\u2026" : s;
}

} // namespace

std::string svgBarChart(const BarChart& chart) {
    const size_t series = std::max<size_t>(1, chart.series.size());
    double maxValue = 0;
    for (const auto& r : chart.rows)
        for (double v : r.values)
            maxValue = std::max(maxValue, v);
    const int groupHeight = static_cast<int>(series) * kBarHeight + kGap;
    const int legendHeight = chart.series.size() > 1 ? 22 : 0;
    const int height = kTop + legendHeight + static_cast<int>(chart.rows.size()) * groupHeight + kGap;
    const int barSpace = std::max(60, chart.width - kLabelWidth - kValueWidth);

    std::ostringstream out;
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" << chart.width
        << "\" height=\"" << height << "\" viewBox=\"0 0 " << chart.width << " " << height
        << "\" role=\"img\">";
    out << "<title>" << escapeHtml(chart.title) << "</title>";
    int y = kTop;
    if (chart.series.size() > 1) {
        int x = kLabelWidth;
        for (size_t s = 0; s < chart.series.size(); ++s) {
            out << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"12\" height=\"12\" fill=\""
                << kSeriesColours[s % 4] << "\"/>";
            out << "<text x=\"" << x + 16 << "\" y=\"" << y + 10 << "\" font-size=\"12\">"
                << escapeHtml(chart.series[s]) << "</text>";
            x += 30 + static_cast<int>(chart.series[s].size()) * 7;
        }
        y += legendHeight;
    }
    for (const auto& row : chart.rows) {
        const int labelY = y + static_cast<int>(series) * kBarHeight / 2 + 4;
        out << "<text x=\"" << kLabelWidth - 6 << "\" y=\"" << labelY
            << "\" font-size=\"12\" text-anchor=\"end\"><title>" << escapeHtml(row.label) << "</title>"
            << escapeHtml(shortLabel(row.label)) << "</text>";
        for (size_t s = 0; s < series; ++s) {
            const double v = s < row.values.size() ? row.values[s] : 0;
            const double w = maxValue > 0 ? barSpace * v / maxValue : 0;
            const int by = y + static_cast<int>(s) * kBarHeight;
            out << "<rect x=\"" << kLabelWidth << "\" y=\"" << by << "\" width=\""
                << num(std::max(w, v > 0 ? 1.0 : 0.0)) << "\" height=\"" << kBarHeight - 2 << "\" fill=\""
                << kSeriesColours[s % 4] << "\"/>";
            out << "<text x=\"" << num(kLabelWidth + w + 4) << "\" y=\"" << by + kBarHeight - 4
                << "\" font-size=\"11\">" << escapeHtml(valueText(v, chart.unit)) << "</text>";
        }
        y += groupHeight;
    }
    out << "</svg>";
    return out.str();
}

} // namespace opstudio::report
