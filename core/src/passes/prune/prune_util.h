#pragma once
// Shared by the unstructured and N:M pruning passes: find the prunable weight of a layer, view it as
// output rows × reduction elements, write a pruned copy back and report per-layer sparsity.
#include "opstudio/passes/pass.h"
#include "passes/param_spec_util.h"

#include <cstdint>
#include <string>
#include <vector>

namespace opstudio::passes::prune {

/// A layer's constant f32 weight seen as `rows` output rows of `k` reduction elements.
/// `offsets[r * k + i]` is the element index in the tensor of row r's i-th reduction element; the
/// reduction order puts the input channel fastest (MatMul/Gemm: K; Conv: C, then kh, kw), so N:M
/// groups are consecutive input channels as sparse tensor cores and compressed GEMV expect.
struct LayerWeight {
    ir::Node* node = nullptr;
    std::string name; // initializer name
    int64_t rows = 0, k = 0;
    std::vector<int64_t> offsets;
};

/// Candidate layers (MatMul/Gemm with a constant 2-D weight, Conv with a constant 4-D/3-D weight).
/// Nodes that do not qualify, or that are in `skip`, are reported through ctx.skip with the reason.
std::vector<LayerWeight> prunableLayers(PassContext& ctx, const std::vector<std::string>& skip);

/// Weight values of the layer in (row, reduction) order.
std::vector<float> gatherRows(const ir::Graph& g, const LayerWeight& layer);
/// Writes `values` (row, reduction order) back into a fresh initializer that replaces the old one and
/// appends "name: x % zero (z / n)" to the report's notes.
void scatterRows(PassContext& ctx, const LayerWeight& layer, const std::vector<float>& values);
/// Fraction of exact zeros.
double zeroFraction(const std::vector<float>& v);

/// The skip list every pruning pass takes (int/float/enum builders: passes/param_spec_util.h).
ParamSpec skipParam();
/// `update` = none | refit (least-squares refit of the kept weights from calibration inputs) and its `damp`.
ParamSpec updateParam();
/// "n" and "m" of an optional N:M mask (n = 0: unstructured), shared by the calibrated pruning passes.
std::vector<ParamSpec> nmMaskParams();
/// The note every pruning pass ends with: zeros alone do not shrink the file or speed it up.
void noteDenseWeights(PassContext& ctx);
ParamSpec dampParam();

// Pass factories (one file each).
PassInfo magnitudePruningPass();
PassInfo nmPruningPass();
PassInfo sparseGptPruningPass();
PassInfo wandaPruningPass();

} // namespace opstudio::passes::prune
