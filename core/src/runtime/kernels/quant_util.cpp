#include "runtime/kernels/quant_util.h"

#include <algorithm>

namespace opstudio::rt::quant {

/// uint8 quantization whose range always contains 0:
/// scale = (max(0, max x) - min(0, min x)) / 255;  zp = saturate(round(-min / scale)).
/// All-zero input gives scale 0, zero point 0 and zeros (instead of dividing by zero).
void dynamicQuantize(const float* xs, int64_t n, uint8_t* y, float& scale, int32_t& zp) {
    float lo = 0.f, hi = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        lo = std::min(lo, xs[i]);
        hi = std::max(hi, xs[i]);
    }
    scale = (hi - lo) / 255.f;
    zp = scale > 0.f ? roundSaturate((0.f - lo) / scale, 0, 255) : 0;
    const float s = scale, z = static_cast<float>(zp);
    parallelFor(
        n,
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i)
                y[i] =
                    s > 0.f ? static_cast<uint8_t>(roundSaturate(std::nearbyint(xs[i] / s) + z, 0, 255)) : 0;
        },
        4);
}

KernelFactory withOpset(void (*f)(KernelContext&, int64_t)) {
    return [f](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const int64_t opset = init.opset;
        return std::make_unique<FunctionKernel>([f, opset](KernelContext& ctx) { f(ctx, opset); },
                                                "reference");
    };
}

} // namespace opstudio::rt::quant
