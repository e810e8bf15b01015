// prune-sparsegpt: error-compensated one-shot pruning (Frantar & Alistarh, SparseGPT 2023). Per layer, from
// the calibration inputs X of the MatMul/Gemm (Conv: its im2col rows), H = XᵀX + λ·mean(diag H)·I. Two updates:
//   obs   (SparseGPT order): walk the input columns left to right; the OBS saliency of w_rq is
//         w_rq² / [U]_qq² with U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU); zero the chosen weights of
//         column q and spread each row's error over the columns still to come,
//         W[:, q:] -= ((w_q - ŵ_q) / U_qq) · U[q, q:],
//         so that later columns absorb earlier errors. Unstructured masks are chosen per block of
//         `blocksize` columns over all rows together (the paper's adaptive mask); N:M per group of M.
//   refit: mask by w² / [H⁻¹]_qq² per output row (exact sparsity per row, or N:M), then the kept weights
//         of each row solve H_SS w_S = (H w)_S (the shared layer solver): the least-squares optimum for
//         that mask.
#include "passes/prune/calibrated_layers.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace opstudio::passes::prune {

namespace {

using MatrixRM = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct SparseGptOptions {
    double sparsity = 0.5;
    int64_t n = 0, m = 4; // n > 0: keep n of every m consecutive inputs
    int64_t blocksize = 128;
    double damp = calibrate::kDefaultDampRatio;
};

/// H + λ·mean(diag H)·I with dead inputs (never non-zero on calibration data) given H_ii = 1; their
/// weights see no input, so zeroing them costs nothing and they are pruned first.
MatrixRM dampedWithDeadInputs(const calibrate::GramMatrix& gram, std::vector<uint8_t>& dead, double damp) {
    const int64_t k = gram.k;
    MatrixRM h = Eigen::Map<const MatrixRM>(gram.h.data(), k, k);
    dead.assign(static_cast<size_t>(k), 0);
    for (int64_t i = 0; i < k; ++i)
        if (h(i, i) == 0) {
            dead[static_cast<size_t>(i)] = 1;
            h(i, i) = 1;
        }
    const double lambda = damp * h.diagonal().mean();
    h.diagonal().array() += lambda;
    return h;
}

MatrixRM inverseSpd(const MatrixRM& h, const std::string& layer) {
    Eigen::LLT<MatrixRM> llt(h);
    if (llt.info() != Eigen::Success)
        throw Error("prune-sparsegpt: the damped Hessian of '" + layer +
                    "' is not positive definite (raise damp)");
    return llt.solve(MatrixRM::Identity(h.rows(), h.cols()));
}

/// Marks (sets to 1) the `count` smallest scores among idx (ties by position).
void markSmallest(const std::vector<double>& score, std::vector<int64_t>& idx, size_t count,
                  std::vector<uint8_t>& pruned) {
    if (count == 0) return;
    count = std::min(count, idx.size());
    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(count - 1), idx.end(),
                     [&](int64_t a, int64_t b) { return score[a] < score[b] || (score[a] == score[b] && a < b); });
    for (size_t i = 0; i < count; ++i)
        pruned[static_cast<size_t>(idx[i])] = 1;
}

/// SparseGPT's column-by-column prune-and-update. w: rows × k (row-major), returned pruned.
std::vector<float> sparseGptObs(const std::vector<float>& w0, int64_t rows, int64_t k,
                                const calibrate::GramMatrix& gram, const SparseGptOptions& o,
                                const std::string& layer) {
    std::vector<uint8_t> dead;
    const MatrixRM h = dampedWithDeadInputs(gram, dead, o.damp);
    // U: upper Cholesky factor of H⁻¹; row q of U holds the OBS update direction for column q given
    // that columns < q are already fixed.
    const MatrixRM hinv = inverseSpd(h, layer);
    Eigen::LLT<MatrixRM> lltInv(hinv);
    if (lltInv.info() != Eigen::Success)
        throw Error("prune-sparsegpt: the inverse Hessian of '" + layer + "' is not positive definite (raise damp)");
    const MatrixRM u = lltInv.matrixU();
    MatrixRM w = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                     w0.data(), rows, k)
                     .cast<double>();
    for (int64_t i = 0; i < k; ++i)
        if (dead[static_cast<size_t>(i)]) w.col(i).setZero();
    std::vector<uint8_t> pruned(static_cast<size_t>(rows * k), 0); // row-major over the whole layer
    for (int64_t i1 = 0; i1 < k; i1 += o.blocksize) {
        const int64_t i2 = std::min(k, i1 + o.blocksize), count = i2 - i1;
        MatrixRM w1 = w.block(0, i1, rows, count);
        MatrixRM err1 = MatrixRM::Zero(rows, count);
        const MatrixRM u1 = u.block(i1, i1, count, count);
        if (o.n == 0) {
            // Adaptive mask: the floor(sparsity · rows · count) lowest saliencies of the block.
            std::vector<double> score(static_cast<size_t>(rows * count));
            std::vector<int64_t> idx(score.size());
            std::iota(idx.begin(), idx.end(), 0);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < count; ++c) {
                    const double d = u1(c, c);
                    score[static_cast<size_t>(r * count + c)] = w1(r, c) * w1(r, c) / (d * d);
                }
            std::vector<uint8_t> blockPruned(score.size(), 0);
            markSmallest(score, idx, static_cast<size_t>(std::floor(o.sparsity * static_cast<double>(score.size()))),
                         blockPruned);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < count; ++c)
                    pruned[static_cast<size_t>(r * k + i1 + c)] = blockPruned[static_cast<size_t>(r * count + c)];
        }
        for (int64_t c = 0; c < count; ++c) {
            const int64_t col = i1 + c;
            if (o.n > 0 && (col % o.m) == 0) {
                // N:M: in each row, prune the M - N lowest saliencies of columns col .. col + M - 1, scored
                // with the weights as updated so far.
                std::vector<double> score(static_cast<size_t>(o.m));
                std::vector<int64_t> idx(score.size());
                std::vector<uint8_t> groupPruned(score.size());
                for (int64_t r = 0; r < rows; ++r) {
                    for (int64_t j = 0; j < o.m; ++j) {
                        const double d = u1(c + j, c + j);
                        score[static_cast<size_t>(j)] = w1(r, c + j) * w1(r, c + j) / (d * d);
                    }
                    std::iota(idx.begin(), idx.end(), 0);
                    std::fill(groupPruned.begin(), groupPruned.end(), 0);
                    markSmallest(score, idx, static_cast<size_t>(o.m - o.n), groupPruned);
                    for (int64_t j = 0; j < o.m; ++j)
                        pruned[static_cast<size_t>(r * k + col + j)] = groupPruned[static_cast<size_t>(j)];
                }
            }
            const double d = u1(c, c);
            for (int64_t r = 0; r < rows; ++r) {
                const double wv = w1(r, c);
                const double q = pruned[static_cast<size_t>(r * k + col)] ? 0.0 : wv;
                err1(r, c) = (wv - q) / d;
                w1(r, c) = q;
            }
            // Later columns of the block absorb this column's error.
            if (c + 1 < count)
                w1.block(0, c + 1, rows, count - c - 1).noalias() -=
                    err1.col(c) * u1.block(c, c + 1, 1, count - c - 1);
        }
        w.block(0, i1, rows, count) = w1;
        if (i2 < k) w.block(0, i2, rows, k - i2).noalias() -= err1 * u.block(i1, i2, count, k - i2);
    }
    std::vector<float> out(static_cast<size_t>(rows * k));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < k; ++i)
            out[static_cast<size_t>(r * k + i)] =
                pruned[static_cast<size_t>(r * k + i)] ? 0.f : static_cast<float>(w(r, i));
    return out;
}

/// Mask by the OBS saliency w² / [H⁻¹]_qq² (per row or N:M), then the least-squares refit of each row.
std::vector<float> sparseGptRefit(const std::vector<float>& w0, int64_t rows, int64_t k,
                                  const calibrate::GramMatrix& gram, const SparseGptOptions& o,
                                  const std::string& layer) {
    std::vector<uint8_t> dead;
    const MatrixRM hinv = inverseSpd(dampedWithDeadInputs(gram, dead, o.damp), layer);
    std::vector<double> score(w0.size());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < k; ++i) {
            const double d = hinv(i, i), wv = w0[static_cast<size_t>(r * k + i)];
            score[static_cast<size_t>(r * k + i)] = dead[static_cast<size_t>(i)] ? -1.0 : wv * wv / (d * d);
        }
    std::vector<uint8_t> pruned(w0.size(), 0);
    const int64_t group = o.n > 0 ? o.m : k;
    const auto perGroup = static_cast<size_t>(o.n > 0 ? o.m - o.n
                                                      : static_cast<int64_t>(std::floor(o.sparsity * static_cast<double>(k))));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t g0 = 0; g0 < k; g0 += group) {
            std::vector<int64_t> idx(static_cast<size_t>(group));
            std::iota(idx.begin(), idx.end(), r * k + g0);
            markSmallest(score, idx, perGroup, pruned);
        }
    std::vector<uint8_t> keep(pruned.size());
    for (size_t i = 0; i < keep.size(); ++i)
        keep[i] = pruned[i] ? 0 : 1;
    std::vector<float> w = w0;
    calibrate::refitRows(gram, w, keep, rows, o.damp);
    for (size_t i = 0; i < w.size(); ++i)
        if (!keep[i]) w[i] = 0.f;
    return w;
}

/// Sequential mode (SparseGPT/GPTQ): layers are pruned in waves; each wave holds the remaining layers that
/// no other remaining layer feeds, and is calibrated on the model with every earlier wave already pruned,
/// so a layer compensates the errors of the layers before it too.
template <typename PruneLayer>
void runSequential(PassContext& ctx, std::vector<LayerWeight>& layers, PruneLayer&& pruneLayer) {
    keepCollectable(ctx, layers, "prune-sparsegpt");
    const ir::Graph& g = *ctx.model.graph;
    // downstream[i]: every node reachable from layer i's outputs.
    std::vector<std::vector<uint8_t>> downstream(layers.size(), std::vector<uint8_t>(g.idBound(), 0));
    for (size_t i = 0; i < layers.size(); ++i) {
        std::vector<ir::NodeId> stack{layers[i].node->id};
        while (!stack.empty()) {
            const ir::Node* n = g.node(stack.back());
            stack.pop_back();
            for (const auto& out : n->outputs) {
                const ir::Value* v = out.empty() ? nullptr : g.findValue(out);
                if (!v) continue;
                for (ir::NodeId c : v->consumers)
                    if (!downstream[i][c]) {
                        downstream[i][c] = 1;
                        stack.push_back(c);
                    }
            }
        }
    }
    std::vector<size_t> remaining(layers.size());
    std::iota(remaining.begin(), remaining.end(), 0);
    int waves = 0;
    while (!remaining.empty()) {
        std::vector<const LayerWeight*> wave;
        std::vector<size_t> later;
        for (size_t i : remaining) {
            bool fed = false;
            for (size_t j : remaining)
                if (j != i && downstream[j][layers[i].node->id]) fed = true;
            if (fed)
                later.push_back(i);
            else
                wave.push_back(&layers[i]);
        }
        auto inputs = collectInputsOf(ctx, wave, /*gram=*/true);
        for (const LayerWeight* l : wave)
            pruneLayer(*l, inputs.at(l->node->name));
        remaining = std::move(later);
        ++waves;
    }
    ctx.report.notes.push_back("sequential: " + std::to_string(layers.size()) + " layers in " +
                               std::to_string(waves) + " waves, each calibrated after the waves before it (" +
                               std::to_string(ctx.calibration->feeds.size()) + " sets)");
}

class SparseGptPruning final : public Pass {
public:
    void run(PassContext& ctx) override {
        SparseGptOptions o;
        o.sparsity = ctx.params.getFloat("sparsity");
        o.n = ctx.params.getInt("n");
        o.m = ctx.params.getInt("m");
        o.blocksize = ctx.params.getInt("blocksize");
        o.damp = ctx.params.getFloat("damp");
        const bool obs = ctx.params.getString("update") == "obs";
        if (o.n > 0 && o.n >= o.m)
            throw Error("prune-sparsegpt: n (" + std::to_string(o.n) + ") must be smaller than m (" +
                        std::to_string(o.m) + ")");
        if (o.n > 0 && o.blocksize % o.m != 0) o.blocksize = std::max<int64_t>(o.m, o.blocksize / o.m * o.m);
        auto layers = prunableLayers(ctx, ctx.params.getList("skip"));
        if (o.n > 0) {
            std::vector<LayerWeight> fit;
            for (auto& l : layers) {
                if (l.k % o.m != 0)
                    ctx.skip(*l.node, "reduction length " + std::to_string(l.k) + " is not a multiple of m=" +
                                          std::to_string(o.m));
                else
                    fit.push_back(std::move(l));
            }
            layers = std::move(fit);
        }
        if (layers.empty()) {
            ctx.report.notes.push_back("pass does not apply: no MatMul/Gemm/Conv with a constant f32 weight");
            return;
        }
        auto pruneLayer = [&](const LayerWeight& l, const calibrate::LayerInputStats& s) {
            if (ctx.cancelled()) throw Error("prune-sparsegpt cancelled");
            if (s.k != l.k) {
                ctx.skip(*l.node, "calibration input has " + std::to_string(s.k) + " features, the weight " +
                                      std::to_string(l.k));
                return;
            }
            if (s.rows == 0) {
                ctx.skip(*l.node, "no calibration rows reached this layer");
                return;
            }
            const std::vector<float> w = gatherRows(*ctx.model.graph, l);
            scatterRows(ctx, l,
                        obs ? sparseGptObs(w, l.rows, l.k, s.gram, o, l.node->name)
                            : sparseGptRefit(w, l.rows, l.k, s.gram, o, l.node->name));
        };
        if (!ctx.params.getBool("sequential")) {
            auto inputs = collectPrunableInputs(ctx, layers, /*gram=*/true, "prune-sparsegpt");
            for (const auto& l : layers)
                pruneLayer(l, inputs.at(l.node->name));
        } else {
            runSequential(ctx, layers, pruneLayer);
        }
        noteDenseWeights(ctx);
    }
};

} // namespace

PassInfo sparseGptPruningPass() {
    PassInfo info;
    info.name = "prune-sparsegpt";
    info.description =
        "Error-compensated pruning (SparseGPT): zero weights by OBS saliency and update the kept ones from "
        "calibration inputs so each MatMul/Gemm/Conv keeps its outputs";
    info.category = PassCategory::Pruning;
    info.exact = false;
    info.params = {floatParam("sparsity", "Fraction of weights set to zero (unstructured, n = 0)", 0.0, 0.99, 0.5)};
    for (ParamSpec& p : nmMaskParams()) info.params.push_back(std::move(p));
    info.params.insert(info.params.end(), {
                   enumParam("update",
                             "refit: mask by OBS saliency, then least-squares refit of the kept weights (better "
                             "on the trained test LLM); obs: SparseGPT column-by-column prune and update",
                             {"refit", "obs"}, "refit"),
                   intParam("blocksize", "Columns per mask block (obs)", 1, 4096, 128),
                   floatParam("damp", "Damping λ of H + λ·mean(diag H)·I", 1e-6, 1.0, calibrate::kDefaultDampRatio),
                   boolParam("sequential",
                             "Calibrate each layer on the outputs of the already-pruned layers before it "
                             "(one calibration run per wave of independent layers)",
                             false),
                   skipParam()});
    info.create = [] { return std::make_unique<SparseGptPruning>(); };
    return info;
}

} // namespace opstudio::passes::prune
