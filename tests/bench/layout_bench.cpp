// Layout benchmark: opstudio_layout_bench [--dot FILE N]
// Times layoutGraph on a synthetic chain with residual skips (node i gets an edge from i - 1, every
// 3rd node one from i - 3 like a ResNet block, every 10th one from i - 10 like a transformer
// residual) at 1k, 2k, 5k, 10k and 25k nodes, single-threaded, median of 3 runs.
// --dot FILE N writes the same N-node graph as Graphviz input (box sizes in inches at 72 dpi) so
// `dot -Tplain FILE` can be timed on the same graph; Graphviz is not a dependency.
#include "opstudio/layout/layered_graph.h"
#include "opstudio/layout/layout.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace opstudio::layout;

namespace {

LayoutInput chainWithSkips(int n) {
    LayoutInput in;
    in.nodes.reserve(n);
    for (int i = 0; i < n; ++i)
        in.nodes.push_back({90.f + 14.f * static_cast<float>((i * 37) % 5), (i % 4 == 0) ? 52.f : 36.f});
    for (int i = 1; i < n; ++i) {
        in.edges.push_back({i - 1, i});
        if (i % 3 == 0 && i >= 3) in.edges.push_back({i - 3, i});
        if (i % 10 == 0 && i >= 10) in.edges.push_back({i - 10, i});
    }
    return in;
}

int writeDot(const char* path, int n) {
    const LayoutInput in = chainWithSkips(n);
    std::ofstream out(path);
    if (!out) {
        std::fprintf(stderr, "error: cannot write '%s'\n", path);
        return 1;
    }
    out << "digraph G {\n  node [shape=box fixedsize=true];\n";
    for (int i = 0; i < n; ++i)
        out << "  n" << i << " [width=" << in.nodes[i].width / 72.0 << " height=" << in.nodes[i].height / 72.0
            << "];\n";
    for (const auto& e : in.edges)
        out << "  n" << e.from << " -> n" << e.to << ";\n";
    out << "}\n";
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::strcmp(argv[1], "--dot") == 0) return writeDot(argv[2], std::atoi(argv[3]));
    if (argc != 1) {
        std::fprintf(stderr, "usage: opstudio_layout_bench [--dot FILE N]\n");
        return 2;
    }
    std::printf("%8s %8s %10s %10s %10s %8s | stages ms: %8s %8s %8s\n", "nodes", "edges", "median_ms",
                "crossings", "layers", "dummies", "layering", "ordering", "coords");
    for (int n : {1000, 2000, 5000, 10000, 25000}) {
        const LayoutInput in = chainWithSkips(n);
        std::vector<double> ms;
        LayoutResult r;
        for (int run = 0; run < 3; ++run) {
            const auto t0 = std::chrono::steady_clock::now();
            r = layoutGraph(in);
            ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        const int layers = r.layers.empty() ? 0 : *std::max_element(r.layers.begin(), r.layers.end()) + 1;
        // One more run stage by stage (the rest of layoutGraph is edge routing).
        using Clock = std::chrono::steady_clock;
        auto msSince = [](Clock::time_point t) {
            return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
        };
        auto t = Clock::now();
        LayeredGraph g = buildLayeredGraph(in);
        const double layeringMs = msSince(t);
        t = Clock::now();
        orderLayers(g, LayoutOptions{}.crossingSweeps);
        const double orderingMs = msSince(t);
        t = Clock::now();
        const Coordinates c = assignCoordinates(g, in, LayoutOptions{});
        const double coordsMs = msSince(t);
        std::printf("%8d %8zu %10.1f %10lld %10d %8d | %19.1f %8.1f %8.1f\n", n, in.edges.size(), ms[1],
                    static_cast<long long>(r.crossings), layers, g.nodeCount() - g.realCount, layeringMs,
                    orderingMs, coordsMs);
    }
    return 0;
}
