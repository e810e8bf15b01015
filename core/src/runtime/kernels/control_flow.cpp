#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerControlFlowKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
