#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerPoolKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
