// layoutGraph: the layered layout pipeline and edge routing.
// Edges are polylines through the positions reserved for their dummy nodes: a long edge enters each
// layer it crosses at the top and leaves at the bottom at its dummy's x, which the coordinate stage
// keeps clear of boxes, so edges only cross boxes' rows where a box does not stand.
#include "opstudio/layout/layered_graph.h"

#include <algorithm>
#include <chrono>
#include <tuple>

namespace opstudio::layout {

namespace {

constexpr float kPortSpacing = 12.f;      // between the attachment points of several edges on one side
constexpr float kPortSpanFraction = 0.7f; // ports stay within this share of the box width
constexpr float kSelfLoopReach = 16.f;    // how far a self-loop sticks out to the right

/// x of each edge's attachment on its source (bottom) and target (top), spread along the box in the
/// order of where the edges go so that edges leaving one box do not cross each other.
void assignPorts(const LayeredGraph& g, const LayoutInput& input, const std::vector<float>& x,
                 std::vector<float>& outPort, std::vector<float>& inPort) {
    const int m = static_cast<int>(input.edges.size());
    outPort.assign(m, 0.f);
    inPort.assign(m, 0.f);
    std::vector<std::tuple<int, float, int>> outs, ins; // (node, x of the other end, edge)
    for (int e = 0; e < m; ++e) {
        if (g.selfLoop[e]) continue;
        const int first = g.chainStart[e], last = g.chainStart[e + 1] - 1;
        outs.emplace_back(g.chain[first], x[g.chain[first + 1]], e);
        ins.emplace_back(g.chain[last], x[g.chain[last - 1]], e);
    }
    auto spread = [&](std::vector<std::tuple<int, float, int>>& items, std::vector<float>& port) {
        std::sort(items.begin(), items.end());
        for (size_t i = 0; i < items.size();) {
            size_t j = i;
            const int v = std::get<0>(items[i]);
            while (j < items.size() && std::get<0>(items[j]) == v)
                ++j;
            const int k = static_cast<int>(j - i);
            const float span =
                k > 1 ? std::min(input.nodes[v].width * kPortSpanFraction, (k - 1) * kPortSpacing) : 0.f;
            for (int p = 0; p < k; ++p) {
                const float offset = k > 1 ? -span * 0.5f + span * p / (k - 1) : 0.f;
                port[std::get<2>(items[i + p])] = x[v] + offset;
            }
            i = j;
        }
    };
    spread(outs, outPort);
    spread(ins, inPort);
}

} // namespace

LayoutResult layoutGraph(const LayoutInput& input, const LayoutOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    LayoutResult result;
    const int n = static_cast<int>(input.nodes.size());
    const int m = static_cast<int>(input.edges.size());

    LayeredGraph g = buildLayeredGraph(input);
    orderLayers(g, options.crossingSweeps);
    result.crossings = countCrossings(g);
    const Coordinates c = assignCoordinates(g, input, options);

    result.centers.resize(n);
    result.layers.resize(n);
    for (int v = 0; v < n; ++v) {
        const int l = g.layer[v];
        result.layers[v] = l;
        result.centers[v] = {c.x[v], c.layerTop[l] + c.layerHeight[l] * 0.5f};
    }

    std::vector<float> outPort, inPort;
    assignPorts(g, input, c.x, outPort, inPort);
    result.edges.resize(m);
    for (int e = 0; e < m; ++e) {
        auto& points = result.edges[e];
        const int first = g.chainStart[e], last = g.chainStart[e + 1] - 1;
        if (g.selfLoop[e]) {
            const int v = g.chain[first];
            const Point center = result.centers[v];
            const float right = center.x + input.nodes[v].width * 0.5f;
            const float dy = input.nodes[v].height * 0.25f;
            points = {{right, center.y - dy},
                      {right + kSelfLoopReach, center.y - dy},
                      {right + kSelfLoopReach, center.y + dy},
                      {right, center.y + dy}};
            continue;
        }
        points.reserve(static_cast<size_t>(last - first) * 2 + 4);
        // Leave the source at its bottom; run straight down to the bottom of its layer's row first
        // when the box is shorter than the row (so the edge does not clip a taller neighbour).
        const int source = g.chain[first];
        const int sourceLayer = g.layer[source];
        const float sourceBottom = result.centers[source].y + input.nodes[source].height * 0.5f;
        const float rowBottom = c.layerTop[sourceLayer] + c.layerHeight[sourceLayer];
        points.push_back({outPort[e], sourceBottom});
        if (rowBottom > sourceBottom) points.push_back({outPort[e], rowBottom});
        for (int k = first + 1; k < last; ++k) {
            const int d = g.chain[k];
            const int l = g.layer[d];
            points.push_back({c.x[d], c.layerTop[l]});
            if (c.layerHeight[l] > 0) points.push_back({c.x[d], c.layerTop[l] + c.layerHeight[l]});
        }
        const int target = g.chain[last];
        const int targetLayer = g.layer[target];
        const float targetTop = result.centers[target].y - input.nodes[target].height * 0.5f;
        if (c.layerTop[targetLayer] < targetTop) points.push_back({inPort[e], c.layerTop[targetLayer]});
        points.push_back({inPort[e], targetTop});
        if (g.reversed[e]) std::reverse(points.begin(), points.end()); // drawn upwards, source to target
    }

    for (int v = 0; v < g.nodeCount(); ++v)
        result.width = std::max(result.width, c.x[v] + g.width[v] * 0.5f);
    for (const auto& points : result.edges)
        for (const Point& p : points)
            result.width = std::max(result.width, p.x);
    if (g.layerCount() > 0) result.height = c.layerTop.back() + c.layerHeight.back();

    result.layoutMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    return result;
}

} // namespace opstudio::layout
