#pragma once
// Analytic cost of one operator call from the shapes it actually saw: floating-point (or integer)
// operations, bytes moved and parameters. The numbers are a model, not a count of instructions:
// docs/profiling.md lists the rule used for each operator family.
#include "opstudio/ir/graph.h"

#include <cstdint>
#include <vector>

namespace opstudio::profile {

/// What the cost model knows about one input or output of a call.
struct TensorInfo {
    ir::DType dtype = ir::DType::Undefined;
    std::vector<int64_t> shape;
    bool known = false;    // shape and dtype were observed (or declared)
    bool constant = false; // initializer or Constant (a weight)
    int64_t numel() const;
    int64_t bytes() const;
};

/// Cost of one call (or, once accumulated, of all calls of a node in one run).
struct OpCost {
    double flops = 0;        // 2 per multiply-accumulate; integer ops for quantized kernels
    double bytesRead = 0;    // every present input once
    double bytesWritten = 0; // every output once
    int64_t params = 0;      // elements of constant weight inputs (float and 8-bit tensors)
    int64_t paramBytes = 0;
    bool integer = false;    // int8 arithmetic (the VNNI ceiling applies)
    double bytes() const { return bytesRead + bytesWritten; }
    /// FLOPs per byte moved (0 when nothing moves).
    double intensity() const { return bytes() > 0 ? flops / bytes() : 0; }
    OpCost& operator+=(const OpCost& o);
};

/// Cost of one call of `node` with these inputs and outputs (positions as in node.inputs /
/// node.outputs; absent optional inputs have known == false). Unknown shapes count as zero.
OpCost estimateCost(const ir::Node& node, const std::vector<TensorInfo>& inputs, const std::vector<TensorInfo>& outputs);

/// True for ops whose output is a view of the input (no bytes moved by the runtime).
bool isViewOp(const std::string& opType);

} // namespace opstudio::profile
