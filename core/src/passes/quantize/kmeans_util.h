#pragma once
// Scalar (1-D) weighted k-means for weight palettization: k-means++ seeding with a fixed seed, then
// Lloyd iterations. In one dimension the clusters of sorted values are contiguous ranges split at the
// midpoints between sorted centroids, so with prefix sums one Lloyd step costs O(k log n), not O(n k).
#include <cstdint>
#include <span>
#include <vector>

namespace opstudio::passes::quantize {

struct KMeansResult {
    std::vector<float> centroids; // ascending; fewer than k only when the data has fewer distinct values
    double sse = 0;               // weighted sum of squared errors of the final assignment
    int iterations = 0;           // Lloyd steps run
};

/// Clusters `values` (optional per-value importance `weights`, same length, > 0) into at most `k`
/// centroids. Deterministic for a given seed. Empty input gives no centroids.
KMeansResult kmeans1d(std::span<const float> values, int k, uint64_t seed, int maxIterations = 100,
                      std::span<const float> weights = {});

/// Index of the nearest centroid (centroids ascending, non-empty); ties go to the lower index.
int nearestCentroid(std::span<const float> centroids, float v);

} // namespace opstudio::passes::quantize
