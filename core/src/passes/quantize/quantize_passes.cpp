#include "passes/all_passes.h"
#include "passes/quantize/weight_quant_util.h"

namespace opstudio::passes {

void registerQuantizationPasses(PassRegistry& r) {
    r.add(quantize::quantizeWeightsPass());
}

} // namespace opstudio::passes
