#pragma once
// The layer-wise least-squares solver shared by error-compensated pruning (SparseGPT-style refit) and
// GPTQ-style weight quantization: accumulate H = XᵀX of a layer's calibration inputs, damp it, and
// solve for the weights that best reproduce the dense layer's outputs on those inputs.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace opstudio::calibrate {

/// Default damping: λ in H + λ·mean(diag H)·I (SparseGPT and GPTQ use 0.01).
inline constexpr double kDefaultDampRatio = 0.01;

/// H = XᵀX of the rows fed so far (k features; row-major k×k, doubles for accuracy over many rows).
struct GramMatrix {
    int64_t k = 0;
    int64_t rows = 0;
    std::vector<double> h;

    explicit GramMatrix(int64_t features = 0)
        : k(features), h(static_cast<size_t>(features * features), 0.0) {}
    /// Adds n rows of X (row-major n×k floats): H += XᵀX.
    void addRows(const float* x, int64_t n);
    double at(int64_t i, int64_t j) const { return h[static_cast<size_t>(i * k + j)]; }
};

/// Refits one output row: w holds the k dense weights of the row (in the Gram matrix's feature order),
/// keep[i] says which survive. Solves (H_SS + λ·mean(diag H)·I) w'_S = (H w)_S by Cholesky (Eigen LLT) and
/// returns the new row (zeros outside S). The least-squares optimum of ‖X w - X w'‖² over w' supported on S.
/// Throws opstudio::Error when the damped system is not positive definite (all-zero calibration inputs).
std::vector<float> refitRow(const GramMatrix& gram, const std::vector<float>& w,
                            const std::vector<uint8_t>& keep, double dampRatio = kDefaultDampRatio);

/// Refits every row of W (rows × k, row-major, in place) with its mask (rows × k, 1 = kept).
void refitRows(const GramMatrix& gram, std::vector<float>& w, const std::vector<uint8_t>& keep, int64_t rows,
               double dampRatio = kDefaultDampRatio);

/// The damped H as a dense matrix: H + λ·mean(diag H)·I (row-major), for GPTQ's inverse-Hessian updates.
std::vector<double> dampedHessian(const GramMatrix& gram, double dampRatio = kDefaultDampRatio);

} // namespace opstudio::calibrate
