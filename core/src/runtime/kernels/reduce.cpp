#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerReduceKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
