#pragma once
// Inline SVG bar charts for the HTML report: plain <svg> markup, no scripts, fixed colours.
#include <string>
#include <vector>

namespace opstudio::report {

/// One labelled row; `values` holds one bar per series (1 for a plain chart, 2 for before/after).
struct BarRow {
    std::string label;
    std::vector<double> values;
};

struct BarChart {
    std::string title;               // <title> of the svg (accessible name)
    std::vector<std::string> series; // legend entries, one per value of a row
    std::string unit = "ms";
    std::vector<BarRow> rows;
    int width = 760;
};

/// Horizontal bars, one group per row, scaled to the largest value; labels and values as text.
std::string svgBarChart(const BarChart& chart);

} // namespace opstudio::report
