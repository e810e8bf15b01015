// Counting crossings between adjacent layers in O(E log V) (Barth, Jünger, Mutzel 2004).
// Two straight segments (u1, v1), (u2, v2) between the same two rows cross exactly when their
// endpoints are in opposite orders: u1 < u2 and v1 > v2. Sorting the segments by (u, v) turns the
// count into the number of inversions in the sequence of v positions, which a Fenwick tree over the
// lower row counts in O(log V) per segment. Segments sharing an endpoint do not cross.
#include "opstudio/layout/layered_graph.h"

#include <algorithm>

namespace opstudio::layout {

namespace {

/// Inversions (i < j with seq[i] > seq[j]) of a sequence of values in [0, size).
int64_t countInversions(const std::vector<int>& seq, int size, std::vector<int>& tree) {
    tree.assign(size + 1, 0);
    int64_t inversions = 0;
    int64_t inserted = 0;
    for (int q : seq) {
        // Inserted values <= q: prefix sum up to q (1-based index q + 1).
        int64_t notGreater = 0;
        for (int i = q + 1; i > 0; i -= i & -i)
            notGreater += tree[i];
        inversions += inserted - notGreater;
        for (int i = q + 1; i <= size; i += i & -i)
            ++tree[i];
        ++inserted;
    }
    return inversions;
}

} // namespace

int64_t countBilayerCrossings(std::vector<std::pair<int, int>> segments) {
    if (segments.size() < 2) return 0;
    std::sort(segments.begin(), segments.end());
    int size = 0;
    std::vector<int> seq;
    seq.reserve(segments.size());
    for (const auto& s : segments) {
        seq.push_back(s.second);
        size = std::max(size, s.second + 1);
    }
    std::vector<int> tree;
    return countInversions(seq, size, tree);
}

int64_t countCrossings(const LayeredGraph& g) {
    int64_t total = 0;
    std::vector<int> seq, tree;
    for (int l = 0; l + 1 < g.layerCount(); ++l) {
        seq.clear();
        // Upper nodes in order; each node's lower endpoints sorted: the (u, v)-sorted sequence.
        for (int u : g.layers[l]) {
            const size_t first = seq.size();
            for (int i = g.downStart[u]; i < g.downStart[u + 1]; ++i)
                seq.push_back(g.pos[g.down[i]]);
            std::sort(seq.begin() + static_cast<std::ptrdiff_t>(first), seq.end());
        }
        if (seq.size() < 2) continue;
        total += countInversions(seq, static_cast<int>(g.layers[l + 1].size()), tree);
    }
    return total;
}

} // namespace opstudio::layout
