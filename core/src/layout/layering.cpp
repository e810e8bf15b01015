// Stage 1 of the layered layout: cycle breaking, layer assignment and dummy nodes.
#include "opstudio/layout/layered_graph.h"
#include "opstudio/util/error.h"

#include <algorithm>
#include <string>

namespace opstudio::layout {

namespace {

/// Compressed adjacency (CSR) built from (from, to) pairs, keeping the pairs' order per node.
struct Csr {
    std::vector<int> start, items;
    void build(int n, const std::vector<std::pair<int, int>>& pairs) {
        start.assign(n + 1, 0);
        for (const auto& p : pairs)
            ++start[p.first + 1];
        for (int i = 0; i < n; ++i)
            start[i + 1] += start[i];
        items.resize(pairs.size());
        std::vector<int> fill(start.begin(), start.end() - 1);
        for (const auto& p : pairs)
            items[fill[p.first]++] = p.second;
    }
};

/// Marks DFS back edges. Roots are the sources in index order, then any node not yet reached (nodes
/// on a cycle with no way in), so the result depends only on the input order.
std::vector<char> findBackEdges(const LayoutInput& input, const std::vector<char>& selfLoop) {
    const int n = static_cast<int>(input.nodes.size());
    const int m = static_cast<int>(input.edges.size());
    std::vector<int> outStart(n + 1, 0), outEdges(m);
    std::vector<int> indegree(n, 0);
    for (int e = 0; e < m; ++e) {
        if (selfLoop[e]) continue;
        ++outStart[input.edges[e].from + 1];
        ++indegree[input.edges[e].to];
    }
    for (int i = 0; i < n; ++i)
        outStart[i + 1] += outStart[i];
    std::vector<int> fill(outStart.begin(), outStart.end() - 1);
    for (int e = 0; e < m; ++e)
        if (!selfLoop[e]) outEdges[fill[input.edges[e].from]++] = e;

    std::vector<char> back(m, 0);
    enum : char { kNew, kOnStack, kDone };
    std::vector<char> state(n, kNew);
    std::vector<std::pair<int, int>> stack; // (node, next out-edge slot)
    auto dfs = [&](int root) {
        state[root] = kOnStack;
        stack.push_back({root, outStart[root]});
        while (!stack.empty()) {
            auto& [v, slot] = stack.back();
            if (slot == outStart[v + 1]) {
                state[v] = kDone;
                stack.pop_back();
                continue;
            }
            const int e = outEdges[slot++];
            const int w = input.edges[e].to;
            if (state[w] == kOnStack)
                back[e] = 1; // closes a cycle: draw it upwards
            else if (state[w] == kNew) {
                state[w] = kOnStack;
                stack.push_back({w, outStart[w]});
            }
        }
    };
    for (int v = 0; v < n; ++v)
        if (indegree[v] == 0 && state[v] == kNew) dfs(v);
    for (int v = 0; v < n; ++v)
        if (state[v] == kNew) dfs(v);
    return back;
}

} // namespace

LayeredGraph buildLayeredGraph(const LayoutInput& input) {
    const int n = static_cast<int>(input.nodes.size());
    const int m = static_cast<int>(input.edges.size());
    for (int e = 0; e < m; ++e) {
        const auto& edge = input.edges[e];
        if (edge.from < 0 || edge.from >= n || edge.to < 0 || edge.to >= n)
            throw Error("layout: edge " + std::to_string(e) + " joins a node that does not exist (" +
                        std::to_string(edge.from) + " -> " + std::to_string(edge.to) + ", " +
                        std::to_string(n) + " nodes)");
    }

    LayeredGraph g;
    g.realCount = n;
    g.selfLoop.assign(m, 0);
    for (int e = 0; e < m; ++e)
        g.selfLoop[e] = input.edges[e].from == input.edges[e].to;
    g.reversed = findBackEdges(input, g.selfLoop);

    // The DAG after reversal; oriented edges keep their input index order per node.
    std::vector<std::pair<int, int>> oriented;
    oriented.reserve(m);
    for (int e = 0; e < m; ++e) {
        if (g.selfLoop[e]) continue;
        const auto& edge = input.edges[e];
        oriented.push_back(g.reversed[e] ? std::pair{edge.to, edge.from} : std::pair{edge.from, edge.to});
    }
    Csr succ, pred;
    succ.build(n, oriented);
    std::vector<std::pair<int, int>> flipped(oriented.size());
    for (size_t i = 0; i < oriented.size(); ++i)
        flipped[i] = {oriented[i].second, oriented[i].first};
    pred.build(n, flipped);

    // Topological order (Kahn, FIFO seeded in index order: deterministic).
    std::vector<int> indegree(n, 0), topo;
    topo.reserve(n);
    for (const auto& p : oriented)
        ++indegree[p.second];
    for (int v = 0; v < n; ++v)
        if (indegree[v] == 0) topo.push_back(v);
    for (size_t head = 0; head < topo.size(); ++head) {
        const int v = topo[head];
        for (int i = succ.start[v]; i < succ.start[v + 1]; ++i)
            if (--indegree[succ.items[i]] == 0) topo.push_back(succ.items[i]);
    }

    // Longest path from the sources: layer(v) = 1 + max layer(predecessor). Every edge points down.
    std::vector<int> layer(n, 0);
    for (int v : topo)
        for (int i = pred.start[v]; i < pred.start[v + 1]; ++i)
            layer[v] = std::max(layer[v], layer[pred.items[i]] + 1);

    // Compaction: longest path leaves sources (graph inputs, side branches such as an attention
    // mask's Unsqueeze/Cast chain) at the top, far above their consumers. In reverse topological
    // order (successors final), move a node down to just above its nearest consumer unless that
    // lengthens more edges than it shortens: always for sources, otherwise when it has at least as
    // many outgoing as incoming edges. Ties matter: they let a whole side chain slide down to its
    // consumer one node at a time. Sinks already sit one layer below their last producer. No move
    // adds dummy nodes.
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
        const int v = *it;
        const int outDeg = succ.start[v + 1] - succ.start[v];
        const int inDeg = pred.start[v + 1] - pred.start[v];
        if (outDeg == 0 || outDeg < inDeg) continue;
        int nearest = layer[succ.items[succ.start[v]]];
        for (int i = succ.start[v]; i < succ.start[v + 1]; ++i)
            nearest = std::min(nearest, layer[succ.items[i]]);
        layer[v] = std::max(layer[v], nearest - 1);
    }

    // Drop layers the compaction emptied.
    int layerCount = 0;
    for (int v = 0; v < n; ++v)
        layerCount = std::max(layerCount, layer[v] + 1);
    std::vector<int> used(layerCount, 0);
    for (int v = 0; v < n; ++v)
        used[layer[v]] = 1;
    std::vector<int> remap(layerCount, 0);
    int next = 0;
    for (int l = 0; l < layerCount; ++l)
        remap[l] = used[l] ? next++ : next;
    for (int v = 0; v < n; ++v)
        layer[v] = remap[layer[v]];
    layerCount = next;

    // Dummy nodes: an edge spanning k layers becomes a chain of k segments through k - 1 dummies.
    g.layer = layer;
    g.width.resize(n);
    for (int v = 0; v < n; ++v)
        g.width[v] = input.nodes[v].width;
    std::vector<std::pair<int, int>> segments;
    segments.reserve(oriented.size() * 2);
    g.chainStart.assign(m + 1, 0);
    g.chain.reserve(oriented.size() * 2 + m);
    for (int e = 0; e < m; ++e) {
        const auto& edge = input.edges[e];
        if (g.selfLoop[e]) {
            g.chain.push_back(edge.from);
        } else {
            const int a = g.reversed[e] ? edge.to : edge.from;
            const int b = g.reversed[e] ? edge.from : edge.to;
            int prev = a;
            g.chain.push_back(a);
            for (int l = layer[a] + 1; l < layer[b]; ++l) {
                const int d = static_cast<int>(g.layer.size());
                g.layer.push_back(l);
                g.width.push_back(0.f);
                segments.push_back({prev, d});
                g.chain.push_back(d);
                prev = d;
            }
            segments.push_back({prev, b});
            g.chain.push_back(b);
        }
        g.chainStart[e + 1] = static_cast<int>(g.chain.size());
    }
    const int total = g.nodeCount();
    Csr downCsr, upCsr;
    downCsr.build(total, segments);
    for (auto& s : segments)
        std::swap(s.first, s.second);
    upCsr.build(total, segments);
    g.downStart = std::move(downCsr.start);
    g.down = std::move(downCsr.items);
    g.upStart = std::move(upCsr.start);
    g.up = std::move(upCsr.items);

    // Initial order: DFS discovery order along the segments, roots in index order among the nodes
    // with nothing above them. Subtrees (and components) stay together, a good start for the sweeps.
    g.layers.assign(layerCount, {});
    g.pos.assign(total, -1);
    std::vector<int> stack;
    auto visit = [&](int root) {
        stack.push_back(root);
        while (!stack.empty()) {
            const int v = stack.back();
            stack.pop_back();
            if (g.pos[v] >= 0) continue;
            g.pos[v] = static_cast<int>(g.layers[g.layer[v]].size());
            g.layers[g.layer[v]].push_back(v);
            // Push in reverse so the first neighbour is visited first.
            for (int i = g.downStart[v + 1] - 1; i >= g.downStart[v]; --i)
                if (g.pos[g.down[i]] < 0) stack.push_back(g.down[i]);
        }
    };
    for (int v = 0; v < n; ++v)
        if (g.upStart[v] == g.upStart[v + 1]) visit(v);
    for (int v = 0; v < total; ++v)
        if (g.pos[v] < 0) visit(v);
    return g;
}

} // namespace opstudio::layout
