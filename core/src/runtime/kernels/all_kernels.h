#pragma once
#include "opstudio/runtime/kernel.h"

namespace opstudio::rt {

void registerElementwiseKernels(KernelRegistry& r);
void registerActivationKernels(KernelRegistry& r);
void registerCastKernels(KernelRegistry& r);
void registerShapeKernels(KernelRegistry& r);
void registerGatherScatterKernels(KernelRegistry& r);
void registerResizeKernels(KernelRegistry& r);
void registerConvKernels(KernelRegistry& r);
void registerGemmKernels(KernelRegistry& r);
void registerNormKernels(KernelRegistry& r);
void registerSoftmaxKernels(KernelRegistry& r);
void registerQuantizeLinearKernels(KernelRegistry& r);
void registerIntegerMatMulKernels(KernelRegistry& r);
void registerMatMulNBitsKernels(KernelRegistry& r);
void registerLutMatMulKernels(KernelRegistry& r);
void registerGatherBlockQuantizedKernels(KernelRegistry& r);
void registerIntegerConvKernels(KernelRegistry& r);
void registerPoolKernels(KernelRegistry& r);
void registerReduceKernels(KernelRegistry& r);
void registerRecurrentKernels(KernelRegistry& r);
void registerControlFlowKernels(KernelRegistry& r);
void registerLossKernels(KernelRegistry& r);
void registerDetectionKernels(KernelRegistry& r);
void registerSignalKernels(KernelRegistry& r);
void registerMiscKernels(KernelRegistry& r);
void registerFusedKernels(KernelRegistry& r);
void registerAllKernels(KernelRegistry& r);

} // namespace opstudio::rt
