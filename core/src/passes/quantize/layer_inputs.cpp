#include "passes/quantize/layer_inputs.h"

namespace opstudio::passes::quantize {

Result<std::map<std::string, LayerInputs>> collectLayerInputs(const ir::Model&, const CalibrationData&,
                                                              const std::vector<std::string>&,
                                                              std::function<bool()>) {
    return Error("quantize-weights: calibration-based methods (gptq, awq) need the calibration collector, "
                 "which this build does not have yet");
}

} // namespace opstudio::passes::quantize
