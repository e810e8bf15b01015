#pragma once
// Pruning passes that read calibration inputs (prune-sparsegpt, prune-wanda): the prunable layers whose
// inputs the collector can see, and those inputs, in one calibration pass.
#include "opstudio/calibrate/collector.h"
#include "passes/prune/prune_util.h"

#include <map>
#include <string>
#include <vector>

namespace opstudio::passes::prune {

/// Keeps the layers of `layers` the collector can see (grouped and non-2-D Conv are skipped with a
/// reason) and returns their calibration inputs by node name. Throws Error when the context has no
/// calibration data (naming the CLI options), or when the collection fails or is cancelled.
std::map<std::string, calibrate::LayerInputStats> collectPrunableInputs(PassContext& ctx,
                                                                        std::vector<LayerWeight>& layers,
                                                                        bool gram, const std::string& pass);

/// Drops the layers the collector cannot see (grouped or non-2-D Conv, unnamed nodes) with a skip
/// reason; throws like collectPrunableInputs when there is no calibration data.
void keepCollectable(PassContext& ctx, std::vector<LayerWeight>& layers, const std::string& pass);
/// Error compensation for a mask chosen without calibration (prune-magnitude, prune-n-m update=refit):
/// values[i] holds layer i's masked rows (zeros = pruned); the kept weights are refit by least squares to
/// reproduce the dense layer on the calibration inputs. Layers the collector cannot see stay as masked
/// (a note says why).
void refitMasked(PassContext& ctx, const std::vector<LayerWeight>& layers, std::vector<std::vector<float>>& values,
                 double damp, const std::string& pass);
/// Calibration inputs of exactly these layers, on the model as it is now (for the sequential mode).
std::map<std::string, calibrate::LayerInputStats> collectInputsOf(PassContext& ctx,
                                                                  const std::vector<const LayerWeight*>& layers,
                                                                  bool gram);

} // namespace opstudio::passes::prune
