// Normalization family: BatchNormalization, InstanceNormalization, LayerNormalization,
// LpNormalization, MeanVarianceNormalization, and the com.microsoft transformer norms
// (LayerNormalization, SimplifiedLayerNormalization = RMSNorm, SkipLayerNormalization,
// SkipSimplifiedLayerNormalization).
//
// Every op reduces to "normalize a contiguous run of elements": a row of the last axes (layer
// norms), an (n, c) plane (instance norm, batch norm). The fast path maps rows to Eigen arrays
// and spreads rows over OpenMP threads; the reference path is the same maths in plain loops.
#include "runtime/kernels/kernel_util.h"

#include <Eigen/Core>

#include <cmath>
#include <set>

namespace opstudio::rt {
namespace {

template <typename T> using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T> using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

const Tensor& requireInput(KernelContext& ctx, size_t i, const char* what) {
    if (!ctx.hasInput(i)) kernelFail(ctx.node(), ctx.node().opType + ": missing input '" + what + "'");
    return ctx.input(i);
}

void requireDType(KernelContext& ctx, const Tensor& t, DType dt, const char* what) {
    if (t.dtype() != dt)
        kernelFail(ctx.node(), ctx.node().opType + ": input '" + what + "' has dtype " +
                                   std::string(ir::dtypeName(t.dtype())) + ", expected " +
                                   std::string(ir::dtypeName(dt)));
}

/// Mean and population variance of n values (two passes: numerically safer than E[x^2]-E[x]^2).
template <typename T> void meanVarReference(const T* x, int64_t n, T& mean, T& var) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += x[i];
    const double m = n > 0 ? s / static_cast<double>(n) : 0.0;
    double v = 0;
    for (int64_t i = 0; i < n; ++i) v += (x[i] - m) * (x[i] - m);
    mean = static_cast<T>(m);
    var = static_cast<T>(n > 0 ? v / static_cast<double>(n) : 0.0);
}

template <typename T> void meanVarFast(const T* x, int64_t n, T& mean, T& var) {
    if (n == 0) {
        mean = var = T(0);
        return;
    }
    ConstArrayMap<T> a(x, n);
    mean = a.mean();
    var = (a - mean).square().mean();
}

/// Broadcasts a parameter tensor (scale/bias) unidirectionally to `target` (the normalized
/// trailing dims) and returns it flattened; empty when the input is absent.
template <typename T>
std::vector<T> expandParam(KernelContext& ctx, size_t i, const Shape& target, const char* what) {
    if (!ctx.hasInput(i)) return {};
    const Tensor& p = ctx.input(i);
    requireDType(ctx, p, ir::dtypeOf<T>(), what);
    const int64_t n = ir::shapeNumel(target);
    std::vector<T> out(static_cast<size_t>(n));
    if (p.numel() == n) {
        std::copy(p.data<T>(), p.data<T>() + n, out.begin());
        return out;
    }
    if (p.rank() > static_cast<int>(target.size()))
        kernelFail(ctx.node(), ctx.node().opType + ": " + what + " shape " + ir::shapeToString(p.shape()) +
                                   " does not broadcast to " + ir::shapeToString(target));
    for (int d = 0; d < p.rank(); ++d) {
        const int64_t pd = p.shape()[d], td = target[target.size() - p.rank() + d];
        if (pd != 1 && pd != td)
            kernelFail(ctx.node(), ctx.node().opType + ": " + what + " shape " + ir::shapeToString(p.shape()) +
                                       " does not broadcast to " + ir::shapeToString(target));
    }
    const Shape st = broadcastStrides(p.shape(), target);
    const T* src = p.data<T>();
    forEachBroadcast(target, st, st, [&](int64_t o, int64_t a, int64_t) { out[o] = src[a]; });
    return out;
}

// ---------------------------------------------------------------------------------------------
// Row normalization shared by LayerNormalization, SimplifiedLayerNormalization and the Skip* ops.

struct RowNormSpec {
    bool rms = false;      // RMSNorm: no mean subtraction, y = x / sqrt(mean(x^2) + eps) * scale
    float epsilon = 1e-5f;
};

/// Normalizes `rows` rows of `d` contiguous elements.
/// y = (x - mean) / sqrt(var + eps) * scale + bias   (LayerNorm)
/// y = x / sqrt(mean(x^2) + eps) * scale + bias       (RMSNorm)
/// Writes mean (LayerNorm only) and 1/sqrt(var+eps) per row when the pointers are non-null.
template <typename T>
void normalizeRows(const RowNormSpec& spec, const T* x, T* y, int64_t rows, int64_t d, const T* scale, const T* bias,
                   T* meanOut, T* invStdOut, bool reference) {
    const T eps = static_cast<T>(spec.epsilon);
    if (reference) {
        for (int64_t r = 0; r < rows; ++r) {
            const T* xr = x + r * d;
            T* yr = y + r * d;
            T mean = 0, var = 0;
            if (spec.rms) {
                double s = 0;
                for (int64_t i = 0; i < d; ++i) s += static_cast<double>(xr[i]) * xr[i];
                var = static_cast<T>(d > 0 ? s / static_cast<double>(d) : 0.0);
            } else {
                meanVarReference(xr, d, mean, var);
            }
            const T inv = T(1) / std::sqrt(var + eps);
            for (int64_t i = 0; i < d; ++i) {
                T v = (xr[i] - mean) * inv;
                if (scale) v *= scale[i];
                if (bias) v += bias[i];
                yr[i] = v;
            }
            if (meanOut) meanOut[r] = mean;
            if (invStdOut) invStdOut[r] = inv;
        }
        return;
    }
    parallelFor(
        rows,
        [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                ConstArrayMap<T> xr(x + r * d, d);
                ArrayMap<T> yr(y + r * d, d);
                T mean = 0, var = 0;
                if (spec.rms) {
                    var = d > 0 ? xr.square().mean() : T(0);
                } else {
                    meanVarFast(x + r * d, d, mean, var);
                }
                const T inv = T(1) / std::sqrt(var + eps);
                if (scale && bias)
                    yr = (xr - mean) * inv * ConstArrayMap<T>(scale, d) + ConstArrayMap<T>(bias, d);
                else if (scale)
                    yr = (xr - mean) * inv * ConstArrayMap<T>(scale, d);
                else if (bias)
                    yr = (xr - mean) * inv + ConstArrayMap<T>(bias, d);
                else
                    yr = (xr - mean) * inv;
                if (meanOut) meanOut[r] = mean;
                if (invStdOut) invStdOut[r] = inv;
            }
        },
        std::max<int64_t>(d, 1) * 4);
}

/// Shape of the per-row statistics: X.shape[:axis] + [1] * (rank - axis).
Shape statShape(const Shape& x, int64_t axis) {
    Shape s(x.begin(), x.begin() + axis);
    for (size_t i = static_cast<size_t>(axis); i < x.size(); ++i) s.push_back(1);
    return s;
}

/// ONNX LayerNormalization (17) and the com.microsoft LayerNormalization / SimplifiedLayerNormalization
/// (inputs X, Scale, [B]; outputs Y, [Mean], [InvStdDev]; RMS variant outputs Y, [InvStdDev]).
void layerNorm(KernelContext& ctx, bool rms, bool reference) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "X");
    const int64_t rank = x.rank();
    if (rank == 0) kernelFail(node, node.opType + ": input must have rank >= 1");
    const int64_t axis = normalizeAxis(node.attrInt("axis", -1), rank);
    RowNormSpec spec{rms, node.attrFloat("epsilon", 1e-5f)};
    const Shape normShape(x.shape().begin() + axis, x.shape().end());
    const int64_t d = ir::shapeNumel(normShape);
    const int64_t rows = d == 0 ? 0 : x.numel() / d;
    const Shape stats = statShape(x.shape(), axis);
    const size_t meanIdx = rms ? SIZE_MAX : 1, invIdx = rms ? 1 : 2;
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const std::vector<T> scale = expandParam<T>(ctx, 1, normShape, "Scale");
        if (scale.empty()) kernelFail(node, node.opType + ": missing input 'Scale'");
        const std::vector<T> bias = rms ? std::vector<T>{} : expandParam<T>(ctx, 2, normShape, "B");
        Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
        T* meanOut = nullptr;
        T* invOut = nullptr;
        if (meanIdx != SIZE_MAX && ctx.wantsOutput(meanIdx)) meanOut = ctx.allocate(meanIdx, x.dtype(), stats).template data<T>();
        if (ctx.wantsOutput(invIdx)) invOut = ctx.allocate(invIdx, x.dtype(), stats).template data<T>();
        normalizeRows<T>(spec, x.data<T>(), y.data<T>(), rows, d, scale.data(), bias.empty() ? nullptr : bias.data(),
                         meanOut, invOut, reference);
    });
}

/// com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization:
/// s = input + skip + bias;  y = norm(s) * gamma + beta. Inputs: input, skip, gamma, [beta], [bias]
/// (Skip RMS: input, skip, gamma, [bias]). Outputs: output, [mean], [inv_std_var], [input_skip_bias_sum].
void skipLayerNorm(KernelContext& ctx, bool rms, bool reference) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "input");
    const Tensor& skip = requireInput(ctx, 1, "skip");
    if (x.rank() < 1) kernelFail(node, node.opType + ": input must have rank >= 1");
    const int64_t d = x.dim(-1);
    const int64_t rows = d == 0 ? 0 : x.numel() / d;
    // skip is (B, S, H) like input, or broadcast over the batch ((1, S, H) or (S, H)).
    if (skip.dtype() != x.dtype()) kernelFail(node, node.opType + ": skip dtype differs from input");
    if (skip.numel() == 0 && x.numel() != 0) kernelFail(node, node.opType + ": empty skip");
    if (skip.rank() < 1 || skip.dim(-1) != d || (skip.numel() != 0 && x.numel() % skip.numel() != 0))
        kernelFail(node, node.opType + ": skip shape " + ir::shapeToString(skip.shape()) + " does not match input " +
                             ir::shapeToString(x.shape()));
    const size_t biasIdx = rms ? 3 : 4;
    RowNormSpec spec{rms, node.attrFloat("epsilon", 1e-12f)};
    const Shape hidden{d};
    const Shape stats = [&] {
        Shape s = x.shape();
        s.back() = 1;
        return s;
    }();
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const std::vector<T> gamma = expandParam<T>(ctx, 2, hidden, "gamma");
        if (gamma.empty()) kernelFail(node, node.opType + ": missing input 'gamma'");
        const std::vector<T> beta = rms ? std::vector<T>{} : expandParam<T>(ctx, 3, hidden, "beta");
        const std::vector<T> bias = expandParam<T>(ctx, biasIdx, hidden, "bias");
        // The sum is an output of its own (fusions feed it to the next residual), otherwise scratch.
        Tensor sumT = ctx.wantsOutput(3) ? ctx.allocate(3, x.dtype(), x.shape()) : Tensor(x.dtype(), x.shape());
        const T* xs = x.data<T>();
        const T* ss = skip.data<T>();
        T* sum = sumT.data<T>();
        const int64_t skipRows = d == 0 ? 0 : skip.numel() / d;
        parallelFor(rows, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                const T* sr = ss + (r % skipRows) * d;
                for (int64_t i = 0; i < d; ++i) sum[r * d + i] = xs[r * d + i] + sr[i] + (bias.empty() ? T(0) : bias[i]);
            }
        }, std::max<int64_t>(d, 1));
        Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
        T* meanOut = nullptr;
        T* invOut = nullptr;
        if (!rms && ctx.wantsOutput(1)) meanOut = ctx.allocate(1, x.dtype(), stats).template data<T>();
        if (ctx.wantsOutput(2)) invOut = ctx.allocate(2, x.dtype(), stats).template data<T>();
        if (rms && ctx.wantsOutput(1)) // Skip RMS has no mean: output 1 is unused but keep it defined as zeros
            std::fill_n(ctx.allocate(1, x.dtype(), stats).template data<T>(), ir::shapeNumel(stats), T(0));
        normalizeRows<T>(spec, sum, y.data<T>(), rows, d, gamma.data(), beta.empty() ? nullptr : beta.data(), meanOut,
                         invOut, reference);
    });
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization

/// Opsets 6..15. Inference: y = x * a + b per channel with a = scale / sqrt(var + eps),
/// b = B - mean * a. Training (training_mode=1 from 14; extra outputs before 14): statistics of
/// the batch replace mean/var and running_x = input_x * momentum + batch_x * (1 - momentum).
/// spatial=0 (opset < 9) gives every (c, d1, ..., dn) position its own parameters.
void batchNorm(KernelContext& ctx, int64_t opset, bool reference) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "X");
    if (x.rank() < 2) kernelFail(node, "BatchNormalization: input must have rank >= 2 (N, C, ...)");
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t plane = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
    const float eps = node.attrFloat("epsilon", 1e-5f);
    const float momentum = node.attrFloat("momentum", 0.9f);
    const bool spatial = opset >= 9 || node.attrInt("spatial", 1) != 0;
    bool training = opset >= 14 ? node.attrInt("training_mode", 0) != 0 : false;
    if (opset < 14)
        for (size_t i = 1; i < node.outputs.size(); ++i) training = training || ctx.wantsOutput(i);
    if (training && !spatial) kernelFail(node, "BatchNormalization: training with spatial=0 is not supported");
    const int64_t perChannel = spatial ? 1 : plane;
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
        const T* p[5] = {};
        for (size_t i = 1; i < 5; ++i) {
            const Tensor& t = requireInput(ctx, i, names[i]);
            requireDType(ctx, t, x.dtype(), names[i]);
            if (t.numel() != c * perChannel)
                kernelFail(node, std::string("BatchNormalization: ") + names[i] + " has " + std::to_string(t.numel()) +
                                     " elements, expected " + std::to_string(c * perChannel));
            p[i] = t.data<T>();
        }
        const int64_t np = c * perChannel;
        std::vector<T> mean(p[3], p[3] + np), var(p[4], p[4] + np);
        const T* xs = x.data<T>();
        if (training) {
            // Population statistics over (N, spatial) per channel.
            const double count = static_cast<double>(n * plane);
            for (int64_t ch = 0; ch < c; ++ch) {
                double s = 0, s2 = 0;
                for (int64_t b = 0; b < n; ++b) {
                    const T* xp = xs + (b * c + ch) * plane;
                    for (int64_t i = 0; i < plane; ++i) s += xp[i];
                }
                const double m = count > 0 ? s / count : 0.0;
                for (int64_t b = 0; b < n; ++b) {
                    const T* xp = xs + (b * c + ch) * plane;
                    for (int64_t i = 0; i < plane; ++i) s2 += (xp[i] - m) * (xp[i] - m);
                }
                mean[ch] = static_cast<T>(m);
                var[ch] = static_cast<T>(count > 0 ? s2 / count : 0.0);
            }
            if (ctx.wantsOutput(1)) {
                T* o = ctx.allocate(1, x.dtype(), {c}).template data<T>();
                for (int64_t ch = 0; ch < c; ++ch) o[ch] = static_cast<T>(p[3][ch] * momentum + mean[ch] * (1 - momentum));
            }
            if (ctx.wantsOutput(2)) {
                T* o = ctx.allocate(2, x.dtype(), {c}).template data<T>();
                for (int64_t ch = 0; ch < c; ++ch) o[ch] = static_cast<T>(p[4][ch] * momentum + var[ch] * (1 - momentum));
            }
            // Opset < 14 also offers saved_mean / saved_var: the batch statistics.
            if (ctx.wantsOutput(3)) std::copy(mean.begin(), mean.end(), ctx.allocate(3, x.dtype(), {c}).template data<T>());
            if (ctx.wantsOutput(4)) std::copy(var.begin(), var.end(), ctx.allocate(4, x.dtype(), {c}).template data<T>());
        }
        // Fold to y = x * a + b.
        std::vector<T> a(np), b(np);
        for (int64_t i = 0; i < np; ++i) {
            a[i] = p[1][i] / std::sqrt(var[i] + static_cast<T>(eps));
            b[i] = p[2][i] - mean[i] * a[i];
        }
        Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
        T* ys = y.data<T>();
        auto planeOp = [&](int64_t idx) {
            const int64_t ch = idx % c;
            const T* xp = xs + idx * plane;
            T* yp = ys + idx * plane;
            if (spatial) {
                const T ac = a[ch], bc = b[ch];
                if (reference) {
                    for (int64_t i = 0; i < plane; ++i) yp[i] = xp[i] * ac + bc;
                } else {
                    ArrayMap<T>(yp, plane) = ConstArrayMap<T>(xp, plane) * ac + bc;
                }
            } else {
                const T* ac = a.data() + ch * plane;
                const T* bc = b.data() + ch * plane;
                for (int64_t i = 0; i < plane; ++i) yp[i] = xp[i] * ac[i] + bc[i];
            }
        };
        if (reference) {
            for (int64_t idx = 0; idx < n * c; ++idx) planeOp(idx);
        } else {
            parallelFor(n * c, [&](int64_t begin, int64_t end) {
                for (int64_t idx = begin; idx < end; ++idx) planeOp(idx);
            }, std::max<int64_t>(plane, 1));
        }
    });
}

// ---------------------------------------------------------------------------------------------
// InstanceNormalization: y = scale[c] * (x - mean_nc) / sqrt(var_nc + eps) + B[c] per (n, c) plane.

void instanceNorm(KernelContext& ctx, bool reference) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "input");
    if (x.rank() < 3) kernelFail(node, "InstanceNormalization: input must have rank >= 3 (N, C, D1, ...)");
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t plane = n * c == 0 ? 0 : x.numel() / (n * c);
    const float eps = node.attrFloat("epsilon", 1e-5f);
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const Tensor& scale = requireInput(ctx, 1, "scale");
        const Tensor& bias = requireInput(ctx, 2, "B");
        requireDType(ctx, scale, x.dtype(), "scale");
        requireDType(ctx, bias, x.dtype(), "B");
        if (scale.numel() != c || bias.numel() != c)
            kernelFail(node, "InstanceNormalization: scale and B must have C = " + std::to_string(c) + " elements");
        const T* sc = scale.data<T>();
        const T* bi = bias.data<T>();
        const T* xs = x.data<T>();
        Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
        T* ys = y.data<T>();
        RowNormSpec spec{false, eps};
        // Each plane is one row of normalizeRows with a scalar scale/bias: run it plane by plane.
        auto planeOp = [&](int64_t idx, bool ref) {
            const int64_t ch = idx % c;
            T mean, var;
            if (ref)
                meanVarReference(xs + idx * plane, plane, mean, var);
            else
                meanVarFast(xs + idx * plane, plane, mean, var);
            const T a = sc[ch] / std::sqrt(var + static_cast<T>(spec.epsilon));
            const T b = bi[ch] - mean * a;
            if (ref) {
                for (int64_t i = 0; i < plane; ++i) ys[idx * plane + i] = xs[idx * plane + i] * a + b;
            } else {
                ArrayMap<T>(ys + idx * plane, plane) = ConstArrayMap<T>(xs + idx * plane, plane) * a + b;
            }
        };
        if (reference) {
            for (int64_t idx = 0; idx < n * c; ++idx) planeOp(idx, true);
        } else {
            parallelFor(n * c, [&](int64_t begin, int64_t end) {
                for (int64_t idx = begin; idx < end; ++idx) planeOp(idx, false);
            }, std::max<int64_t>(plane, 1) * 3);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// LpNormalization: y = x / ||x||_p along `axis` (p = 1 or 2); a zero norm gives zeros (as ORT).

void lpNorm(KernelContext& ctx, bool reference) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "input");
    const int64_t p = node.attrInt("p", 2);
    if (p != 1 && p != 2) kernelFail(node, "LpNormalization: p must be 1 or 2, got " + std::to_string(p));
    if (x.rank() == 0) kernelFail(node, "LpNormalization: input must have rank >= 1");
    const int64_t axis = normalizeAxis(node.attrInt("axis", -1), x.rank());
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(static_cast<int>(i));
    for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(static_cast<int>(i));
    const int64_t len = x.dim(static_cast<int>(axis));
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* xs = x.data<T>();
        T* ys = ctx.allocate(0, x.dtype(), x.shape()).template data<T>();
        auto fiber = [&](int64_t f) {
            const int64_t o = f / inner, i = f % inner;
            const T* xf = xs + o * len * inner + i;
            T* yf = ys + o * len * inner + i;
            T norm = 0;
            for (int64_t k = 0; k < len; ++k) norm += p == 1 ? std::abs(xf[k * inner]) : xf[k * inner] * xf[k * inner];
            if (p == 2) norm = std::sqrt(norm);
            for (int64_t k = 0; k < len; ++k) yf[k * inner] = norm != T(0) ? xf[k * inner] / norm : T(0);
        };
        if (reference) {
            for (int64_t f = 0; f < outer * inner; ++f) fiber(f);
        } else {
            parallelFor(outer * inner, [&](int64_t begin, int64_t end) {
                for (int64_t f = begin; f < end; ++f) fiber(f);
            }, std::max<int64_t>(len, 1) * 2);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// MeanVarianceNormalization (9, 13): y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes`
// (the ONNX function body adds epsilon to the standard deviation, not to the variance).

void meanVarianceNorm(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "X");
    const int64_t rank = x.rank();
    std::set<int64_t> axes;
    for (int64_t a : node.attrInts("axes", {0, 2, 3})) axes.insert(normalizeAxis(a, rank));
    // Key of an element = its index over the kept (non-reduced) dims.
    Shape keptStride(rank, 0);
    int64_t groups = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
        if (axes.count(d)) continue;
        keptStride[d] = groups;
        groups *= x.dim(static_cast<int>(d));
    }
    const int64_t count = groups == 0 ? 0 : x.numel() / groups;
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* xs = x.data<T>();
        T* ys = ctx.allocate(0, x.dtype(), x.shape()).template data<T>();
        std::vector<double> sum(groups, 0.0), sumSq(groups, 0.0);
        forEachBroadcast(x.shape(), keptStride, keptStride, [&](int64_t i, int64_t g, int64_t) {
            sum[g] += xs[i];
            sumSq[g] += static_cast<double>(xs[i]) * xs[i];
        });
        std::vector<double> mean(groups), denom(groups);
        for (int64_t g = 0; g < groups; ++g) {
            mean[g] = sum[g] / static_cast<double>(count);
            const double var = std::max(0.0, sumSq[g] / static_cast<double>(count) - mean[g] * mean[g]);
            denom[g] = std::sqrt(var) + 1e-9;
        }
        forEachBroadcast(x.shape(), keptStride, keptStride, [&](int64_t i, int64_t g, int64_t) {
            ys[i] = static_cast<T>((xs[i] - mean[g]) / denom[g]);
        });
    });
}

template <typename F> KernelFactory both(F f, bool reference) {
    return fn([f, reference](KernelContext& ctx) { f(ctx, reference); }, reference ? "reference" : "eigen");
}

} // namespace

void registerNormKernels(KernelRegistry& r) {
    // BatchNormalization: one factory per opset so the kernel knows which semantics apply.
    auto bnFactory = [](bool reference) -> KernelFactory {
        return [reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
            const int64_t opset = init.opset;
            return std::make_unique<FunctionKernel>(
                [opset, reference](KernelContext& ctx) { batchNorm(ctx, opset, reference); },
                reference ? "reference" : "eigen");
        };
    };
    r.add({"BatchNormalization", 6, kLatestOpset, ""}, bnFactory(false), bnFactory(true));
    r.add({"InstanceNormalization", 1, kLatestOpset, ""}, both(instanceNorm, false), both(instanceNorm, true));

    auto ln = [](KernelContext& ctx, bool ref) { layerNorm(ctx, false, ref); };
    auto rmsn = [](KernelContext& ctx, bool ref) { layerNorm(ctx, true, ref); };
    auto skipLn = [](KernelContext& ctx, bool ref) { skipLayerNorm(ctx, false, ref); };
    auto skipRms = [](KernelContext& ctx, bool ref) { skipLayerNorm(ctx, true, ref); };
    // Opset 17 is the standard op; ORT's contrib schema of the same op lives in the ONNX domain
    // at version 1, so models fused by ORT import it below 17: accept every opset.
    r.add({"LayerNormalization", 1, kLatestOpset, ""}, both(ln, false), both(ln, true));
    r.add({"LayerNormalization", 1, kLatestOpset, "com.microsoft"}, both(ln, false), both(ln, true));
    r.add({"SimplifiedLayerNormalization", 1, kLatestOpset, ""}, both(rmsn, false), both(rmsn, true));
    r.add({"SimplifiedLayerNormalization", 1, kLatestOpset, "com.microsoft"}, both(rmsn, false), both(rmsn, true));
    r.add({"SkipLayerNormalization", 1, kLatestOpset, "com.microsoft"}, both(skipLn, false), both(skipLn, true));
    r.add({"SkipSimplifiedLayerNormalization", 1, kLatestOpset, "com.microsoft"}, both(skipRms, false),
          both(skipRms, true));

    r.add({"LpNormalization", 1, kLatestOpset, ""}, both(lpNorm, false), both(lpNorm, true));
    r.add({"MeanVarianceNormalization", 9, kLatestOpset, ""}, fn(meanVarianceNorm, "reference"));
}

} // namespace opstudio::rt
