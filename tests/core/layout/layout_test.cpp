// The layered layout on abstract graphs: geometry invariants, determinism, cycles, crossing counts.
#include "opstudio/layout/layered_graph.h"
#include "opstudio/layout/layout.h"
#include "opstudio/util/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

using namespace opstudio::layout;

namespace {

LayoutInput makeInput(int nodes, const std::vector<std::pair<int, int>>& edges) {
    LayoutInput in;
    for (int i = 0; i < nodes; ++i)
        in.nodes.push_back({90.f + 14.f * static_cast<float>(i % 5), i % 2 ? 52.f : 36.f});
    for (const auto& [a, b] : edges)
        in.edges.push_back({a, b});
    return in;
}

/// Chain with residual skips, like ResNet / transformer blocks (the benchmark's graph, small).
LayoutInput chainWithSkips(int n) {
    std::vector<std::pair<int, int>> edges;
    for (int i = 1; i < n; ++i) {
        edges.push_back({i - 1, i});
        if (i % 3 == 0 && i >= 3) edges.push_back({i - 3, i});
        if (i % 10 == 0 && i >= 10) edges.push_back({i - 10, i});
    }
    return makeInput(n, edges);
}

::testing::AssertionResult noOverlap(const LayoutInput& in, const LayoutResult& r) {
    const size_t n = in.nodes.size();
    for (size_t a = 0; a < n; ++a)
        for (size_t b = a + 1; b < n; ++b) {
            const float dx = std::abs(r.centers[a].x - r.centers[b].x);
            const float dy = std::abs(r.centers[a].y - r.centers[b].y);
            if (dx < (in.nodes[a].width + in.nodes[b].width) / 2 &&
                dy < (in.nodes[a].height + in.nodes[b].height) / 2)
                return ::testing::AssertionFailure() << "boxes " << a << " and " << b << " overlap";
        }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult insideBounds(const LayoutInput& in, const LayoutResult& r) {
    constexpr float kEps = 0.01f;
    for (size_t v = 0; v < in.nodes.size(); ++v) {
        const auto c = r.centers[v];
        if (c.x - in.nodes[v].width / 2 < -kEps || c.x + in.nodes[v].width / 2 > r.width + kEps ||
            c.y - in.nodes[v].height / 2 < -kEps || c.y + in.nodes[v].height / 2 > r.height + kEps)
            return ::testing::AssertionFailure() << "box " << v << " outside the bounding box";
    }
    return ::testing::AssertionSuccess();
}

/// Every edge of a DAG goes down a layer or more, and its polyline never goes back up.
::testing::AssertionResult edgesGoDown(const LayoutInput& in, const LayoutResult& r) {
    for (size_t e = 0; e < in.edges.size(); ++e) {
        const auto [from, to] = in.edges[e];
        if (r.layers[to] <= r.layers[from])
            return ::testing::AssertionFailure()
                   << "edge " << e << " goes from layer " << r.layers[from] << " to " << r.layers[to];
        const auto& pts = r.edges[e];
        if (pts.size() < 2) return ::testing::AssertionFailure() << "edge " << e << " has no polyline";
        for (size_t i = 1; i < pts.size(); ++i)
            if (pts[i].y < pts[i - 1].y)
                return ::testing::AssertionFailure() << "edge " << e << " polyline goes up";
        if (std::abs(pts.front().y - (r.centers[from].y + in.nodes[from].height / 2)) > 0.01f ||
            std::abs(pts.back().y - (r.centers[to].y - in.nodes[to].height / 2)) > 0.01f)
            return ::testing::AssertionFailure()
                   << "edge " << e << " does not join bottom of source to top of target";
    }
    return ::testing::AssertionSuccess();
}

/// No polyline segment passes through a box other than its own endpoints' boxes.
::testing::AssertionResult edgesAvoidBoxes(const LayoutInput& in, const LayoutResult& r) {
    for (size_t e = 0; e < in.edges.size(); ++e) {
        const auto& pts = r.edges[e];
        for (size_t i = 1; i < pts.size(); ++i)
            for (size_t v = 0; v < in.nodes.size(); ++v) {
                if (static_cast<int>(v) == in.edges[e].from || static_cast<int>(v) == in.edges[e].to)
                    continue;
                // Sample the segment: enough for these small graphs.
                for (int k = 0; k <= 16; ++k) {
                    const float t = k / 16.f;
                    const float x = pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t;
                    const float y = pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t;
                    if (std::abs(x - r.centers[v].x) < in.nodes[v].width / 2 - 0.5f &&
                        std::abs(y - r.centers[v].y) < in.nodes[v].height / 2 - 0.5f)
                        return ::testing::AssertionFailure() << "edge " << e << " crosses box " << v;
                }
            }
    }
    return ::testing::AssertionSuccess();
}

int64_t bruteForceCrossings(const std::vector<std::pair<int, int>>& s) {
    int64_t c = 0;
    for (size_t i = 0; i < s.size(); ++i)
        for (size_t j = i + 1; j < s.size(); ++j)
            c += (s[i].first < s[j].first && s[i].second > s[j].second) ||
                 (s[i].first > s[j].first && s[i].second < s[j].second);
    return c;
}

} // namespace

TEST(LayoutGraph, EmptyGraph) {
    const LayoutResult r = layoutGraph({});
    EXPECT_TRUE(r.centers.empty());
    EXPECT_TRUE(r.edges.empty());
    EXPECT_EQ(r.crossings, 0);
    EXPECT_EQ(r.width, 0.f);
    EXPECT_EQ(r.height, 0.f);
}

TEST(LayoutGraph, SingleNode) {
    const LayoutInput in = makeInput(1, {});
    const LayoutResult r = layoutGraph(in);
    ASSERT_EQ(r.centers.size(), 1u);
    EXPECT_EQ(r.layers[0], 0);
    EXPECT_FLOAT_EQ(r.width, in.nodes[0].width);
    EXPECT_FLOAT_EQ(r.height, in.nodes[0].height);
    EXPECT_FLOAT_EQ(r.centers[0].x, in.nodes[0].width / 2);
    EXPECT_FLOAT_EQ(r.centers[0].y, in.nodes[0].height / 2);
}

TEST(LayoutGraph, BoxesDoNotOverlapAndEdgesGoDown) {
    const LayoutInput in = chainWithSkips(300);
    const LayoutResult r = layoutGraph(in);
    EXPECT_TRUE(noOverlap(in, r));
    EXPECT_TRUE(insideBounds(in, r));
    EXPECT_TRUE(edgesGoDown(in, r));
    EXPECT_TRUE(edgesAvoidBoxes(in, r));
}

TEST(LayoutGraph, WideFanOutAndFanIn) {
    // One source feeding 20 nodes, all joined again; plus graph-input-like sources used deep down.
    std::vector<std::pair<int, int>> edges;
    for (int i = 1; i <= 20; ++i) {
        edges.push_back({0, i});
        edges.push_back({i, 21});
    }
    edges.push_back({21, 22});
    edges.push_back({23, 22}); // a second source consumed at the bottom
    const LayoutInput in = makeInput(24, edges);
    const LayoutResult r = layoutGraph(in);
    EXPECT_TRUE(noOverlap(in, r));
    EXPECT_TRUE(edgesGoDown(in, r));
    EXPECT_TRUE(edgesAvoidBoxes(in, r));
    // Compaction: the late source sits right above its consumer, not at the top.
    EXPECT_EQ(r.layers[23], r.layers[22] - 1);
    EXPECT_EQ(r.crossings, 0);
}

TEST(LayoutGraph, SameInputGivesIdenticalCoordinates) {
    const LayoutInput in = chainWithSkips(500);
    const LayoutResult a = layoutGraph(in);
    const LayoutResult b = layoutGraph(in);
    ASSERT_EQ(a.centers.size(), b.centers.size());
    for (size_t i = 0; i < a.centers.size(); ++i) {
        EXPECT_EQ(a.centers[i].x, b.centers[i].x);
        EXPECT_EQ(a.centers[i].y, b.centers[i].y);
    }
    ASSERT_EQ(a.edges.size(), b.edges.size());
    for (size_t e = 0; e < a.edges.size(); ++e) {
        ASSERT_EQ(a.edges[e].size(), b.edges[e].size());
        for (size_t i = 0; i < a.edges[e].size(); ++i) {
            EXPECT_EQ(a.edges[e][i].x, b.edges[e][i].x);
            EXPECT_EQ(a.edges[e][i].y, b.edges[e][i].y);
        }
    }
    EXPECT_EQ(a.crossings, b.crossings);
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.height, b.height);
}

TEST(LayoutGraph, CycleStillLaysOutWithOneBackEdgeDrawnUpwards) {
    // 0 -> 1 -> 2 -> 3 -> 1 (cycle 1-2-3), 3 -> 4; plus a self-loop on 4.
    const LayoutInput in = makeInput(5, {{0, 1}, {1, 2}, {2, 3}, {3, 1}, {3, 4}, {4, 4}});
    const LayoutResult r = layoutGraph(in);
    ASSERT_EQ(r.centers.size(), 5u);
    EXPECT_TRUE(noOverlap(in, r));
    int upward = 0;
    for (size_t e = 0; e < in.edges.size(); ++e) {
        const auto [from, to] = in.edges[e];
        if (from == to) {
            EXPECT_GE(r.edges[e].size(), 2u); // self-loop drawn beside the box
            continue;
        }
        ASSERT_GE(r.edges[e].size(), 2u);
        if (r.layers[to] < r.layers[from]) {
            ++upward;
            EXPECT_EQ(e, 3u) << "the DFS back edge is 3 -> 1";
            // Reversed edge: leaves the top of its source, enters the bottom of its target.
            EXPECT_NEAR(r.edges[e].front().y, r.centers[from].y - in.nodes[from].height / 2, 0.01f);
            EXPECT_NEAR(r.edges[e].back().y, r.centers[to].y + in.nodes[to].height / 2, 0.01f);
        } else {
            EXPECT_GT(r.layers[to], r.layers[from]);
        }
    }
    EXPECT_EQ(upward, 1);
}

TEST(LayoutGraph, CycleWithoutSourcesStillLaysOut) {
    const LayoutInput in = makeInput(3, {{0, 1}, {1, 2}, {2, 0}});
    const LayoutResult r = layoutGraph(in);
    EXPECT_TRUE(noOverlap(in, r));
    EXPECT_EQ(r.layers[0], 0);
    EXPECT_EQ(r.layers[2], 2);
}

TEST(LayoutGraph, RejectsEdgeToMissingNode) {
    const LayoutInput in = makeInput(2, {{0, 5}});
    EXPECT_THROW(layoutGraph(in), opstudio::Error);
}

TEST(CrossingCount, MatchesBruteForce) {
    uint64_t state = 12345;
    auto next = [&](int bound) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<int>((state >> 33) % static_cast<uint64_t>(bound));
    };
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<std::pair<int, int>> segments;
        const int count = next(60);
        for (int i = 0; i < count; ++i)
            segments.push_back({next(12), next(12)});
        EXPECT_EQ(countBilayerCrossings(segments), bruteForceCrossings(segments)) << "trial " << trial;
    }
    EXPECT_EQ(countBilayerCrossings({{0, 1}, {1, 0}}), 1);
    EXPECT_EQ(countBilayerCrossings({{0, 0}, {0, 1}, {1, 0}}), 1); // segments sharing a node do not cross
}

TEST(CrossingReduction, NotWorseThanInitialOrderOnCrossingHeavyGraph) {
    // Three layers of 8: each middle node has parents far apart and children far apart; the
    // DFS initial order interleaves them badly.
    std::vector<std::pair<int, int>> edges;
    for (int i = 0; i < 8; ++i) {
        edges.push_back({i, 8 + (i * 3) % 8});
        edges.push_back({i, 8 + (i * 5 + 1) % 8});
        edges.push_back({8 + i, 16 + (i * 7 + 2) % 8});
        edges.push_back({8 + i, 16 + (i * 3 + 5) % 8});
    }
    const LayoutInput in = makeInput(24, edges);
    LayoutOptions none;
    none.crossingSweeps = 0;
    const LayoutResult initial = layoutGraph(in, none);
    const LayoutResult reduced = layoutGraph(in);
    std::printf("crossing-heavy graph: %lld crossings in the initial order, %lld after reduction\n",
                static_cast<long long>(initial.crossings), static_cast<long long>(reduced.crossings));
    EXPECT_GT(initial.crossings, 0);
    EXPECT_LE(reduced.crossings, initial.crossings);
    EXPECT_TRUE(noOverlap(in, reduced));
    EXPECT_TRUE(edgesGoDown(in, reduced));
}

TEST(CrossingReduction, ReportedCountMatchesTheDrawing) {
    // The result's count equals the crossings of straight segments between the final positions.
    const LayoutInput in = chainWithSkips(120);
    const LayoutResult r = layoutGraph(in);
    const LayeredGraph g = [&] {
        LayeredGraph lg = buildLayeredGraph(in);
        orderLayers(lg, LayoutOptions{}.crossingSweeps);
        return lg;
    }();
    EXPECT_EQ(countCrossings(g), r.crossings);
}
