#pragma once
// Block-wise weight-only quantization in the com.microsoft MatMulNBits layout, shared by the
// quantize-weights pass and its tests: W [N, K] (one row per output column) is cut into blocks of
// `blockSize` along K; each block has a float scale and (asymmetric mode) a zero point, values are
// unsigned `bits`-bit codes, two 4-bit codes per byte with the low nibble first:
//   W[n, k] ≈ (q[n, k] - zp[n, k / blockSize]) * scale[n, k / blockSize]
// Symmetric mode stores no zero points (the runtime's default is 2^(bits-1)).
#include "opstudio/calibrate/layer_solver.h"
#include "opstudio/passes/pass.h"

#include <cstdint>
#include <vector>

namespace opstudio::passes::quantize {

struct BlockQuantConfig {
    int bits = 4;          // 4 or 8
    int64_t blockSize = 32;
    bool symmetric = true; // false: per-block zero points
    /// Round-to-nearest picks, per block, the clipping of the range (a grid of 1.0 down to 0.80
    /// of the extreme) that minimizes the block's squared error; false: the plain extreme.
    bool searchClip = false;
};

/// A quantized [N, K] matrix in MatMulNBits layout.
struct QuantizedMatrix {
    int64_t n = 0, k = 0, kBlocks = 0, blobSize = 0, zpPerRow = 0;
    BlockQuantConfig config;
    std::vector<uint8_t> packed;  // [N, kBlocks, blobSize]
    std::vector<float> scales;    // [N, kBlocks]
    std::vector<uint8_t> zeros;   // [N, zpPerRow] (packed like the codes); empty when symmetric

    int32_t zeroPoint(int64_t row, int64_t block) const;
    int32_t code(int64_t row, int64_t col) const;
    /// W' [N, K] row-major: what the runtime computes with.
    std::vector<float> dequantize() const;
    /// Bytes of codes + scales + zero points.
    int64_t storageBytes() const;
};

/// An empty matrix with the sizes for `config` (codes 0, scales 0).
QuantizedMatrix makeQuantizedMatrix(int64_t n, int64_t k, const BlockQuantConfig& config);

/// Round-to-nearest of W [N, K] row-major.
QuantizedMatrix quantizeRtn(const std::vector<float>& w, int64_t n, int64_t k, const BlockQuantConfig& config);

/// GPTQ (Frantar et al. 2023): columns of W [N, K] are quantized in order; each column's rounding
/// error is spread over the not-yet-quantized columns through the inverse of the damped Hessian
/// H = XᵀX of the layer's calibration inputs, so ‖X W - X W'‖ is smaller than with plain rounding.
/// A block's scale and zero point are chosen (round-to-nearest rule) from the updated weights when
/// the first column of the block is reached.
QuantizedMatrix quantizeGptq(const std::vector<float>& w, int64_t n, int64_t k, const BlockQuantConfig& config,
                             const calibrate::GramMatrix& gram, double dampRatio = calibrate::kDefaultDampRatio);

/// Activation-aware scaling (AWQ, Lin et al. 2024): input channel j is scaled by s_j = rms_j^α before
/// rounding (W diag(s), the input divided by s at run time), so channels with large activations get finer
/// steps. α is searched on a grid of 0, 0.1 .. 1 by the output error through the Gram matrix; α = 0 is
/// plain rounding, so the result is never worse than it on the calibration data.
struct AwqResult {
    double alpha = 0;
    std::vector<float> scales; // s_j, k values (all 1 when alpha = 0)
    QuantizedMatrix q;         // of W diag(s)
    double outputError = 0;    // relativeOutputError of W' = Q diag(1/s)
};
AwqResult quantizeAwq(const std::vector<float>& w, int64_t n, int64_t k, const BlockQuantConfig& config,
                      const calibrate::GramMatrix& gram, const std::vector<double>& featureSumSq);

/// ‖X (W - W')ᵀ‖² / ‖X Wᵀ‖² through the Gram matrix (tr(Δ H Δᵀ) / tr(W H Wᵀ)), W and W' [N, K].
double relativeOutputError(const std::vector<float>& w, const std::vector<float>& wq, int64_t n,
                           const calibrate::GramMatrix& gram);

/// A MatMul / Gemm with a constant 2-D f32 weight, seen as W [N, K] (one row per output column; Gemm's
/// transB and alpha folded in, beta·C as a per-column bias).
struct LinearLayer {
    ir::Node* node = nullptr;
    int64_t k = 0, n = 0;
    std::vector<float> w;    // [N, K] row-major
    std::vector<float> bias; // N values, or empty
};

/// True when the node's name or op type is in the list.
bool inSkipList(const std::vector<std::string>& list, const ir::Node& n);

/// The MatMul / Gemm layers a weight-quantization pass can rewrite into `target` (named in skip reasons);
/// the others are reported through ctx.skip with the reason.
std::vector<LinearLayer> linearLayers(PassContext& ctx, const std::vector<std::string>& skip, const std::string& target);

/// sqrt(Σ(w - w')² / Σw²).
double relativeRmse(const std::vector<float>& w, const std::vector<float>& wq);

/// The pass factory (quantize_weights.cpp).
PassInfo quantizeWeightsPass();

} // namespace opstudio::passes::quantize
