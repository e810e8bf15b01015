#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerShapeKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
