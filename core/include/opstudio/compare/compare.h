#pragma once
// Compare two models (typically original and optimized) on the same inputs: accuracy per output,
// latency of both, and where a lossy pipeline first diverges from the original.
#include "opstudio/ir/graph.h"
#include "opstudio/util/error.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace opstudio::compare {

struct CompareOptions {
    int threads = 1;
    int runs = 10; // timed runs per model (median reported)
    int warmup = 2;
    uint64_t seed = 1; // for random inputs when none are given
    std::map<std::string, int64_t> dims;
    /// Relative error (max_abs / output scale) above which an intermediate value counts as diverged.
    double divergenceThreshold = 1e-3;
    bool findDivergence = true;
};

struct OutputComparison {
    std::string name;
    double maxAbs = 0, meanAbs = 0, maxRel = 0;
    double cosine = 1;
    double snrDb = 0; // 10 log10(sum a^2 / sum (a-b)^2); +inf when identical (reported as a large number)
    bool classifier = false;                     // looks like [N, classes] logits/probabilities
    double top1Agreement = 0, top5Agreement = 0; // fractions over rows (classifier outputs only)
};

/// Earliest original node whose output differs beyond the threshold (mapped through provenance).
struct Divergence {
    std::string node; // original node name
    std::string opType;
    std::string value; // the value compared
    double relativeError = 0;
    double maxAbs = 0;
};

struct CompareResult {
    double aMs = 0, bMs = 0; // median latency
    double speedup = 0;      // aMs / bMs
    std::vector<OutputComparison> outputs;
    std::optional<Divergence> firstDivergence;
    int64_t aWeightBytes = 0, bWeightBytes = 0;
    int aNodes = 0, bNodes = 0;
};

/// Runs both models on `feeds` (or seeded random inputs matching model A when empty).
Result<CompareResult> compareModels(std::shared_ptr<const ir::Model> a, std::shared_ptr<const ir::Model> b,
                                    const std::map<std::string, ir::Tensor>& feeds = {},
                                    const CompareOptions& options = {});

/// Metrics between two tensors of the same shape (numeric dtypes). `a` is the reference.
/// Throws opstudio::Error when the shapes differ or a dtype is not numeric.
OutputComparison compareTensors(const std::string& name, const ir::Tensor& a, const ir::Tensor& b);

/// SNR reported for identical tensors (the true value is +inf; JSON has no infinity).
inline constexpr double kIdenticalSnrDb = 999.0;

/// max|a - b| and max|a| over two same-shape numeric tensors (the divergence test's inputs).
struct AbsErrors {
    double maxAbs = 0;
    double maxRef = 0; // max |a|
    /// max_abs / max|a| (max_abs itself when a is all zero).
    double relative() const { return maxRef > 0 ? maxAbs / maxRef : maxAbs; }
};
AbsErrors absErrors(const ir::Tensor& a, const ir::Tensor& b);

/// Maps values of model B to the values of model A they stand for, through provenance (or node
/// names / ids when a node has none). Only values whose shapes agree (where known) are mapped.
/// Key: B value name; mapped: A value name.
std::map<std::string, std::string> correspondingValues(const ir::Graph& a, const ir::Graph& b);

} // namespace opstudio::compare
