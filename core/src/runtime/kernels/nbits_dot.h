#pragma once
// SIMD column dots for 4-bit MatMulNBits decode (AVX-512), used by matmul_nbits.cpp.
//
// A column's packed codes are read 32 bytes (64 weights) at a time. Byte i of such a chunk holds
// weights 2i (low nibble) and 2i+1 (high nibble), so the two nibble vectors [low | high] are weights
// [0, 2, .., 62 | 1, 3, .., 63] of the chunk. Instead of interleaving the nibbles back for every
// column, the activation row is permuted once per call into that order ("chunk order"), and the
// codes are used as loaded. Blocks of 32 weights put two scales in a chunk: pieces of 16 lanes are
// block 0, 1, 0, 1.
#include <cstdint>

namespace opstudio::rt::nbits {

/// AVX-512 F/BW/VL present (fp32 path) and AVX-512 VNNI present (int8 path).
bool hasAvx512();
bool hasAvx512Vnni();

/// Fast paths need a block of 32 or a multiple of 64 and K a multiple of 64 (4-bit and 8-bit codes).
bool chunkPathApplies(int64_t bits, int64_t blockSize, int64_t k);

/// Σ a_i b_i (AVX-512, masked tail): the per-block zero-point term of a column.
float dotF32Avx512(const float* a, const float* b, int64_t n);

/// `a` (k floats) permuted into chunk order.
void toChunkOrder(const float* a, int64_t k, float* out);

/// Σ_b scale_b Σ_j q_bj a_bj over one column (codes 0..15, no zero point), `a` in chunk order.
float columnDotF32Avx512(const uint8_t* codes, const float* scales, const float* a, int64_t k, int64_t blockSize);

/// Activation row quantized per block for the int8 path (ONNX Runtime's accuracy_level 4):
/// a8 = round(a / sa_b) with sa_b = max|a_b| / 127, in chunk order; asum_b = Σ a8 over the block.
struct QuantizedRow {
    int8_t* a8 = nullptr; // k values, chunk order
    float* sa = nullptr;  // k / blockSize scales
    int32_t* asum = nullptr;
};
/// `chunkOrder` false keeps the natural order (8-bit codes are stored one per byte, in order).
void quantizeRow(const float* a, int64_t k, int64_t blockSize, const QuantizedRow& out, bool chunkOrder = true);

/// Σ_b scale_b · sa_b · Σ_j q_bj a8_bj over one column (codes 0..15, no zero point), VNNI dot products.
float columnDotU4S8Vnni(const uint8_t* codes, const float* scales, const QuantizedRow& row, int64_t k,
                        int64_t blockSize);

/// 8-bit codes (one per byte, natural order): Σ_b scale_b Σ_j q_bj a_bj, `a` in natural order.
float columnDotU8F32Avx512(const uint8_t* codes, const float* scales, const float* a, int64_t k, int64_t blockSize);
/// 8-bit codes with the int8 row (natural order): Σ_b scale_b · sa_b · Σ_j q_bj a8_bj.
float columnDotU8S8Vnni(const uint8_t* codes, const float* scales, const QuantizedRow& row, int64_t k,
                        int64_t blockSize);

} // namespace opstudio::rt::nbits
