#pragma once
// Palettized MatMul (cluster-weights-kmeans output): the plan rewrites
//   MatMul(A, Gather(codebook, Cast(indices:uint8) [+ offsets]))
// with constant codebook / indices / offsets into the internal op ai.opstudio.LutMatMul(A, indices,
// codebook[, offsets]), whose kernel reads the indices (packed to 4 bits when every index < 16) and
// looks the weights up in registers; no dequantized copy of the weight is made.
#include "opstudio/ir/graph.h"

#include <memory>
#include <string>
#include <vector>

namespace opstudio::rt {

inline constexpr const char* kLutMatMulDomain = "ai.opstudio";
inline constexpr const char* kLutMatMulOp = "LutMatMul";

/// One MatMul of the graph to run as LutMatMul: `fused` has the MatMul's id, name and output and
/// replaces it in the plan; the `absorbed` nodes (Cast, Add, Gather) are not run.
struct LutMatMulRewrite {
    ir::NodeId matmul = ir::kNoNode;
    std::vector<ir::NodeId> absorbed;
    std::unique_ptr<ir::Node> fused;
};

/// Every MatMul whose B is such a Gather chain with constant inputs, 2-D uint8 indices [K, N], 1-D
/// f32 codebook, int32 offsets [N] or [1, N] in range, and intermediate values read by nothing else.
/// Empty when the environment sets OPSTUDIO_LUT=0.
std::vector<LutMatMulRewrite> findLutMatMuls(const ir::Graph& graph);

} // namespace opstudio::rt
