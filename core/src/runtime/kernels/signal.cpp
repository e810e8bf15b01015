#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerSignalKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
