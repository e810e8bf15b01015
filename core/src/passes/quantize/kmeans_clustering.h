#pragma once
// cluster-weights-kmeans (palettization): factory for the pass registry.
#include "opstudio/passes/pass.h"

namespace opstudio::passes::quantize {

PassInfo kmeansClusteringPass();

} // namespace opstudio::passes::quantize
