// H = XᵀX, damping and the masked least-squares refit (SparseGPT's "optimal update for a fixed mask").
#include "opstudio/calibrate/layer_solver.h"

#include "opstudio/util/error.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <string>

namespace opstudio::calibrate {

using MatrixRM = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void GramMatrix::addRows(const float* x, int64_t n) {
    if (n <= 0 || k == 0) return;
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> xf(x, n, k);
    const MatrixRM xd = xf.cast<double>();
    Eigen::Map<MatrixRM> hm(h.data(), k, k);
    hm.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose());
    hm.triangularView<Eigen::StrictlyUpper>() = hm.transpose();
    rows += n;
}

std::vector<double> dampedHessian(const GramMatrix& gram, double dampRatio) {
    std::vector<double> out = gram.h;
    double meanDiag = 0;
    for (int64_t i = 0; i < gram.k; ++i)
        meanDiag += gram.at(i, i);
    meanDiag = gram.k ? meanDiag / static_cast<double>(gram.k) : 0.0;
    // λ·mean(diag H): a relative damping that keeps the solve well posed when inputs are collinear.
    const double lambda = dampRatio * (meanDiag > 0 ? meanDiag : 1.0);
    for (int64_t i = 0; i < gram.k; ++i)
        out[static_cast<size_t>(i * gram.k + i)] += lambda;
    return out;
}

namespace {

std::vector<float> refitWithDamped(const GramMatrix& gram, const std::vector<double>& hd, const float* w,
                                   const uint8_t* keep) {
    const int64_t k = gram.k;
    std::vector<int64_t> kept;
    for (int64_t i = 0; i < k; ++i)
        if (keep[i]) kept.push_back(i);
    std::vector<float> out(static_cast<size_t>(k), 0.f);
    if (kept.empty()) return out;
    const auto s = static_cast<int64_t>(kept.size());
    // rhs = (H w)_S with the undamped H: the dense layer's output correlation we want to reproduce.
    Eigen::VectorXd rhs(s);
    for (int64_t a = 0; a < s; ++a) {
        double acc = 0;
        const double* row = gram.h.data() + kept[a] * k;
        for (int64_t j = 0; j < k; ++j)
            acc += row[j] * static_cast<double>(w[j]);
        rhs[a] = acc;
    }
    // Damped H throughout (SparseGPT): (H_d)_SS w'_S = (H_d w)_S with H_d = H + λI, so the right side
    // gains λ·w_S; a full mask then returns w exactly, and the damping pulls w' towards w, not to 0.
    Eigen::MatrixXd hs(s, s);
    for (int64_t a = 0; a < s; ++a) {
        for (int64_t b = 0; b < s; ++b)
            hs(a, b) = hd[static_cast<size_t>(kept[a] * k + kept[b])];
        rhs[a] += (hd[static_cast<size_t>(kept[a] * k + kept[a])] - gram.at(kept[a], kept[a])) * w[kept[a]];
    }
    Eigen::LLT<Eigen::MatrixXd> llt(hs);
    if (llt.info() != Eigen::Success)
        throw Error("layer solver: damped XᵀX of " + std::to_string(k) +
                    " features is not positive definite (calibration inputs all zero?)");
    const Eigen::VectorXd sol = llt.solve(rhs);
    for (int64_t a = 0; a < s; ++a)
        out[static_cast<size_t>(kept[a])] = static_cast<float>(sol[a]);
    return out;
}

} // namespace

std::vector<float> refitRow(const GramMatrix& gram, const std::vector<float>& w,
                            const std::vector<uint8_t>& keep, double dampRatio) {
    if (static_cast<int64_t>(w.size()) != gram.k || static_cast<int64_t>(keep.size()) != gram.k)
        throw Error("layer solver: row of " + std::to_string(w.size()) + " weights for a Gram matrix of " +
                    std::to_string(gram.k) + " features");
    return refitWithDamped(gram, dampedHessian(gram, dampRatio), w.data(), keep.data());
}

void refitRows(const GramMatrix& gram, std::vector<float>& w, const std::vector<uint8_t>& keep, int64_t rows,
               double dampRatio) {
    const int64_t k = gram.k;
    if (static_cast<int64_t>(w.size()) != rows * k || static_cast<int64_t>(keep.size()) != rows * k)
        throw Error("layer solver: weights/mask do not hold " + std::to_string(rows) + " rows of " +
                    std::to_string(k));
    const std::vector<double> hd = dampedHessian(gram, dampRatio);
    for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> row = refitWithDamped(gram, hd, w.data() + r * k, keep.data() + r * k);
        std::copy(row.begin(), row.end(), w.begin() + r * k);
    }
}

} // namespace opstudio::calibrate
