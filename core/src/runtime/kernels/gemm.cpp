#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerGemmKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
