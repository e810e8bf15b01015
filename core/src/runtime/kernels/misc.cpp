#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerMiscKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
