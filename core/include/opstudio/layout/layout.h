#pragma once
// Layered (Sugiyama-style) graph layout, Qt-free: layer assignment, crossing reduction,
// coordinate assignment and edge routing. Deterministic: the same input gives the same output.
// Built to lay out 10,000 nodes in under a second (Graphviz dot is quadratic here).
#include "opstudio/ir/graph.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace opstudio::layout {

struct Point {
    float x = 0, y = 0;
};

/// Abstract input: box sizes and directed edges (from -> to, pointing downwards).
struct LayoutInput {
    struct Box {
        float width = 120, height = 40;
    };
    struct Edge {
        int from = 0, to = 0;
    };
    std::vector<Box> nodes;
    std::vector<Edge> edges;
};

struct LayoutOptions {
    float layerGap = 48;    // vertical space between layers
    float nodeGap = 24;     // horizontal space between boxes in a layer
    int crossingSweeps = 4; // barycenter sweeps (down + up counts as one)
};

struct LayoutResult {
    std::vector<Point> centers;            // box centers, one per input node
    std::vector<int> layers;               // layer index per node (0 at the top)
    std::vector<std::vector<Point>> edges; // polyline per input edge (from bottom of source to top of target)
    float width = 0, height = 0;           // bounding box (origin at 0,0)
    int64_t crossings = 0;                 // edge crossings between adjacent layers after reduction
    double layoutMs = 0;
};

/// Lays out an abstract graph. Cycles are broken by reversing back edges (drawn upwards).
LayoutResult layoutGraph(const LayoutInput& input, const LayoutOptions& options = {});

/// Box metrics buildGraphLayoutInput sizes with; the GUI draws the text with the same numbers.
/// width = max(kMinBoxWidth, kLabelCharWidth * longest line in characters + 2 * kBoxPadding);
/// height = kBoxHeight, or kBoxHeightTwoLines when the item has a detail line.
inline constexpr float kLabelFontPx = 11.f;   // op type / value name (bold for nodes)
inline constexpr float kDetailFontPx = 10.f;  // the second line (main attributes / shape)
inline constexpr float kLabelCharWidth = 7.f; // average advance at 11 px (DejaVu Sans)
inline constexpr float kBoxPadding = 12.f;    // left and right
inline constexpr float kMinBoxWidth = 90.f;
inline constexpr float kBoxHeight = 36.f;
inline constexpr float kBoxHeightTwoLines = 52.f;
inline constexpr size_t kMaxLineChars = 40; // longer labels end in "..."

/// A model graph as layout input: one box per node (Constant nodes and initializers are folded into
/// their consumers, as the studio shows them), graph inputs and outputs as boxes of their own.
struct GraphLayoutInput {
    LayoutInput input;
    enum class Kind { Node, GraphInput, GraphOutput };
    struct Item {
        Kind kind = Kind::Node;
        ir::NodeId node = ir::kNoNode; // for Kind::Node
        std::string label;             // op type or value name
        std::string value;             // graph input/output name
        std::string detail;            // second line: main attributes ("3x3 s2 g32"), or dtype + shape
                                       // for graph inputs/outputs; empty for one-line boxes
    };
    std::vector<Item> items;             // parallel to input.nodes
    std::vector<std::string> edgeValues; // value name carried by each edge
};
GraphLayoutInput buildGraphLayoutInput(const ir::Graph& graph);

/// SVG rendering of a laid-out model graph (boxes labelled by op type, edges as polylines).
std::string toSvg(const GraphLayoutInput& graph, const LayoutResult& layout);

} // namespace opstudio::layout
