#pragma once
// Recognizes self-attention as exporters write it (see attention_match.cpp for the forms) and
// describes it in the terms of com.microsoft Attention; attention_fusion.cpp does the rewrite.
#include "passes/fusion/fusion_util.h"

#include <optional>
#include <string>
#include <vector>

namespace opstudio::passes::fusion::attention {

/// One of the Q, K, V projections: x W[:, off:off+width] (+ b[off:off+width]), the columns of a separate
/// projection or a slice of a packed d -> 3d one.
struct Projection {
    std::string x;        // the projection's input
    ir::Tensor w;         // [hidden_in, heads * head_size], copied out of the (packed) weights
    std::vector<float> b; // empty when the projection has no bias
    int64_t heads = 0, headSize = 0;
    ir::NodeId matmul = ir::kNoNode;
};

struct Match {
    Projection q, k, v;
    std::string x;     // the attention input [B, S, hidden]
    float scale = 1.f; // multiplies q k^T
    bool causal = false;
    std::string maskSource; // 2-D [B, T] raw padding mask
    float maskFilter = -10000.f;
    /// Sequence-first exports (torch.nn.MultiheadAttention): the output projection is folded in, so the
    /// rewrite ends in x_ctx Wo (+ bo) in batch-first layout.
    std::optional<ir::Tensor> outW; // [hidden, hidden_out], MatMul layout
    std::vector<float> outB;
    std::vector<ir::NodeId> nodes; // every node the fused node replaces
    std::string out;
    ir::NodeId anchor = ir::kNoNode; // names the fused node
};

/// The attention block whose Softmax is `softmax`; nullopt with `why` ("" when `softmax` is not the
/// Softmax of an attention block at all). `opset` is the default domain's (Softmax's default axis).
std::optional<Match> matchAt(ir::Graph& g, ir::Node& softmax, int64_t opset, std::string& why);

} // namespace opstudio::passes::fusion::attention
