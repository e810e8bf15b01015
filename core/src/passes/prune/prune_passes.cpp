#include "passes/all_passes.h"
#include "passes/prune/prune_util.h"

namespace opstudio::passes {

void registerPruningPasses(PassRegistry& r) {
    r.add(prune::magnitudePruningPass());
    r.add(prune::nmPruningPass());
    r.add(prune::sparseGptPruningPass());
    r.add(prune::wandaPruningPass());
}

} // namespace opstudio::passes
