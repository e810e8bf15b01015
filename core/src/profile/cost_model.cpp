// Per-operator cost rules. Every rule works from the shapes a call actually saw, so stride,
// padding and dilation are already folded into the output shape: a convolution does
// (C/group)·prod(kernel) multiply-accumulates per output element whatever its stride.
#include "opstudio/profile/cost_model.h"

#include <algorithm>
#include <string>
#include <unordered_set>

namespace opstudio::profile {

int64_t TensorInfo::numel() const { return known ? ir::shapeNumel(shape) : 0; }
int64_t TensorInfo::bytes() const { return numel() * static_cast<int64_t>(ir::dtypeSize(dtype)); }

OpCost& OpCost::operator+=(const OpCost& o) {
    flops += o.flops;
    bytesRead += o.bytesRead;
    bytesWritten += o.bytesWritten;
    params += o.params;
    paramBytes += o.paramBytes;
    integer = integer || o.integer;
    return *this;
}

namespace {

const std::unordered_set<std::string>& viewOps() {
    static const std::unordered_set<std::string> k = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                                       "Dropout"};
    return k;
}

// Ops that only read metadata or make constants: no arithmetic and no data traffic worth counting.
const std::unordered_set<std::string>& metadataOps() {
    static const std::unordered_set<std::string> k = {"Shape", "Size", "Constant", "ConstantOfShape", "Range",
                                                       "EyeLike"};
    return k;
}

// One operation per output element.
const std::unordered_set<std::string>& elementwiseOps() {
    static const std::unordered_set<std::string> k = {
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Erf",
        "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Floor", "Ceil",
        "Round", "Sign", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "Sigmoid",
        "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign", "Clip", "Gelu", "FastGelu", "BiasGelu",
        "QuickGelu", "Mish", "Where", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
        "Xor", "Not", "IsNaN", "IsInf", "BitShift", "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear",
        "DynamicQuantizeLinear", "BiasAdd", "Shrink", "Trilu"};
    return k;
}

// Normalisations and softmax: mean, variance (or max, sum), subtract, scale, shift: ~5 per element.
const std::unordered_set<std::string>& normOps() {
    static const std::unordered_set<std::string> k = {
        "Softmax", "LogSoftmax", "Hardmax", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
        "LpNormalization", "MeanVarianceNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization",
        "SkipSimplifiedLayerNormalization", "EmbedLayerNormalization", "LRN"};
    return k;
}

const std::unordered_set<std::string>& reduceOps() {
    static const std::unordered_set<std::string> k = {
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "CumSum", "TopK"};
    return k;
}

int64_t product(const std::vector<int64_t>& v, size_t from = 0) {
    int64_t p = 1;
    for (auto it = v.begin() + static_cast<std::ptrdiff_t>(std::min(from, v.size())); it != v.end(); ++it) p *= *it;
    return p;
}

const TensorInfo* at(const std::vector<TensorInfo>& v, size_t i) {
    return i < v.size() && v[i].known ? &v[i] : nullptr;
}

// Conv / ConvInteger / QLinearConv / FusedConv: W is [M, C/group, k1, k2, ...].
// MACs = outputs · (C/group) · prod(k)   (groups shrink the reduction, stride/dilation the output).
double convMacs(const TensorInfo* w, const TensorInfo* y) {
    if (!w || !y || w->shape.size() < 2) return 0;
    return static_cast<double>(y->numel()) * static_cast<double>(product(w->shape, 1));
}

// MatMul with numpy broadcasting: every output element is a dot product of length K (A's last dim).
double matmulMacs(const TensorInfo* a, const TensorInfo* y) {
    if (!a || !y || a->shape.empty()) return 0;
    return static_cast<double>(y->numel()) * static_cast<double>(a->shape.back());
}

} // namespace

bool isViewOp(const std::string& opType) { return viewOps().count(opType) != 0; }

OpCost estimateCost(const ir::Node& node, const std::vector<TensorInfo>& inputs, const std::vector<TensorInfo>& outputs) {
    OpCost c;
    const std::string& op = node.opType;
    if (metadataOps().count(op)) return c;
    for (const TensorInfo& t : inputs) {
        c.bytesRead += static_cast<double>(t.bytes());
        // Weights: constant float or 8-bit tensors; int64 constants are shapes and axes, not parameters.
        if (t.known && t.constant && (ir::isFloating(t.dtype) || t.dtype == ir::DType::I8 || t.dtype == ir::DType::U8)) {
            c.params += t.numel();
            c.paramBytes += t.bytes();
        }
    }
    for (const TensorInfo& t : outputs) c.bytesWritten += static_cast<double>(t.bytes());
    if (isViewOp(op)) {
        c.bytesRead = c.bytesWritten = 0;
        return c;
    }

    const TensorInfo* x = at(inputs, 0);
    const TensorInfo* y = at(outputs, 0);
    const double outElems = y ? static_cast<double>(y->numel()) : 0;
    const double inElems = x ? static_cast<double>(x->numel()) : 0;

    if (op == "Conv" || op == "FusedConv" || op == "ConvInteger" || op == "NhwcConv") {
        c.integer = op == "ConvInteger";
        c.flops = 2 * convMacs(at(inputs, 1), y);
        if (at(inputs, 2) && op != "ConvInteger") c.flops += outElems; // bias: one add per output
        if (op == "FusedConv") c.flops += outElems;                     // fused activation
    } else if (op == "QLinearConv") {
        // x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]
        c.integer = true;
        c.flops = 2 * convMacs(at(inputs, 3), y);
    } else if (op == "ConvTranspose") {
        // Each input element is scattered through a [M/group, k...] window: MACs = inputs · (M/group) · prod(k).
        const TensorInfo* w = at(inputs, 1);
        if (w && w->shape.size() >= 2) c.flops = 2 * inElems * static_cast<double>(product(w->shape, 1));
        if (at(inputs, 2)) c.flops += outElems;
    } else if (op == "MatMul" || op == "FusedMatMul" || op == "MatMulInteger" || op == "DynamicQuantizeMatMul" ||
               op == "MatMulIntegerToFloat") {
        c.integer = op != "MatMul" && op != "FusedMatMul";
        c.flops = 2 * matmulMacs(x, y);
    } else if (op == "MatMulNBits") {
        // Weight-only block quantization: a K·N weight stored in `bits` per value (plus scales); the
        // MACs are those of the float MatMul, the bytes read are the packed ones (counted above).
        const int64_t k = node.attrInt("K", 0), n = node.attrInt("N", 0);
        c.flops = 2 * (y ? outElems * static_cast<double>(k) : 0);
        if (at(inputs, 5)) c.flops += outElems;
        c.params = k * n + (at(inputs, 5) ? n : 0);
    } else if (op == "QLinearMatMul") {
        c.integer = true;
        c.flops = 2 * matmulMacs(x, y);
    } else if (op == "Gemm" || op == "FusedGemm") {
        // Y[M,N] = alpha·op(A)·op(B) + beta·C; K is A's reduction dim (dim 0 when transA).
        if (x && x->shape.size() == 2) {
            const int64_t k = node.attrInt("transA", 0) ? x->shape[0] : x->shape[1];
            c.flops = 2 * outElems * static_cast<double>(k);
        }
        if (at(inputs, 2)) c.flops += outElems;
    } else if (op == "Attention") {
        // com.microsoft Attention: input [B,S,Hin], weights [Hin,3H]. Projection, then QKᵀ and
        // softmax(QKᵀ)·V per head: 2·B·S·S·H MACs together, softmax ~5 per score.
        const TensorInfo* w = at(inputs, 1);
        if (x && w && x->shape.size() == 3 && w->shape.size() == 2) {
            const double b = static_cast<double>(x->shape[0]), s = static_cast<double>(x->shape[1]);
            const double hin = static_cast<double>(x->shape[2]), h3 = static_cast<double>(w->shape[1]);
            const double h = h3 / 3, heads = static_cast<double>(std::max<int64_t>(1, node.attrInt("num_heads", 1)));
            c.flops = 2 * b * s * hin * h3 + 2 * 2 * b * s * s * h + 5 * b * heads * s * s;
        }
    } else if (op == "MultiHeadAttention") {
        // Q [B,S,H], K/V [B,L,H]: QKᵀ and ·V are 2·B·S·L·H MACs, softmax ~5 per score.
        const TensorInfo* k = at(inputs, 1);
        if (x && k && x->shape.size() == 3 && k->shape.size() == 3) {
            const double b = static_cast<double>(x->shape[0]), s = static_cast<double>(x->shape[1]);
            const double l = static_cast<double>(k->shape[1]), h = static_cast<double>(x->shape[2]);
            const double heads = static_cast<double>(std::max<int64_t>(1, node.attrInt("num_heads", 1)));
            c.flops = 2 * 2 * b * s * l * h + 5 * b * heads * s * l;
        }
    } else if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") {
        // One comparison/add per window element per output.
        c.flops = outElems * static_cast<double>(product(node.attrInts("kernel_shape")));
    } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "GlobalLpPool") {
        c.flops = inElems; // the window is the whole spatial extent: every input once
    } else if (reduceOps().count(op)) {
        c.flops = inElems;
    } else if (op == "BatchNormalization") {
        c.flops = 2 * outElems; // inference: y = x·s + t with s, t folded per channel
    } else if (normOps().count(op)) {
        c.flops = 5 * outElems;
    } else if (op == "Sum" || op == "Max" || op == "Min" || op == "Mean") {
        c.flops = outElems * static_cast<double>(std::max<size_t>(1, inputs.size()) - 1);
    } else if (elementwiseOps().count(op)) {
        c.flops = outElems;
    }
    // Everything else (Transpose, Concat, Gather, Slice, Pad, Resize, ...) moves data only.
    return c;
}

} // namespace opstudio::profile
