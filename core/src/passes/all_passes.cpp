#include "passes/all_passes.h"

namespace opstudio::passes {

// One explicit list; static self-registration is dropped silently in static libraries.
void registerAllPasses(PassRegistry& r) {
    registerCleanupPasses(r);
    registerFusionPasses(r);
    registerQuantizationPasses(r);
    registerPruningPasses(r);
}

} // namespace opstudio::passes
