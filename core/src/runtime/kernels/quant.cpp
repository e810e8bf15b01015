#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerQuantKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
