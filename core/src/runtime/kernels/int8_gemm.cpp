#include "runtime/kernels/int8_gemm.h"

namespace opstudio::rt::quant {

std::vector<int8_t> signedWeights(const Tensor& b, int32_t& shift) {
    std::vector<int8_t> out(static_cast<size_t>(b.numel()));
    if (b.dtype() == DType::U8) {
        shift = 128;
        const uint8_t* p = b.data<uint8_t>();
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<int8_t>(static_cast<int32_t>(p[i]) - 128);
    } else {
        shift = 0;
        std::copy(b.data<int8_t>(), b.data<int8_t>() + b.numel(), out.begin());
    }
    return out;
}

} // namespace opstudio::rt::quant
