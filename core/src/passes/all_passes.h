#pragma once
#include "opstudio/passes/pass.h"

namespace opstudio::passes {

// One function per category (in passes/<category>/<category>_passes.cpp); each lists its passes.
void registerCleanupPasses(PassRegistry& r);
void registerFusionPasses(PassRegistry& r);
void registerQuantizationPasses(PassRegistry& r);
void registerPruningPasses(PassRegistry& r);
void registerAllPasses(PassRegistry& r);

} // namespace opstudio::passes
