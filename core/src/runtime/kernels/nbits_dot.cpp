#include "runtime/kernels/nbits_dot.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace opstudio::rt::nbits {

bool hasAvx512() {
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl");
    return has;
}

bool hasAvx512Vnni() {
    static const bool has = hasAvx512() && __builtin_cpu_supports("avx512vnni");
    return has;
}

bool chunkPathApplies(int64_t bits, int64_t blockSize, int64_t k) {
    return (bits == 4 || bits == 8) && (blockSize == 32 || blockSize % 64 == 0) && k % 64 == 0 && k % blockSize == 0;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) float dotF32Avx512(const float* a, const float* b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void toChunkOrder(const float* a, int64_t k, float* out) {
    for (int64_t c = 0; c < k; c += 64)
        for (int64_t i = 0; i < 32; ++i) {
            out[c + i] = a[c + 2 * i];
            out[c + 32 + i] = a[c + 2 * i + 1];
        }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) float
columnDotF32Avx512(const uint8_t* codes, const float* scales, const float* a, int64_t k, int64_t blockSize) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m512 total = _mm512_setzero_ps(), other = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 64) {
        std::swap(total, other); // two dependency chains
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + c / 2));
        const __m256i lo = _mm256_and_si256(v, mask);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
        const __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(lo)));
        const __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(lo, 1)));
        const __m512 q2 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(hi)));
        const __m512 q3 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(hi, 1)));
        const float* ac = a + c;
        if (blockSize == 32) {
            // Pieces q0, q2 are block c/32, pieces q1, q3 block c/32 + 1.
            __m512 t0 = _mm512_mul_ps(q0, _mm512_loadu_ps(ac));
            __m512 t1 = _mm512_mul_ps(q1, _mm512_loadu_ps(ac + 16));
            t0 = _mm512_fmadd_ps(q2, _mm512_loadu_ps(ac + 32), t0);
            t1 = _mm512_fmadd_ps(q3, _mm512_loadu_ps(ac + 48), t1);
            total = _mm512_fmadd_ps(t0, _mm512_set1_ps(scales[c / 32]), total);
            total = _mm512_fmadd_ps(t1, _mm512_set1_ps(scales[c / 32 + 1]), total);
        } else {
            __m512 t = _mm512_mul_ps(q0, _mm512_loadu_ps(ac));
            t = _mm512_fmadd_ps(q1, _mm512_loadu_ps(ac + 16), t);
            t = _mm512_fmadd_ps(q2, _mm512_loadu_ps(ac + 32), t);
            t = _mm512_fmadd_ps(q3, _mm512_loadu_ps(ac + 48), t);
            total = _mm512_fmadd_ps(t, _mm512_set1_ps(scales[c / blockSize]), total);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(total, other));
}

void quantizeRow(const float* a, int64_t k, int64_t blockSize, const QuantizedRow& out, bool chunkOrder) {
    std::vector<int8_t> natural(static_cast<size_t>(k));
    for (int64_t b = 0; b * blockSize < k; ++b) {
        const float* ab = a + b * blockSize;
        float m = 0.f;
        for (int64_t j = 0; j < blockSize; ++j) m = std::max(m, std::fabs(ab[j]));
        const float s = m / 127.f, inv = m > 0.f ? 127.f / m : 0.f;
        int32_t sum = 0;
        for (int64_t j = 0; j < blockSize; ++j) {
            const int32_t q = static_cast<int32_t>(std::nearbyint(ab[j] * inv));
            natural[static_cast<size_t>(b * blockSize + j)] = static_cast<int8_t>(std::clamp(q, -127, 127));
            sum += natural[static_cast<size_t>(b * blockSize + j)];
        }
        out.sa[b] = s;
        out.asum[b] = sum;
    }
    if (!chunkOrder) {
        std::copy(natural.begin(), natural.end(), out.a8);
        return;
    }
    for (int64_t c = 0; c < k; c += 64)
        for (int64_t i = 0; i < 32; ++i) {
            out.a8[c + i] = natural[static_cast<size_t>(c + 2 * i)];
            out.a8[c + 32 + i] = natural[static_cast<size_t>(c + 2 * i + 1)];
        }
}

/// Weight scale × activation scale for the 16 dot lanes of the 64-weight chunk at `c`: one value when the
/// block covers the chunk, else blocks c/32 and c/32 + 1 spread by `pairIdx` (the lane layout of the codes).
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 chunkScales(const float* scales, const float* sa,
                                                                             int64_t c, int64_t blockSize,
                                                                             __m512i pairIdx) {
    if (blockSize != 32) {
        const int64_t b = c / blockSize;
        return _mm512_set1_ps(scales[b] * sa[b]);
    }
    const int64_t b = c / 32;
    const __m128 pair = _mm_mul_ps(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(scales + b))),
                                   _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(sa + b))));
    return _mm512_permutexvar_ps(pairIdx, _mm512_castps128_ps512(pair));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) float
columnDotU4S8Vnni(const uint8_t* codes, const float* scales, const QuantizedRow& row, int64_t k,
                  int64_t blockSize) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    // 16 lanes of a chunk's dot: lanes 0-3 and 8-11 are block 2c', lanes 4-7 and 12-15 block 2c'+1.
    const __m512i pairIdx = _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
    __m512 total = _mm512_setzero_ps(), other = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 64) {
        std::swap(total, other); // two dependency chains
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + c / 2));
        const __m256i lo = _mm256_and_si256(v, mask);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        const __m512i a8 = _mm512_loadu_si512(row.a8 + c);
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q, a8));
        total = _mm512_fmadd_ps(dot, chunkScales(scales, row.sa, c, blockSize, pairIdx), total);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(total, other));
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) float
columnDotU8F32Avx512(const uint8_t* codes, const float* scales, const float* a, int64_t k, int64_t blockSize) {
    __m512 total = _mm512_setzero_ps();
    for (int64_t b = 0; b * blockSize < k; ++b) {
        const uint8_t* p = codes + b * blockSize;
        const float* ab = a + b * blockSize;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        for (int64_t j = 0; j < blockSize; j += 32) {
            const __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j))));
            const __m512 q1 =
                _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j + 16))));
            acc0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(ab + j), acc0);
            acc1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(ab + j + 16), acc1);
        }
        total = _mm512_fmadd_ps(_mm512_add_ps(acc0, acc1), _mm512_set1_ps(scales[b]), total);
    }
    return _mm512_reduce_add_ps(total);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) float
columnDotU8S8Vnni(const uint8_t* codes, const float* scales, const QuantizedRow& row, int64_t k, int64_t blockSize) {
    // 64 codes per step; blocks of 32 put block 2c' in lanes 0-7 and block 2c'+1 in lanes 8-15.
    const __m512i pairIdx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 total = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 64) {
        const __m512i q = _mm512_loadu_si512(codes + c);
        const __m512i a8 = _mm512_loadu_si512(row.a8 + c);
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q, a8));
        total = _mm512_fmadd_ps(dot, chunkScales(scales, row.sa, c, blockSize, pairIdx), total);
    }
    return _mm512_reduce_add_ps(total);
}

} // namespace opstudio::rt::nbits
