#pragma once
// The one calibration collector: runs a model over calibration sets through the runtime's
// ExecutionObserver (one pass over all sets, cancellable, with progress) and accumulates activation
// statistics of requested tensors (min/max, histogram, zeros, per-channel norms) and of the input rows
// of requested MatMul/Gemm nodes (H = XᵀX for the shared layer solver, per-feature Σx² and max|x|).
// Static int8 calibration, SmoothQuant/AWQ scaling, Wanda, SparseGPT/GPTQ and dead-channel pruning
// all read from here.
#include "opstudio/calibrate/layer_solver.h"
#include "opstudio/ir/graph.h"
#include "opstudio/passes/pass.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace opstudio::calibrate {

struct CollectOptions {
    /// OpenMP threads of the calibration session (0: CalibrationData::threads).
    int threads = 0;
    /// Bins of each tensor's histogram (even).
    int histogramBins = 2048;
    /// Channel axis of the per-channel tensor statistics: -1 the last (features of MatMul inputs),
    /// 1 for NCHW activations (Conv outputs: dead-channel pruning's APoZ).
    int channelAxis = -1;
    /// |x| below this counts as near zero (smooth activations: GELU/SiLU outputs are rarely exactly 0).
    double nearZero = 1e-3;
    /// Layer inputs: accumulate H = XᵀX (k×k doubles per layer). Off: only Σx² and max|x|.
    bool gram = true;
    /// Called after each calibration set with (sets done, sets in total).
    std::function<void(int64_t done, int64_t total)> progress;
    /// Checked before each set; true stops the collection with Error "calibration cancelled".
    std::function<bool()> cancelled;
};

/// Signed histogram over [-range, range] with `counts.size()` equal bins. The range starts at the first
/// non-zero |x| seen and doubles when a larger value arrives (pairs of bins merge), so one pass suffices.
struct Histogram {
    double range = 0;
    std::vector<uint64_t> counts;
    /// Centre of bin i.
    double binCenter(size_t i) const;
    /// Value below which `fraction` of the samples lie (linear inside a bin); 0 when empty.
    double quantile(double fraction) const;
};

/// Statistics of one tensor over every calibration set.
struct TensorStats {
    std::string name;
    int64_t count = 0; // elements seen
    int64_t zeros = 0; // exact zeros among them
    int64_t nearZeros = 0; // |x| < CollectOptions::nearZero (exact zeros included)
    double min = 0, max = 0;
    Histogram histogram;
    /// Per channel of CollectOptions::channelAxis (default the last: the feature axis of MatMul inputs):
    /// Σx², max|x|, exact zeros and near zeros over all other positions; elements per channel =
    /// count / channels. APoZ of channel c = channelZeros[c] / (count / channels).
    std::vector<double> channelSumSq;
    std::vector<float> channelAbsMax;
    std::vector<int64_t> channelZeros;
    std::vector<int64_t> channelNearZeros;
};

/// Input rows X of one MatMul/Gemm/Conv: input A with its leading dims flattened into rows of k features
/// (Gemm transA=1: the columns of A), k = the node's reduction length. Conv (2-D, group 1): the im2col
/// view, one row per output position (n, oh, ow) and features (kernel tap, input channel) with the channel
/// fastest — feature (ki·kw + kj)·C + c, zero padding included (the pruning passes' Conv row order).
struct LayerInputStats {
    std::string node;  // node name
    std::string input; // value name of input A
    int64_t k = 0;
    int64_t rows = 0;
    GramMatrix gram;           // H = XᵀX; k = 0 when CollectOptions::gram is off
    std::vector<double> sumSq; // per feature Σ x² (Wanda's ‖X_j‖² )
    std::vector<float> absMax; // per feature max |x|
};

/// What to collect in one pass: value names and MatMul/Gemm node names.
struct CollectRequest {
    std::vector<std::string> tensors;
    std::vector<std::string> layers;
};

struct CalibrationStats {
    std::map<std::string, TensorStats> tensors;    // by value name
    std::map<std::string, LayerInputStats> layers; // by node name
    int64_t sets = 0;
};

/// Runs every set of `data` once and collects what `request` names. Errors: no sets, an unknown tensor
/// or node name, a layer that is not a MatMul/Gemm/Conv (or a grouped / non-2-D Conv), a run failure
/// (naming the set), cancellation.
Result<CalibrationStats> collect(const ir::Model& model, const passes::CalibrationData& data,
                                 const CollectRequest& request, const CollectOptions& options = {});

/// Layer inputs of the named MatMul/Gemm/Conv nodes (the GPTQ / SparseGPT / Wanda entry point).
Result<std::map<std::string, LayerInputStats>> collectLayerInputs(const ir::Model& model,
                                                                  const passes::CalibrationData& data,
                                                                  const std::vector<std::string>& nodeNames,
                                                                  const CollectOptions& options = {});

/// Statistics of the named values (graph inputs, node outputs).
Result<std::map<std::string, TensorStats>> collectTensorStats(const ir::Model& model,
                                                              const passes::CalibrationData& data,
                                                              const std::vector<std::string>& tensorNames,
                                                              const CollectOptions& options = {});

} // namespace opstudio::calibrate
