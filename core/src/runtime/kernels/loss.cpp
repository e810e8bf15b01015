#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerLossKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
