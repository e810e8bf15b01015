#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerDetectionKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
