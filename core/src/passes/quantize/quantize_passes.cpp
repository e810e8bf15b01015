#include "passes/all_passes.h"

namespace opstudio::passes {

void registerQuantizationPasses(PassRegistry& r) {
    (void)r;
}

} // namespace opstudio::passes
