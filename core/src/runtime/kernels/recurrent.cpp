#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerRecurrentKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
