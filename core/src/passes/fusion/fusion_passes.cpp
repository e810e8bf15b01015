#include "passes/all_passes.h"

namespace opstudio::passes {

void registerFusionPasses(PassRegistry& r) {
    (void)r;
}

} // namespace opstudio::passes
