#include "runtime/kernels/all_kernels.h"

namespace opstudio::rt {

// One explicit list (no static self-registration: it is dropped silently in static libraries).
void registerAllKernels(KernelRegistry& r) {
    registerElementwiseKernels(r);
    registerActivationKernels(r);
    registerCastKernels(r);
    registerShapeKernels(r);
    registerGatherScatterKernels(r);
    registerResizeKernels(r);
    registerConvKernels(r);
    registerGemmKernels(r);
    registerNormKernels(r);
    registerSoftmaxKernels(r);
    registerQuantizeLinearKernels(r);
    registerIntegerMatMulKernels(r);
    registerMatMulNBitsKernels(r);
    registerLutMatMulKernels(r);
    registerGatherBlockQuantizedKernels(r);
    registerIntegerConvKernels(r);
    registerPoolKernels(r);
    registerReduceKernels(r);
    registerRecurrentKernels(r);
    registerControlFlowKernels(r);
    registerLossKernels(r);
    registerDetectionKernels(r);
    registerSignalKernels(r);
    registerMiscKernels(r);
    registerFusedKernels(r);
}

} // namespace opstudio::rt
