// The masked least-squares refit against an independent dense solve (normal equations formed from X itself,
// Gaussian elimination with partial pivoting; no Gram matrix, no Cholesky).
#include "opstudio/calibrate/layer_solver.h"
#include "opstudio/util/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>

namespace opstudio::calibrate {
namespace {

struct Problem {
    int64_t n, k;
    std::vector<double> x; // n × k row-major
    double at(int64_t i, int64_t j) const { return x[static_cast<size_t>(i * k + j)]; }
    std::vector<float> xf, w;
    std::vector<uint8_t> keep;
};

Problem randomProblem(int64_t n, int64_t k, uint64_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, 1.f);
    Problem p{n, k, std::vector<double>(static_cast<size_t>(n * k)), {}, {}, {}};
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j) {
            // Correlated features (column j leans on j-1), as real activations are.
            const float v = d(rng) + (j > 0 ? 0.6f * static_cast<float>(p.at(i, j - 1)) : 0.f);
            p.x[static_cast<size_t>(i * k + j)] = v;
            p.xf.push_back(v);
        }
    for (int64_t j = 0; j < k; ++j) {
        p.w.push_back(d(rng));
        p.keep.push_back(static_cast<uint8_t>(rng() % 2));
    }
    return p;
}

/// Reference: min ‖X_S w' - X w‖² + λ‖w' - w_S‖², i.e. (X_SᵀX_S + λI) w' = X_Sᵀ(X w) + λ w_S.
std::vector<double> referenceSolve(const Problem& p, double lambda) {
    std::vector<int64_t> s;
    for (int64_t j = 0; j < p.k; ++j)
        if (p.keep[j]) s.push_back(j);
    const auto m = static_cast<int64_t>(s.size());
    std::vector<double> y(static_cast<size_t>(p.n), 0.0);
    for (int64_t i = 0; i < p.n; ++i)
        for (int64_t j = 0; j < p.k; ++j)
            y[i] += p.at(i, j) * p.w[j];
    std::vector<std::vector<double>> a(m, std::vector<double>(m + 1, 0.0));
    for (int64_t r = 0; r < m; ++r) {
        for (int64_t c = 0; c < m; ++c)
            for (int64_t i = 0; i < p.n; ++i)
                a[r][c] += p.at(i, s[r]) * p.at(i, s[c]);
        a[r][r] += lambda;
        for (int64_t i = 0; i < p.n; ++i)
            a[r][m] += p.at(i, s[r]) * y[i];
        a[r][m] += lambda * p.w[s[r]];
    }
    for (int64_t c = 0; c < m; ++c) {
        int64_t piv = c;
        for (int64_t r = c + 1; r < m; ++r)
            if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
        std::swap(a[c], a[piv]);
        for (int64_t r = 0; r < m; ++r) {
            if (r == c) continue;
            const double f = a[r][c] / a[c][c];
            for (int64_t q = c; q <= m; ++q)
                a[r][q] -= f * a[c][q];
        }
    }
    std::vector<double> full(static_cast<size_t>(p.k), 0.0);
    for (int64_t c = 0; c < m; ++c)
        full[s[c]] = a[c][m] / a[c][c];
    return full;
}

double outputError(const Problem& p, const std::vector<float>& v) {
    double e = 0;
    for (int64_t i = 0; i < p.n; ++i) {
        double d = 0;
        for (int64_t j = 0; j < p.k; ++j)
            d += p.at(i, j) * (static_cast<double>(v[j]) - p.w[j]);
        e += d * d;
    }
    return e;
}

TEST(LayerSolver, GramMatrixIsXTransposeX) {
    const Problem p = randomProblem(37, 13, 3);
    GramMatrix g(13);
    g.addRows(p.xf.data(), 20);
    g.addRows(p.xf.data() + 20 * 13, 17);
    EXPECT_EQ(g.rows, 37);
    for (int i = 0; i < 13; ++i)
        for (int j = 0; j < 13; ++j) {
            double h = 0;
            for (int r = 0; r < 37; ++r)
                h += p.at(r, i) * p.at(r, j);
            EXPECT_NEAR(g.at(i, j), h, 1e-3 * (1 + std::abs(h)));
        }
}

TEST(LayerSolver, RefitEqualsDenseReferenceSolve) {
    for (int64_t k : {1, 7, 13, 127}) {
        const Problem p = randomProblem(3 * k + 5, k, 11 + k);
        GramMatrix g(k);
        g.addRows(p.xf.data(), p.n);
        double meanDiag = 0;
        for (int64_t j = 0; j < k; ++j)
            meanDiag += g.at(j, j);
        meanDiag /= static_cast<double>(k);
        for (double damp : {0.0, 0.01}) {
            const std::vector<float> got = refitRow(g, p.w, p.keep, damp);
            const std::vector<double> want = referenceSolve(p, damp * meanDiag);
            for (int64_t j = 0; j < k; ++j) {
                if (!p.keep[j]) EXPECT_EQ(got[j], 0.f) << "pruned weight " << j << " must stay zero";
                EXPECT_NEAR(got[j], want[j], 1e-3 * (1 + std::abs(want[j]))) << "k=" << k << " damp=" << damp;
            }
        }
    }
}

TEST(LayerSolver, RefitReducesOutputErrorOfTheMask) {
    const Problem p = randomProblem(200, 64, 5);
    GramMatrix g(64);
    g.addRows(p.xf.data(), p.n);
    std::vector<float> masked = p.w;
    for (int j = 0; j < 64; ++j)
        if (!p.keep[j]) masked[j] = 0.f;
    const std::vector<float> refit = refitRow(g, p.w, p.keep);
    // Measured 0.51 of the plain mask's error on this problem (half the weights, correlated inputs).
    EXPECT_LT(outputError(p, refit), 0.6 * outputError(p, masked));
}

TEST(LayerSolver, FullMaskReturnsTheWeights) {
    Problem p = randomProblem(50, 9, 8);
    std::fill(p.keep.begin(), p.keep.end(), 1);
    GramMatrix g(9);
    g.addRows(p.xf.data(), p.n);
    const auto got = refitRow(g, p.w, p.keep);
    for (int j = 0; j < 9; ++j)
        EXPECT_NEAR(got[j], p.w[j], 1e-4);
}

TEST(LayerSolver, RefitRowsChecksSizesAndZeroInputsFail) {
    GramMatrix g(4);
    std::vector<float> w(8, 1.f);
    std::vector<uint8_t> keep(8, 1);
    EXPECT_THROW(refitRows(g, w, keep, 3), Error);
    // No calibration rows: H = 0, damping falls back to λ·1, so the solve is still defined.
    refitRows(g, w, keep, 2);
    for (float v : w)
        EXPECT_NEAR(v, 1.f, 1e-6);
}

} // namespace
} // namespace opstudio::calibrate
