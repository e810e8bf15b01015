// Stage 2 of the layered layout: crossing reduction by layer sweeps.
// Down sweep: layer by layer from the top, each node's key is the barycenter (mean position) of its
// neighbours in the layer above; the layer is stably sorted by key. Up sweep: the same from the bottom
// with the neighbours below. Nodes with no neighbour on the fixed side keep their current index as
// key, so they stay roughly where they were. After each down+up sweep a transposition pass swaps
// adjacent nodes when that removes crossings (counted locally, only for low-degree pairs so a pass
// stays linear). The best order seen (by the exact O(E log V) count) is kept.
#include "opstudio/layout/layered_graph.h"

#include <algorithm>

namespace opstudio::layout {

namespace {

// Work cap: sweeps * (nodes + segments) stays under this; keeps huge graphs near-linear.
constexpr int64_t kSweepWorkBudget = 50'000'000;
// Transposition considers a pair only when deg(u) * deg(v) is at most this (local count cost).
constexpr int kTransposeMaxPairWork = 64;
constexpr int kTransposePasses = 3;
// Stop when this many consecutive sweeps bring no improvement.
constexpr int kPatience = 2;

struct KeyedNode {
    double key;
    int index; // current index: tie-break keeps the sort stable and deterministic
    int node;
};

void sortLayer(LayeredGraph& g, int l, const std::vector<int>& start, const std::vector<int>& adj,
               std::vector<KeyedNode>& buffer) {
    auto& layer = g.layers[l];
    if (layer.size() < 2) return;
    buffer.clear();
    for (int i = 0; i < static_cast<int>(layer.size()); ++i) {
        const int v = layer[i];
        const int deg = start[v + 1] - start[v];
        double key = i;
        if (deg > 0) {
            int64_t sum = 0;
            for (int k = start[v]; k < start[v + 1]; ++k)
                sum += g.pos[adj[k]];
            key = static_cast<double>(sum) / deg; // barycenter of the fixed neighbours
        }
        buffer.push_back({key, i, v});
    }
    std::sort(buffer.begin(), buffer.end(), [](const KeyedNode& a, const KeyedNode& b) {
        return a.key != b.key ? a.key < b.key : a.index < b.index;
    });
    for (int i = 0; i < static_cast<int>(buffer.size()); ++i) {
        layer[i] = buffer[i].node;
        g.pos[buffer[i].node] = i;
    }
}

/// Crossings among the segments of u and v on one side when u is left of v: pairs (a, b), a a
/// neighbour of u and b of v, with pos(a) > pos(b). `swapped` counts pos(a) < pos(b) instead.
void pairCrossings(const LayeredGraph& g, const std::vector<int>& start, const std::vector<int>& adj, int u,
                   int v, int64_t& asIs, int64_t& swapped) {
    for (int i = start[u]; i < start[u + 1]; ++i) {
        const int pa = g.pos[adj[i]];
        for (int k = start[v]; k < start[v + 1]; ++k) {
            const int pb = g.pos[adj[k]];
            asIs += pa > pb;
            swapped += pa < pb;
        }
    }
}

bool transposeLayer(LayeredGraph& g, int l) {
    auto& layer = g.layers[l];
    bool improved = false;
    for (int i = 0; i + 1 < static_cast<int>(layer.size()); ++i) {
        const int u = layer[i], v = layer[i + 1];
        const int64_t degU = (g.upStart[u + 1] - g.upStart[u]) + (g.downStart[u + 1] - g.downStart[u]);
        const int64_t degV = (g.upStart[v + 1] - g.upStart[v]) + (g.downStart[v + 1] - g.downStart[v]);
        if (degU == 0 || degV == 0 || degU * degV > kTransposeMaxPairWork) continue;
        int64_t asIs = 0, swapped = 0;
        pairCrossings(g, g.upStart, g.up, u, v, asIs, swapped);
        pairCrossings(g, g.downStart, g.down, u, v, asIs, swapped);
        if (swapped < asIs) {
            std::swap(layer[i], layer[i + 1]);
            g.pos[u] = i + 1;
            g.pos[v] = i;
            improved = true;
        }
    }
    return improved;
}

} // namespace

void orderLayers(LayeredGraph& g, int sweeps) {
    if (g.layerCount() < 2 || sweeps <= 0) return;
    const int64_t work = static_cast<int64_t>(g.nodeCount()) + static_cast<int64_t>(g.down.size()) + 1;
    sweeps = static_cast<int>(std::min<int64_t>(sweeps, std::max<int64_t>(1, kSweepWorkBudget / work)));

    int64_t best = countCrossings(g);
    auto bestLayers = g.layers;
    std::vector<KeyedNode> buffer;
    int sinceImproved = 0;
    for (int s = 0; s < sweeps && best > 0 && sinceImproved < kPatience; ++s) {
        for (int l = 1; l < g.layerCount(); ++l)
            sortLayer(g, l, g.upStart, g.up, buffer);
        for (int l = g.layerCount() - 2; l >= 0; --l)
            sortLayer(g, l, g.downStart, g.down, buffer);
        for (int pass = 0; pass < kTransposePasses; ++pass) {
            bool improved = false;
            for (int l = 0; l < g.layerCount(); ++l)
                improved |= transposeLayer(g, l);
            if (!improved) break;
        }
        const int64_t crossings = countCrossings(g);
        if (crossings < best) {
            best = crossings;
            bestLayers = g.layers;
            sinceImproved = 0;
        } else {
            ++sinceImproved;
        }
    }
    g.layers = std::move(bestLayers);
    for (const auto& layer : g.layers)
        for (int i = 0; i < static_cast<int>(layer.size()); ++i)
            g.pos[layer[i]] = i;
}

} // namespace opstudio::layout
