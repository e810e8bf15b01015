#include "passes/all_passes.h"

namespace opstudio::passes {

void registerCleanupPasses(PassRegistry& r) {
    (void)r;
}

} // namespace opstudio::passes
