#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerFusedKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
