#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerElementwiseKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
