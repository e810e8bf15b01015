#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {

void registerGatherScatterKernels(KernelRegistry& r) {
    (void)r;
}

} // namespace opstudio::rt
