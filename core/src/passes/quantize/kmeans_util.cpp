#include "passes/quantize/kmeans_util.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

namespace opstudio::passes::quantize {

int nearestCentroid(std::span<const float> centroids, float v) {
    // First centroid >= v, then compare with its lower neighbour (ties to the lower index).
    const auto it = std::lower_bound(centroids.begin(), centroids.end(), v);
    if (it == centroids.begin()) return 0;
    if (it == centroids.end()) return static_cast<int>(centroids.size()) - 1;
    const int hi = static_cast<int>(it - centroids.begin());
    return (v - centroids[hi - 1] <= centroids[hi] - v) ? hi - 1 : hi;
}

KMeansResult kmeans1d(std::span<const float> values, int k, uint64_t seed, int maxIterations,
                      std::span<const float> weights) {
    KMeansResult result;
    const size_t n = values.size();
    if (n == 0 || k <= 0) return result;
    const bool weighted = weights.size() == n;
    std::vector<std::pair<float, float>> pts(n); // (value, importance), sorted by value
    for (size_t i = 0; i < n; ++i)
        pts[i] = {values[i], weighted ? std::max(weights[i], 1e-30f) : 1.f};
    std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

    // Few distinct values (pruned or already palettized weights): they are the centroids, error 0.
    std::vector<float> distinct;
    for (const auto& p : pts)
        if (distinct.empty() || p.first != distinct.back()) {
            distinct.push_back(p.first);
            if (distinct.size() > static_cast<size_t>(k)) break;
        }
    if (distinct.size() <= static_cast<size_t>(k)) {
        result.centroids = std::move(distinct);
        return result;
    }

    // Prefix sums of w, w x, w x^2 over the sorted points: any cluster (a contiguous range) has
    // centroid S1/S0 and error S2 - 2 c S1 + c^2 S0 in O(1).
    std::vector<double> s0(n + 1, 0.0), s1(n + 1, 0.0), s2(n + 1, 0.0);
    for (size_t i = 0; i < n; ++i) {
        const double x = pts[i].first, w = pts[i].second;
        s0[i + 1] = s0[i] + w;
        s1[i + 1] = s1[i] + w * x;
        s2[i + 1] = s2[i] + w * x * x;
    }

    // k-means++: the first centroid by importance, each next one with probability proportional to
    // w * D(x)^2, D the distance to the nearest centroid chosen so far (Arthur & Vassilvitskii 2007).
    std::mt19937_64 rng(seed);
    auto uniform = [&rng](double hi) {
        return hi * (static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0)); // [0, hi)
    };
    auto sample = [&](const std::vector<double>& mass, double total) {
        const double r = uniform(total);
        double acc = 0;
        for (size_t i = 0; i < n; ++i) {
            acc += mass[i];
            if (acc > r && mass[i] > 0) return i;
        }
        for (size_t i = n; i-- > 0;) // rounding left r at the very end
            if (mass[i] > 0) return i;
        return size_t{0};
    };
    std::vector<double> mass(n);
    for (size_t i = 0; i < n; ++i)
        mass[i] = pts[i].second;
    std::vector<float> c;
    c.push_back(pts[sample(mass, s0[n])].first);
    std::vector<double> d2(n);
    for (size_t i = 0; i < n; ++i) {
        const double d = pts[i].first - c[0];
        d2[i] = pts[i].second * d * d;
    }
    while (c.size() < static_cast<size_t>(k)) {
        double total = 0;
        for (double v : d2)
            total += v;
        if (!(total > 0)) break;
        const float next = pts[sample(d2, total)].first;
        c.push_back(next);
        for (size_t i = 0; i < n; ++i) {
            const double d = pts[i].first - next;
            d2[i] = std::min(d2[i], pts[i].second * d * d);
        }
    }
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());

    // Lloyd: cluster j holds the sorted points in [b[j], b[j+1]); points at a midpoint go to the lower centroid.
    const int m = static_cast<int>(c.size());
    std::vector<size_t> b(m + 1), prev;
    auto assign = [&] {
        b[0] = 0;
        b[m] = n;
        for (int j = 0; j + 1 < m; ++j) {
            const float mid = 0.5f * (c[j] + c[j + 1]);
            b[j + 1] = static_cast<size_t>(
                std::upper_bound(pts.begin() + static_cast<std::ptrdiff_t>(b[j]), pts.end(), mid,
                                 [](float v, const auto& p) { return v < p.first; }) -
                pts.begin());
        }
    };
    for (int it = 0; it < maxIterations; ++it) {
        assign();
        if (b == prev) break;
        prev = b;
        result.iterations = it + 1;
        bool empty = false;
        for (int j = 0; j < m; ++j) {
            const double w = s0[b[j + 1]] - s0[b[j]];
            if (w > 0)
                c[j] = static_cast<float>((s1[b[j + 1]] - s1[b[j]]) / w);
            else
                empty = true;
        }
        if (empty) {
            // An emptied cluster restarts at the point with the largest weighted error.
            for (int j = 0; j < m; ++j) {
                if (b[j + 1] > b[j]) continue;
                size_t worst = 0;
                double worstErr = -1;
                for (int q = 0; q < m; ++q)
                    for (size_t i = b[q]; i < b[q + 1]; ++i) {
                        const double d = pts[i].first - c[q];
                        const double e = pts[i].second * d * d;
                        if (e > worstErr) worstErr = e, worst = i;
                    }
                c[j] = pts[worst].first;
            }
            prev.clear();
        }
        std::sort(c.begin(), c.end());
    }
    assign();
    for (int j = 0; j < m; ++j) {
        const double lo0 = s0[b[j]], lo1 = s1[b[j]], lo2 = s2[b[j]];
        const double w = s0[b[j + 1]] - lo0, x1 = s1[b[j + 1]] - lo1, x2 = s2[b[j + 1]] - lo2;
        const double cj = c[j];
        result.sse += std::max(0.0, x2 - 2 * cj * x1 + cj * cj * w);
    }
    result.centroids = std::move(c);
    return result;
}

} // namespace opstudio::passes::quantize
