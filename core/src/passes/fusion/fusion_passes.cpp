#include "passes/all_passes.h"
#include "passes/fusion/fusion_util.h"

namespace opstudio::passes {

// Order matters for the presets: BatchNormalization and bias/scale folds first so that the activation
// fusion sees Conv -> activation; LayerNormalization before the attention and skip fusions that read
// it; attention before MatMul+Add -> Gemm, which would otherwise take its projections apart.
void registerFusionPasses(PassRegistry& r) {
    r.add(fusion::convBatchNormFusionPass());
    r.add(fusion::convAddMulFusionPass());
    r.add(fusion::convActivationFusionPass());
}

} // namespace opstudio::passes
