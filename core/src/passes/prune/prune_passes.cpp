#include "passes/all_passes.h"

namespace opstudio::passes {

void registerPruningPasses(PassRegistry& r) {
    (void)r;
}

} // namespace opstudio::passes
