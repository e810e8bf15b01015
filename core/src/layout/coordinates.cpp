// Stage 3 of the layered layout: coordinates.
// y: layers stacked top-down; a layer is as tall as its tallest box, boxes are centered in it.
// x: a priority method solved exactly per layer. Each node wants to sit at the mean x of its
// neighbours in the reference layer (above on down passes, below on up passes, both on the last),
// with a priority weight: dummy nodes (long edges) weigh most so long edges run straight, real nodes
// weigh by their number of neighbours, nodes without neighbours barely pull. Keeping the order and
// the minimum separations, the best positions minimise
//     sum_i w_i (x_i - d_i)^2   subject to   x_{i+1} - x_i >= s_i = (width_i + width_{i+1}) / 2 + gap.
// With y_i = x_i - o_i, o_i = s_0 + ... + s_{i-1}, the constraints become y_{i+1} >= y_i: weighted
// isotonic regression of the targets d_i - o_i, solved in O(n) by pool-adjacent-violators (merge
// neighbouring blocks while their weighted means are out of order; a block sits at its mean).
#include "opstudio/layout/layered_graph.h"

#include <algorithm>
#include <limits>

namespace opstudio::layout {

namespace {

constexpr double kDummyWeight = 8.0;  // long edges straight first (Brandes-Köpf favours them too)
constexpr double kFreeWeight = 0.05;  // a node with no neighbour on the reference side stays put
constexpr int kAlternatingPasses = 6; // down/up passes before the final two-sided pass

enum class Side { Up, Down, Both };

struct Block {
    double weight, weightedSum;
    int count;
    double mean() const { return weightedSum / weight; }
};

class Placer {
public:
    Placer(const LayeredGraph& g, const LayoutOptions& options, std::vector<float>& x)
        : m_g(g), m_options(options), m_x(x) {}

    float separation(int a, int b) const {
        const bool bothReal = !m_g.isDummy(a) && !m_g.isDummy(b);
        const float gap = bothReal ? m_options.nodeGap : m_options.nodeGap * 0.5f;
        return (m_g.width[a] + m_g.width[b]) * 0.5f + gap;
    }

    void packCentered(int l) {
        const auto& layer = m_g.layers[l];
        double offset = 0;
        for (size_t i = 0; i < layer.size(); ++i) {
            if (i) offset += separation(layer[i - 1], layer[i]);
            m_x[layer[i]] = static_cast<float>(offset);
        }
        for (int v : layer)
            m_x[v] -= static_cast<float>(offset * 0.5);
    }

    void place(int l, Side side) {
        const auto& layer = m_g.layers[l];
        const int n = static_cast<int>(layer.size());
        if (n == 0) return;
        m_offset.resize(n);
        m_target.resize(n);
        m_weight.resize(n);
        double offset = 0;
        for (int i = 0; i < n; ++i) {
            const int v = layer[i];
            if (i) offset += separation(layer[i - 1], v);
            m_offset[i] = offset;
            double sum = 0;
            int count = 0;
            if (side != Side::Down)
                for (int k = m_g.upStart[v]; k < m_g.upStart[v + 1]; ++k, ++count)
                    sum += m_x[m_g.up[k]];
            if (side != Side::Up)
                for (int k = m_g.downStart[v]; k < m_g.downStart[v + 1]; ++k, ++count)
                    sum += m_x[m_g.down[k]];
            const double desired = count ? sum / count : m_x[v];
            m_weight[i] = count ? count * (m_g.isDummy(v) ? kDummyWeight : 1.0) : kFreeWeight;
            m_target[i] = desired - offset;
        }
        // Pool adjacent violators.
        m_blocks.clear();
        for (int i = 0; i < n; ++i) {
            m_blocks.push_back({m_weight[i], m_weight[i] * m_target[i], 1});
            while (m_blocks.size() > 1 && m_blocks[m_blocks.size() - 2].mean() >= m_blocks.back().mean()) {
                const Block top = m_blocks.back();
                m_blocks.pop_back();
                auto& below = m_blocks.back();
                below.weight += top.weight;
                below.weightedSum += top.weightedSum;
                below.count += top.count;
            }
        }
        int i = 0;
        for (const Block& b : m_blocks) {
            const double y = b.mean();
            for (int k = 0; k < b.count; ++k, ++i)
                m_x[layer[i]] = static_cast<float>(y + m_offset[i]);
        }
    }

private:
    const LayeredGraph& m_g;
    const LayoutOptions& m_options;
    std::vector<float>& m_x;
    std::vector<double> m_offset, m_target, m_weight;
    std::vector<Block> m_blocks;
};

/// Long edges as straight vertical runs where there is room: the dummies of one edge can all take
/// one x if it lies in every dummy's free interval (between its placed left and right neighbours,
/// separations kept). Take the point of the common interval closest to the dummies' median x.
/// Edges are processed in input order, each seeing the positions the previous ones left.
void straightenLongEdges(const LayeredGraph& g, const Placer& placer, std::vector<float>& x) {
    std::vector<float> xs;
    const int edges = static_cast<int>(g.chainStart.size()) - 1;
    for (int e = 0; e < edges; ++e) {
        const int first = g.chainStart[e] + 1, last = g.chainStart[e + 1] - 1; // dummies: [first, last)
        if (last - first < 2) continue;
        float lo = -std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::max();
        xs.clear();
        for (int k = first; k < last; ++k) {
            const int d = g.chain[k];
            const auto& layer = g.layers[g.layer[d]];
            const int p = g.pos[d];
            if (p > 0) lo = std::max(lo, x[layer[p - 1]] + placer.separation(layer[p - 1], d));
            if (p + 1 < static_cast<int>(layer.size()))
                hi = std::min(hi, x[layer[p + 1]] - placer.separation(d, layer[p + 1]));
            xs.push_back(x[d]);
        }
        if (lo > hi) continue;
        std::nth_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(xs.size() / 2), xs.end());
        const float target = std::clamp(xs[xs.size() / 2], lo, hi);
        for (int k = first; k < last; ++k)
            x[g.chain[k]] = target;
    }
}

} // namespace

Coordinates assignCoordinates(const LayeredGraph& g, const LayoutInput& input, const LayoutOptions& options) {
    Coordinates c;
    const int layers = g.layerCount();
    c.x.assign(g.nodeCount(), 0.f);
    Placer placer(g, options, c.x);
    for (int l = 0; l < layers; ++l)
        placer.packCentered(l);
    for (int pass = 0; pass < kAlternatingPasses; ++pass) {
        if (pass % 2 == 0)
            for (int l = 1; l < layers; ++l)
                placer.place(l, Side::Up);
        else
            for (int l = layers - 2; l >= 0; --l)
                placer.place(l, Side::Down);
    }
    for (int l = 0; l < layers; ++l)
        placer.place(l, Side::Both);
    straightenLongEdges(g, placer, c.x);

    // Left edge of the drawing at x = 0.
    float left = std::numeric_limits<float>::max();
    for (int v = 0; v < g.nodeCount(); ++v)
        left = std::min(left, c.x[v] - g.width[v] * 0.5f);
    if (g.nodeCount() > 0)
        for (float& x : c.x)
            x -= left;

    c.layerTop.assign(layers, 0.f);
    c.layerHeight.assign(layers, 0.f);
    for (int v = 0; v < g.realCount; ++v)
        c.layerHeight[g.layer[v]] = std::max(c.layerHeight[g.layer[v]], input.nodes[v].height);
    float y = 0;
    for (int l = 0; l < layers; ++l) {
        c.layerTop[l] = y;
        y += c.layerHeight[l] + options.layerGap;
    }
    return c;
}

} // namespace opstudio::layout
