#include "passes/all_passes.h"
#include "passes/fusion/fusion_util.h"

namespace opstudio::passes {

// Order matters for the presets: BatchNormalization and bias/scale folds first so that the activation
// fusion sees Conv -> activation; LayerNormalization before the attention and skip fusions that read
// it; attention and GELU (which absorb bias Adds) before MatMul + Add -> Gemm and MatMul scaling.
void registerFusionPasses(PassRegistry& r) {
    r.add(fusion::convBatchNormFusionPass());
    r.add(fusion::convAddMulFusionPass());
    r.add(fusion::convActivationFusionPass());
    r.add(fusion::layerNormFusionPass());
    r.add(fusion::rmsNormFusionPass());
    r.add(fusion::attentionFusionPass());
    r.add(fusion::skipLayerNormFusionPass());
    r.add(fusion::geluFusionPass());
    r.add(fusion::siluFusionPass());
    r.add(fusion::matMulAddFusionPass());
    r.add(fusion::matMulScaleFusionPass());
    r.add(fusion::gemmActivationFusionPass());
}

} // namespace opstudio::passes
