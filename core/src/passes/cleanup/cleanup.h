#pragma once
#include "opstudio/passes/pass.h"

namespace opstudio::passes {

PassInfo identityRemovalPass();
PassInfo shapeFoldingPass();
PassInfo constantFoldingPass();
PassInfo chainSimplificationPass();
PassInfo deadNodeEliminationPass();

} // namespace opstudio::passes
