#pragma once
// Evaluates one node on constant inputs with OpStudio's runtime (constant folding).
#include "opstudio/ir/graph.h"

#include <vector>

namespace opstudio::passes {

/// Runs `node` (with the opsets of `model`) on `inputs` (undefined tensors = omitted inputs).
/// Throws opstudio::Error when the node cannot be run.
std::vector<ir::Tensor> evaluateNode(const ir::Model& model, const ir::Node& node, const std::vector<ir::Tensor>& inputs);

} // namespace opstudio::passes
