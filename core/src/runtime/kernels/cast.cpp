#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerCastKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
