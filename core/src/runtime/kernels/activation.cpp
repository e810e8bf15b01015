#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerActivationKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
