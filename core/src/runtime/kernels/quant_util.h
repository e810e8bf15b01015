#pragma once
// Helpers shared by the quantized kernel families (quantize_linear, integer_matmul,
// integer_conv): affine quantization parameters, saturation, dtype dispatch.
//
// Affine quantization: real = (q - zero_point) * scale, and back q = saturate(round(real / scale)
// + zero_point) with round-half-to-even (std::nearbyint in the default rounding mode).
#include "runtime/kernels/kernel_util.h"

#include <cmath>
#include <string>
#include <vector>

namespace opstudio::rt::quant {

inline const Tensor& requireInput(KernelContext& ctx, size_t i, const char* what) {
    if (!ctx.hasInput(i)) kernelFail(ctx.node(), ctx.node().opType + ": missing input '" + what + "'");
    return ctx.input(i);
}

/// Saturating round-half-to-even of v into [lo, hi].
inline int32_t roundSaturate(float v, int32_t lo, int32_t hi) {
    if (!(v == v)) return 0; // NaN
    const float r = std::nearbyint(v);
    if (r <= static_cast<float>(lo)) return lo;
    if (r >= static_cast<float>(hi)) return hi;
    return static_cast<int32_t>(r);
}

struct QRange {
    int32_t lo, hi;
};
inline QRange rangeOf(const ir::Node& node, DType dt) {
    if (dt == DType::U8) return {0, 255};
    if (dt == DType::I8) return {-128, 127};
    kernelFail(node, node.opType + ": quantized dtype must be uint8 or int8, got " +
                         std::string(ir::dtypeName(dt)));
}

/// Zero points as int32 (any of u8/i8/i32); empty tensor -> {0}.
inline std::vector<int32_t> zeroPoints(const ir::Node& node, const Tensor* zp) {
    if (!zp) return {0};
    std::vector<int32_t> out(static_cast<size_t>(zp->numel()));
    switch (zp->dtype()) {
    case DType::U8:
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = zp->data<uint8_t>()[i];
        break;
    case DType::I8:
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = zp->data<int8_t>()[i];
        break;
    case DType::I32:
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = zp->data<int32_t>()[i];
        break;
    default:
        kernelFail(node, node.opType + ": zero point dtype " + std::string(ir::dtypeName(zp->dtype())) +
                             " unsupported");
    }
    if (out.empty()) kernelFail(node, node.opType + ": empty zero point");
    return out;
}

inline std::vector<float> scales(const ir::Node& node, const Tensor& s, const char* what) {
    if (s.dtype() != DType::F32)
        kernelFail(node, node.opType + ": " + what + " must be float, got " +
                             std::string(ir::dtypeName(s.dtype())));
    if (s.numel() == 0) kernelFail(node, node.opType + ": empty " + what);
    return {s.data<float>(), s.data<float>() + s.numel()};
}

inline const Tensor* optionalInput(KernelContext& ctx, size_t i) {
    return ctx.hasInput(i) ? &ctx.input(i) : nullptr;
}

template <typename F> decltype(auto) dispatchQuant(const ir::Node& node, DType dt, F&& f) {
    switch (dt) {
    case DType::U8:
        return f(uint8_t{});
    case DType::I8:
        return f(int8_t{});
    default:
        kernelFail(node, node.opType + ": expected uint8 or int8, got " + std::string(ir::dtypeName(dt)));
    }
}

/// Per-tensor or per-axis layout: element i of x uses parameter (i / inner) % len.
struct AxisLayout {
    int64_t len = 1, inner = 1;
    int64_t param(int64_t i) const { return len == 1 ? 0 : (i / inner) % len; }
};

/// Checks scale / zero point sizes: per-tensor (1 element) or, from opset 13, 1-D along `axis`.
inline AxisLayout axisLayout(const ir::Node& node, const Tensor& x, int64_t opset, int64_t scaleCount,
                             int64_t zpCount) {
    AxisLayout l;
    if (scaleCount == 1 && zpCount <= 1) return l;
    if (opset < 13) kernelFail(node, node.opType + ": per-axis scales need opset 13");
    const int64_t axis = normalizeAxis(node.attrInt("axis", 1), x.rank());
    l.len = x.dim(static_cast<int>(axis));
    for (int64_t d = axis + 1; d < x.rank(); ++d)
        l.inner *= x.dim(static_cast<int>(d));
    if (scaleCount != l.len || (zpCount > 1 && zpCount != l.len))
        kernelFail(node, node.opType + ": per-axis scale/zero point must have " + std::to_string(l.len) +
                             " elements");
    return l;
}

/// uint8 quantization whose range always contains 0 (DynamicQuantizeLinear's rule).
void dynamicQuantize(const float* xs, int64_t n, uint8_t* y, float& scale, int32_t& zp);

/// A kernel factory passing the node's opset to `f`.
KernelFactory withOpset(void (*f)(KernelContext&, int64_t));

} // namespace opstudio::rt::quant
