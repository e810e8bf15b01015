#pragma once
// The stages of the layered layout, exposed for tests and benchmarks. layoutGraph() runs them in order:
//   buildLayeredGraph (cycle breaking, layering, dummy nodes) -> orderLayers (crossing reduction)
//   -> assignCoordinates -> edge routing (layout.cpp).
// Node ids [0, realCount) are the input boxes; ids from realCount on are dummy nodes that carry
// long edges through the layers they span.
#include "opstudio/layout/layout.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace opstudio::layout {

/// A proper layered graph: every segment joins a node in layer L to one in layer L + 1.
struct LayeredGraph {
    int realCount = 0;
    std::vector<int> layer;   // per node (real and dummy)
    std::vector<float> width; // per node; dummies are 0 wide
    // Segments as compressed adjacency lists: neighbours of v below are down[downStart[v] .. downStart[v+1]).
    std::vector<int> downStart, down;
    std::vector<int> upStart, up;
    std::vector<std::vector<int>> layers; // node order inside each layer (left to right)
    std::vector<int> pos;                 // index of each node inside its layer
    // Per input edge: the nodes it passes through in layer order (source, dummies..., target), and
    // whether it was reversed to break a cycle (then the chain runs from the input edge's target).
    std::vector<int> chainStart, chain;
    std::vector<char> reversed;
    std::vector<char> selfLoop;

    int nodeCount() const { return static_cast<int>(layer.size()); }
    int layerCount() const { return static_cast<int>(layers.size()); }
    bool isDummy(int v) const { return v >= realCount; }
};

/// Breaks cycles (DFS back edges reversed), assigns layers (longest path from the sources, then
/// nodes pulled down next to their consumers) and splits edges longer than one layer with dummies.
/// The order inside each layer is the initial one (DFS discovery order).
LayeredGraph buildLayeredGraph(const LayoutInput& input);

/// Crossing reduction: barycenter sweeps down and up plus adjacent transpositions, keeping the best
/// order seen. Work is capped so the stage stays near-linear in nodes + segments.
void orderLayers(LayeredGraph& g, int sweeps);

/// Crossings between every pair of adjacent layers for the current order, O(E log V).
int64_t countCrossings(const LayeredGraph& g);

/// Crossings of straight segments between two rows given as (upper position, lower position) pairs:
/// the inversions of the lower positions once the pairs are sorted, counted with a Fenwick tree.
int64_t countBilayerCrossings(std::vector<std::pair<int, int>> segments);

/// x per node (centers, left edge of the drawing at 0) and the top / height of each layer.
struct Coordinates {
    std::vector<float> x;
    std::vector<float> layerTop, layerHeight;
};
Coordinates assignCoordinates(const LayeredGraph& g, const LayoutInput& input, const LayoutOptions& options);

} // namespace opstudio::layout
