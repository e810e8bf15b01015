#include "runtime/kernels/gemv.h"

#include <algorithm>
#include <cstring>
#include <omp.h>

namespace opstudio::rt {

namespace {

// Column strip per task for W [K, N]: 512 floats = 2 KiB of accumulators (stay in L1) and 2 KiB
// contiguous reads per weight row, long enough for the hardware prefetcher.
constexpr int64_t kStrip = 512;

/// y[0:w) = Σ_k x[k] · W[k, c0 : c0 + w) for one column strip, four rows of W per pass so that the
/// accumulators are loaded and stored once per four weight rows.
#define OPSTUDIO_GEMV_ROWS_BODY                                                                              \
    std::memset(y, 0, sizeof(float) * width);                                                                \
    int64_t r = 0;                                                                                           \
    for (; r + 4 <= k; r += 4) {                                                                             \
        const float x0 = x[r], x1 = x[r + 1], x2 = x[r + 2], x3 = x[r + 3];                                  \
        const float* w0 = w + r * ld;                                                                        \
        const float* w1 = w0 + ld;                                                                           \
        const float* w2 = w1 + ld;                                                                           \
        const float* w3 = w2 + ld;                                                                           \
        for (int64_t j = 0; j < width; ++j)                                                                  \
            y[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j];                                       \
    }                                                                                                        \
    for (; r < k; ++r) {                                                                                     \
        const float xr = x[r];                                                                               \
        const float* wr = w + r * ld;                                                                        \
        for (int64_t j = 0; j < width; ++j)                                                                  \
            y[j] += xr * wr[j];                                                                              \
    }

// The loops are written plainly and vectorised by the compiler for each ISA (the core's baseline
// is x86-64-v2). The dot form keeps LANES partial sums per row so that its reduction vectorises
// without -ffast-math.
__attribute__((target("arch=x86-64-v4,prefer-vector-width=512"))) void
rowsAvx512(const float* x, const float* w, float* y, int64_t k, int64_t ld, int64_t width) {
    OPSTUDIO_GEMV_ROWS_BODY
}
__attribute__((target("arch=x86-64-v3"))) void rowsAvx2(const float* x, const float* w, float* y, int64_t k,
                                                        int64_t ld, int64_t width) {
    OPSTUDIO_GEMV_ROWS_BODY
}
void rowsBaseline(const float* x, const float* w, float* y, int64_t k, int64_t ld, int64_t width) {
    OPSTUDIO_GEMV_ROWS_BODY
}

/// Dot products of x with `rows` rows of W [N, K]: kLanes-wide partial sums per row (vectorised
/// reduction), four rows per pass sharing the loads of x.
#define OPSTUDIO_GEMV_DOTS_BODY(LANES)                                                                       \
    int64_t i = 0;                                                                                           \
    const int64_t kv = k / LANES * LANES;                                                                    \
    for (; i + 4 <= rows; i += 4) {                                                                          \
        const float* w0 = w + i * k;                                                                         \
        const float* w1 = w0 + k;                                                                            \
        const float* w2 = w1 + k;                                                                            \
        const float* w3 = w2 + k;                                                                            \
        float a0[LANES] = {}, a1[LANES] = {}, a2[LANES] = {}, a3[LANES] = {};                                \
        for (int64_t j = 0; j < kv; j += LANES)                                                              \
            for (int l = 0; l < LANES; ++l) {                                                                \
                const float xv = x[j + l];                                                                   \
                a0[l] += xv * w0[j + l];                                                                     \
                a1[l] += xv * w1[j + l];                                                                     \
                a2[l] += xv * w2[j + l];                                                                     \
                a3[l] += xv * w3[j + l];                                                                     \
            }                                                                                                \
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                                \
        for (int l = 0; l < LANES; ++l)                                                                      \
            s0 += a0[l], s1 += a1[l], s2 += a2[l], s3 += a3[l];                                              \
        for (int64_t j = kv; j < k; ++j) {                                                                   \
            s0 += x[j] * w0[j];                                                                              \
            s1 += x[j] * w1[j];                                                                              \
            s2 += x[j] * w2[j];                                                                              \
            s3 += x[j] * w3[j];                                                                              \
        }                                                                                                    \
        y[i] = s0, y[i + 1] = s1, y[i + 2] = s2, y[i + 3] = s3;                                              \
    }                                                                                                        \
    for (; i < rows; ++i) {                                                                                  \
        const float* wi = w + i * k;                                                                         \
        float a[LANES] = {};                                                                                 \
        for (int64_t j = 0; j < kv; j += LANES)                                                              \
            for (int l = 0; l < LANES; ++l)                                                                  \
                a[l] += x[j + l] * wi[j + l];                                                                \
        float s = 0;                                                                                         \
        for (int l = 0; l < LANES; ++l)                                                                      \
            s += a[l];                                                                                       \
        for (int64_t j = kv; j < k; ++j)                                                                     \
            s += x[j] * wi[j];                                                                               \
        y[i] = s;                                                                                            \
    }

__attribute__((target("arch=x86-64-v4,prefer-vector-width=512"))) void
dotsAvx512(const float* x, const float* w, float* y, int64_t k, int64_t rows) {
    OPSTUDIO_GEMV_DOTS_BODY(16)
}
__attribute__((target("arch=x86-64-v3"))) void dotsAvx2(const float* x, const float* w, float* y, int64_t k,
                                                        int64_t rows) {
    OPSTUDIO_GEMV_DOTS_BODY(8)
}
void dotsBaseline(const float* x, const float* w, float* y, int64_t k, int64_t rows) {
    OPSTUDIO_GEMV_DOTS_BODY(4)
}

enum class Isa { Avx512, Avx2, Baseline };

Isa isa() {
    static const Isa i = (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vl"))
                             ? Isa::Avx512
                         : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? Isa::Avx2
                                                                                             : Isa::Baseline;
    return i;
}

} // namespace

void gemvF32(const float* x, const float* w, float* y, int64_t k, int64_t n, bool transposed, int threads) {
    if (n <= 0) return;
    if (k <= 0) {
        std::fill(y, y + n, 0.f);
        return;
    }
    const Isa which = isa();
    // Below ~64K weights (256 KB) the fork/join costs more than it saves.
    const int t = k * n >= (int64_t{1} << 16) ? std::max(1, threads) : 1;
    if (!transposed) {
        const int64_t strips = (n + kStrip - 1) / kStrip;
        auto one = [&](int64_t s) {
            const int64_t c0 = s * kStrip, width = std::min(kStrip, n - c0);
            if (which == Isa::Avx512)
                rowsAvx512(x, w + c0, y + c0, k, n, width);
            else if (which == Isa::Avx2)
                rowsAvx2(x, w + c0, y + c0, k, n, width);
            else
                rowsBaseline(x, w + c0, y + c0, k, n, width);
        };
        if (t == 1 || strips == 1) {
            for (int64_t s = 0; s < strips; ++s)
                one(s);
        } else {
#pragma omp parallel for num_threads(t) schedule(static)
            for (int64_t s = 0; s < strips; ++s)
                one(s);
        }
        return;
    }
    // [N, K]: contiguous rows; split the rows evenly (multiples of 4) over the threads.
    auto range = [&](int64_t r0, int64_t r1) {
        if (r1 <= r0) return;
        if (which == Isa::Avx512)
            dotsAvx512(x, w + r0 * k, y + r0, k, r1 - r0);
        else if (which == Isa::Avx2)
            dotsAvx2(x, w + r0 * k, y + r0, k, r1 - r0);
        else
            dotsBaseline(x, w + r0 * k, y + r0, k, r1 - r0);
    };
    if (t == 1) {
        range(0, n);
        return;
    }
#pragma omp parallel num_threads(t)
    {
        const int nt = omp_get_num_threads(), id = omp_get_thread_num();
        const int64_t per = ((n + nt - 1) / nt + 3) / 4 * 4;
        range(std::min(n, id * per), std::min(n, (id + 1) * per));
    }
}

void gemvF32Reference(const float* x, const float* w, float* y, int64_t k, int64_t n, bool transposed) {
    for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t r = 0; r < k; ++r)
            s += static_cast<double>(x[r]) * (transposed ? w[j * k + r] : w[r * n + j]);
        y[j] = static_cast<float>(s);
    }
}

} // namespace opstudio::rt
