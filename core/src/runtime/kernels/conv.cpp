#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerConvKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
