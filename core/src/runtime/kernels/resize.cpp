#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerResizeKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
