#pragma once
// Calibration statistics the weight-quantization methods need per layer (Gram matrix of the layer's
// input rows, per-feature sum of squares). Filled by the shared calibration collector.
#include "opstudio/calibrate/layer_solver.h"
#include "opstudio/passes/pass.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace opstudio::passes::quantize {

struct LayerInputs {
    calibrate::GramMatrix gram;
    std::vector<double> sumSq;
};

/// Runs the model over the calibration sets and returns, per named MatMul/Gemm node, its input statistics.
Result<std::map<std::string, LayerInputs>> collectLayerInputs(const ir::Model& model, const CalibrationData& data,
                                                              const std::vector<std::string>& nodes,
                                                              std::function<bool()> cancelled);

} // namespace opstudio::passes::quantize
