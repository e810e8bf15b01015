// QuantizeLinear, DequantizeLinear (ONNX and com.microsoft), DynamicQuantizeLinear.
#include "runtime/kernels/quant_util.h"

#include <algorithm>

namespace opstudio::rt {
namespace {

using namespace quant;

void quantizeLinear(KernelContext& ctx, int64_t opset) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "x");
    const std::vector<float> s = scales(node, requireInput(ctx, 1, "y_scale"), "y_scale");
    const Tensor* zpT = optionalInput(ctx, 2);
    const DType outType = zpT ? zpT->dtype() : DType::U8;
    const QRange range = rangeOf(node, outType);
    const std::vector<int32_t> zp = zeroPoints(node, zpT);
    const AxisLayout l = axisLayout(node, x, opset, static_cast<int64_t>(s.size()), zpT ? zpT->numel() : 0);
    std::vector<float> xf;
    const float* xs = nullptr;
    if (x.dtype() == DType::F32) {
        xs = x.data<float>();
    } else if (x.dtype() == DType::I32) {
        xf.assign(x.data<int32_t>(), x.data<int32_t>() + x.numel());
        xs = xf.data();
    } else {
        kernelFail(node, "QuantizeLinear: input must be float or int32, got " +
                             std::string(ir::dtypeName(x.dtype())));
    }
    dispatchQuant(node, outType, [&](auto tag) {
        using Q = decltype(tag);
        Q* y = ctx.allocate(0, outType, x.shape()).template data<Q>();
        const int64_t n = x.numel();
        parallelFor(
            n,
            [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                    const int64_t p = l.param(i);
                    const int32_t z = zp.size() == 1 ? zp[0] : zp[p];
                    // Round the quotient first, then add the zero point (as the spec writes it).
                    const float q = std::nearbyint(xs[i] / s[p]) + static_cast<float>(z);
                    y[i] = static_cast<Q>(roundSaturate(q, range.lo, range.hi));
                }
            },
            4);
    });
}

void dequantizeLinear(KernelContext& ctx, int64_t opset) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "x");
    const std::vector<float> s = scales(node, requireInput(ctx, 1, "x_scale"), "x_scale");
    const Tensor* zpT = optionalInput(ctx, 2);
    if (zpT && zpT->dtype() != x.dtype())
        kernelFail(node, "DequantizeLinear: zero point dtype differs from x");
    const std::vector<int32_t> zp = zeroPoints(node, zpT);
    const AxisLayout l = axisLayout(node, x, opset, static_cast<int64_t>(s.size()), zpT ? zpT->numel() : 0);
    float* y = ctx.allocate(0, DType::F32, x.shape()).data<float>();
    const int64_t n = x.numel();
    auto run = [&](auto tag) {
        using Q = decltype(tag);
        const Q* xs = x.data<Q>();
        parallelFor(
            n,
            [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                    const int64_t p = l.param(i);
                    const int32_t z = zp.size() == 1 ? zp[0] : zp[p];
                    y[i] = static_cast<float>(static_cast<int32_t>(xs[i]) - z) * s[p];
                }
            },
            2);
    };
    switch (x.dtype()) {
    case DType::U8:
        run(uint8_t{});
        break;
    case DType::I8:
        run(int8_t{});
        break;
    case DType::I32:
        run(int32_t{});
        break;
    default:
        kernelFail(node, "DequantizeLinear: x must be uint8, int8 or int32, got " +
                             std::string(ir::dtypeName(x.dtype())));
    }
}

void dynamicQuantizeLinear(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "x");
    if (x.dtype() != DType::F32) kernelFail(node, "DynamicQuantizeLinear: input must be float");
    float scale = 0.f;
    int32_t zp = 0;
    dynamicQuantize(x.data<float>(), x.numel(), ctx.allocate(0, DType::U8, x.shape()).data<uint8_t>(), scale,
                    zp);
    if (ctx.wantsOutput(1)) ctx.allocate(1, DType::F32, {}).data<float>()[0] = scale;
    if (ctx.wantsOutput(2)) ctx.allocate(2, DType::U8, {}).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
}

} // namespace

void registerQuantizeLinearKernels(KernelRegistry& r) {
    r.add({"QuantizeLinear", 10, kLatestOpset, ""}, withOpset(quantizeLinear));
    r.add({"DequantizeLinear", 10, kLatestOpset, ""}, withOpset(dequantizeLinear));
    // ORT's contrib Q/DQ (per-axis before ONNX had it) have opset 13's semantics.
    auto asOpset13 = [](void (*f)(KernelContext&, int64_t)) {
        return fn([f](KernelContext& ctx) { f(ctx, 13); });
    };
    r.add({"QuantizeLinear", 1, kLatestOpset, "com.microsoft"}, asOpset13(quantizeLinear));
    r.add({"DequantizeLinear", 1, kLatestOpset, "com.microsoft"}, asOpset13(dequantizeLinear));
    r.add({"DynamicQuantizeLinear", 11, kLatestOpset, ""}, fn(dynamicQuantizeLinear));
}

} // namespace opstudio::rt
