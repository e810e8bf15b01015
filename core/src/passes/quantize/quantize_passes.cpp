#include "passes/all_passes.h"
#include "passes/quantize/kmeans_clustering.h"
#include "passes/quantize/quantize_dynamic_int8.h"
#include "passes/quantize/weight_quant_util.h"

namespace opstudio::passes {

void registerQuantizationPasses(PassRegistry& r) {
    r.add(quantize::quantizeWeightsPass());
    r.add(quantize::kmeansClusteringPass());
    r.add(quantize::quantizeDynamicInt8Pass());
}

} // namespace opstudio::passes
