// Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+).
//
// Both see the scores as [N, C, D] (D = product of the trailing dims, 1 when there are none) and the
// target as [N, D]. For every (n, d) with class t = target[n, d]:
//   w[n, d]    = weight[t] (1 without weights), 0 when t == ignore_index
//   loss[n, d] = -w[n, d] * logp[n, t, d]
// where logp is the input itself (NLL) or its log-softmax over C (SCE). Reductions:
//   none -> loss shaped like the target,  sum -> sum(loss),  mean -> sum(loss) / sum(w).
// The mean divides by the weight sum, not the element count (the ONNX reference does the same, so
// a batch that is all ignore_index gives 0/0 = NaN).
#include "runtime/kernels/kernel_util.h"

#include <cmath>
#include <limits>

namespace opstudio::rt {
namespace {

using ir::shapeToString;

enum class LossReduction { None, Sum, Mean };

LossReduction parseReduction(const ir::Node& node) {
    const std::string r = node.attrString("reduction", "mean");
    if (r == "none") return LossReduction::None;
    if (r == "sum") return LossReduction::Sum;
    if (r == "mean") return LossReduction::Mean;
    kernelFail(node, "unknown reduction '" + r + "'");
}

/// Checks shapes: scores [N, C, d1..dk], target [N, d1..dk], weight [C]. Returns {N, C, D}.
struct LossDims {
    int64_t n = 0, c = 0, d = 1;
};

LossDims checkLossShapes(const KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& t = ctx.input(1);
    if (x.rank() < 2) kernelFail(node, "scores must have rank >= 2, got " + shapeToString(x.shape()));
    if (t.rank() != x.rank() - 1) kernelFail(node, "target rank must be scores rank - 1");
    if (t.dtype() != DType::I32 && t.dtype() != DType::I64) kernelFail(node, "target must be int32 or int64");
    LossDims dims;
    dims.n = x.dim(0);
    dims.c = x.dim(1);
    if (t.dim(0) != dims.n) kernelFail(node, "target batch does not match scores");
    for (int i = 2; i < x.rank(); ++i) {
        if (t.dim(i - 1) != x.dim(i))
            kernelFail(node, "target shape " + shapeToString(t.shape()) + " does not match scores " +
                                 shapeToString(x.shape()));
        dims.d *= x.dim(i);
    }
    if (ctx.hasInput(2)) {
        const Tensor& w = ctx.input(2);
        if (w.rank() != 1 || w.dim(0) != dims.c) kernelFail(node, "weight must have shape [C]");
        if (w.dtype() != x.dtype()) kernelFail(node, "weight dtype must match scores");
    }
    return dims;
}

/// Shared tail of both losses: gathers -w * logp[n, t, d] and reduces. `logp` is [N, C, D].
template <typename T> void gatherLoss(KernelContext& ctx, const T* logp, const LossDims& dims) {
    const ir::Node& node = ctx.node();
    const Tensor& target = ctx.input(1);
    const std::vector<int64_t> labels = target.toInt64s();
    const T* weight = ctx.hasInput(2) ? ctx.input(2).data<T>() : nullptr;
    const bool hasIgnore = node.hasAttr("ignore_index");
    const int64_t ignoreIndex = node.attrInt("ignore_index", 0);
    const LossReduction reduction = parseReduction(node);

    const int64_t count = dims.n * dims.d;
    std::vector<double> loss(static_cast<size_t>(count));
    double weightSum = 0.0;
    for (int64_t n = 0; n < dims.n; ++n) {
        for (int64_t d = 0; d < dims.d; ++d) {
            const int64_t i = n * dims.d + d;
            const int64_t label = labels[static_cast<size_t>(i)];
            if (hasIgnore && label == ignoreIndex) {
                loss[static_cast<size_t>(i)] = 0.0;
                continue;
            }
            if (label < 0 || label >= dims.c)
                kernelFail(node, "target " + std::to_string(label) + " out of range [0, " +
                                     std::to_string(dims.c) + ")");
            const double w = weight ? static_cast<double>(weight[label]) : 1.0;
            weightSum += w;
            loss[static_cast<size_t>(i)] = -w * static_cast<double>(logp[(n * dims.c + label) * dims.d + d]);
        }
    }

    const DType dt = ctx.input(0).dtype();
    if (reduction == LossReduction::None) {
        T* out = ctx.allocate(0, dt, target.shape()).template data<T>();
        for (int64_t i = 0; i < count; ++i)
            out[i] = static_cast<T>(loss[static_cast<size_t>(i)]);
        return;
    }
    double sum = 0.0;
    for (double v : loss)
        sum += v;
    if (reduction == LossReduction::Mean) sum /= weightSum; // 0/0 -> NaN when everything is ignored
    ctx.allocate(0, dt, {}).template data<T>()[0] = static_cast<T>(sum);
}

void runNllLoss(KernelContext& ctx) {
    const LossDims dims = checkLossShapes(ctx);
    dispatchFloat(ctx.input(0).dtype(), [&](auto tag) {
        using T = decltype(tag);
        gatherLoss<T>(ctx, ctx.input(0).data<T>(), dims);
    });
}

void runSoftmaxCrossEntropy(KernelContext& ctx) {
    const LossDims dims = checkLossShapes(ctx);
    const Tensor& x = ctx.input(0);
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        // logp[n, c, d] = x[n, c, d] - m - log(sum_c exp(x[n, c, d] - m)),  m = max_c x[n, c, d]
        const bool wantLogProb = ctx.wantsOutput(1);
        Tensor logProb = wantLogProb ? ctx.allocate(1, x.dtype(), x.shape()) : Tensor(x.dtype(), x.shape());
        const T* in = x.data<T>();
        T* lp = logProb.data<T>();
        for (int64_t n = 0; n < dims.n; ++n) {
            for (int64_t d = 0; d < dims.d; ++d) {
                const T* col = in + n * dims.c * dims.d + d;
                T* outCol = lp + n * dims.c * dims.d + d;
                double m = -std::numeric_limits<double>::infinity();
                for (int64_t c = 0; c < dims.c; ++c)
                    m = std::max(m, static_cast<double>(col[c * dims.d]));
                double s = 0.0;
                for (int64_t c = 0; c < dims.c; ++c)
                    s += std::exp(static_cast<double>(col[c * dims.d]) - m);
                const double logZ = m + std::log(s);
                for (int64_t c = 0; c < dims.c; ++c)
                    outCol[c * dims.d] = static_cast<T>(static_cast<double>(col[c * dims.d]) - logZ);
            }
        }
        gatherLoss<T>(ctx, lp, dims);
    });
}

} // namespace

void registerLossKernels(KernelRegistry& r) {
    r.add({"NegativeLogLikelihoodLoss", 12, kLatestOpset, ""}, fn(runNllLoss));
    r.add({"SoftmaxCrossEntropyLoss", 12, kLatestOpset, ""}, fn(runSoftmaxCrossEntropy));
}

} // namespace opstudio::rt
