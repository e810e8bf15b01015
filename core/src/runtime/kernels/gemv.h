#pragma once
// Matrix-vector products for M = 1 (LLM decode): y[N] = x[K] · W with W constant. Decode reads every
// weight once per token and does 2 flops per 4-byte weight, so the product is bound by memory
// bandwidth; the fast path streams W once in its stored order with the accumulators in L1.
#include <cstdint>

namespace opstudio::rt {

/// y = x · W for W row-major [K, N] (transposed = false) or y = x · Wᵀ for W row-major [N, K]
/// (transposed = true, MatMul's transB / Gemm's transB). Overwrites y. `threads` OpenMP threads.
void gemvF32(const float* x, const float* w, float* y, int64_t k, int64_t n, bool transposed, int threads);
/// The same product as plain loops (double accumulation), for tests.
void gemvF32Reference(const float* x, const float* w, float* y, int64_t k, int64_t n, bool transposed);

} // namespace opstudio::rt
