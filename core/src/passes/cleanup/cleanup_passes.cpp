#include "passes/all_passes.h"
#include "passes/cleanup/cleanup.h"

namespace opstudio::passes {

// Order matters for presets: removing Identity and folding shapes exposes constants; folding
// constants exposes redundant chains; dead-node elimination sweeps up what is left.
void registerCleanupPasses(PassRegistry& r) {
    r.add(identityRemovalPass());
    r.add(shapeFoldingPass());
    r.add(constantFoldingPass());
    r.add(chainSimplificationPass());
    r.add(deadNodeEliminationPass());
}

} // namespace opstudio::passes
