// Softmax family (Softmax, LogSoftmax, Hardmax) and the com.microsoft GELU activations
// (Gelu, FastGelu, BiasGelu) that transformer fusions emit.
//
// Softmax semantics changed at opset 13: before, the input is coerced to 2-D
// [prod(shape[:axis]), prod(shape[axis:])] (default axis 1) and each row is normalized;
// from 13 only the one axis is normalized (default -1). Both are "normalize `len` elements at
// stride `inner`, for outer x inner fibers": before 13 inner is always 1.
#include "runtime/kernels/kernel_util.h"

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include <cmath>
#include <limits>

namespace opstudio::rt {
namespace {

template <typename T> using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T> using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

enum class SoftmaxKind { Softmax, LogSoftmax, Hardmax };

struct FiberLayout {
    int64_t outer = 1, len = 1, inner = 1;
};

FiberLayout fiberLayout(const ir::Node& node, const Shape& shape, int64_t opset) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    FiberLayout l;
    if (rank == 0) return l; // a scalar is one fiber of one element
    const int64_t axis = normalizeAxis(node.attrInt("axis", opset >= 13 ? -1 : 1), rank);
    for (int64_t i = 0; i < axis; ++i) l.outer *= shape[i];
    if (opset >= 13) {
        l.len = shape[axis];
        for (int64_t i = axis + 1; i < rank; ++i) l.inner *= shape[i];
    } else {
        l.len = 1;
        for (int64_t i = axis; i < rank; ++i) l.len *= shape[i];
    }
    return l;
}

/// Reference: one fiber at a time, plain loops.
///   softmax(x)_i    = exp(x_i - m) / sum_j exp(x_j - m),  m = max_j x_j (keeps exp from overflowing)
///   logsoftmax(x)_i = x_i - m - log(sum_j exp(x_j - m))
///   hardmax(x)_i    = 1 for the first i with x_i = m, else 0
template <typename T> void softmaxReference(SoftmaxKind kind, const T* x, T* y, const FiberLayout& l) {
    for (int64_t o = 0; o < l.outer; ++o) {
        for (int64_t in = 0; in < l.inner; ++in) {
            const T* xf = x + o * l.len * l.inner + in;
            T* yf = y + o * l.len * l.inner + in;
            if (l.len == 0) continue;
            T m = xf[0];
            int64_t arg = 0;
            for (int64_t k = 1; k < l.len; ++k)
                if (xf[k * l.inner] > m) {
                    m = xf[k * l.inner];
                    arg = k;
                }
            if (kind == SoftmaxKind::Hardmax) {
                for (int64_t k = 0; k < l.len; ++k) yf[k * l.inner] = k == arg ? T(1) : T(0);
                continue;
            }
            T sum = 0;
            for (int64_t k = 0; k < l.len; ++k) sum += std::exp(xf[k * l.inner] - m);
            if (kind == SoftmaxKind::Softmax) {
                for (int64_t k = 0; k < l.len; ++k) yf[k * l.inner] = std::exp(xf[k * l.inner] - m) / sum;
            } else {
                const T logSum = std::log(sum);
                for (int64_t k = 0; k < l.len; ++k) yf[k * l.inner] = xf[k * l.inner] - m - logSum;
            }
        }
    }
}

/// Fast path. Contiguous rows (inner == 1, the transformer case) use Eigen's vectorized exp;
/// strided fibers process a whole [len x inner] block at once so the inner loop is contiguous.
template <typename T> void softmaxFast(SoftmaxKind kind, const T* x, T* y, const FiberLayout& l) {
    const int64_t len = l.len, inner = l.inner;
    if (len == 0) return;
    if (inner == 1) {
        parallelFor(
            l.outer,
            [&](int64_t begin, int64_t end) {
                for (int64_t o = begin; o < end; ++o) {
                    ConstArrayMap<T> xr(x + o * len, len);
                    ArrayMap<T> yr(y + o * len, len);
                    if (kind == SoftmaxKind::Hardmax) {
                        Eigen::Index arg = 0;
                        xr.maxCoeff(&arg); // first index of the maximum
                        yr.setZero();
                        yr[arg] = T(1);
                        continue;
                    }
                    const T m = xr.maxCoeff();
                    if (kind == SoftmaxKind::Softmax) {
                        yr = (xr - m).exp();
                        yr *= T(1) / yr.sum();
                    } else {
                        // (x - m) - log(sum): subtracting m first keeps precision for large logits.
                        const T logSum = std::log((xr - m).exp().sum());
                        yr = (xr - m) - logSum;
                    }
                }
            },
            len * 8);
        return;
    }
    parallelFor(
        l.outer,
        [&](int64_t begin, int64_t end) {
            Eigen::Array<T, Eigen::Dynamic, 1> m(inner), s(inner);
            Eigen::Array<int64_t, Eigen::Dynamic, 1> arg(inner);
            for (int64_t o = begin; o < end; ++o) {
                const T* xb = x + o * len * inner;
                T* yb = y + o * len * inner;
                m = ConstArrayMap<T>(xb, inner);
                arg.setZero();
                for (int64_t k = 1; k < len; ++k) {
                    const T* xk = xb + k * inner;
                    for (int64_t i = 0; i < inner; ++i)
                        if (xk[i] > m[i]) {
                            m[i] = xk[i];
                            arg[i] = k;
                        }
                }
                if (kind == SoftmaxKind::Hardmax) {
                    std::fill_n(yb, len * inner, T(0));
                    for (int64_t i = 0; i < inner; ++i) yb[arg[i] * inner + i] = T(1);
                    continue;
                }
                s.setZero();
                for (int64_t k = 0; k < len; ++k) {
                    ArrayMap<T> yk(yb + k * inner, inner);
                    yk = (ConstArrayMap<T>(xb + k * inner, inner) - m).exp();
                    s += yk;
                }
                if (kind == SoftmaxKind::Softmax) {
                    s = s.inverse();
                    for (int64_t k = 0; k < len; ++k) ArrayMap<T>(yb + k * inner, inner) *= s;
                } else {
                    s = s.log();
                    for (int64_t k = 0; k < len; ++k)
                        ArrayMap<T>(yb + k * inner, inner) = (ConstArrayMap<T>(xb + k * inner, inner) - m) - s;
                }
            }
        },
        len * inner * 8);
}

KernelFactory softmaxFactory(SoftmaxKind kind, bool reference) {
    return [kind, reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const int64_t opset = init.opset;
        return std::make_unique<FunctionKernel>(
            [kind, reference, opset](KernelContext& ctx) {
                if (!ctx.hasInput(0)) kernelFail(ctx.node(), ctx.node().opType + ": missing input");
                const Tensor& x = ctx.input(0);
                const FiberLayout l = fiberLayout(ctx.node(), x.shape(), opset);
                dispatchFloat(x.dtype(), [&](auto tag) {
                    using T = decltype(tag);
                    Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
                    if (x.numel() == 0) return;
                    if (reference)
                        softmaxReference<T>(kind, x.data<T>(), y.data<T>(), l);
                    else
                        softmaxFast<T>(kind, x.data<T>(), y.data<T>(), l);
                });
            },
            reference ? "reference" : "eigen");
    };
}

// ---------------------------------------------------------------------------------------------
// GELU (com.microsoft)
//   Gelu:     y = 0.5 x (1 + erf(x / sqrt(2)))
//   FastGelu: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  on x + bias
//   BiasGelu: Gelu(A + B), B broadcast over the last dim
//   (QuickGelu lives in fused.cpp with an AVX-512 fast path.)

enum class GeluKind { Erf, Tanh };

template <typename T> T geluScalar(GeluKind kind, T v) {
    if (kind == GeluKind::Erf) return T(0.5) * v * (T(1) + std::erf(v * T(M_SQRT1_2)));
    const T c = static_cast<T>(0.7978845608028654); // sqrt(2 / pi)
    return T(0.5) * v * (T(1) + std::tanh(c * (v + T(0.044715) * v * v * v)));
}

template <typename T> void geluFastRow(GeluKind kind, const T* x, T* y, int64_t n) {
    ConstArrayMap<T> a(x, n);
    ArrayMap<T> b(y, n);
    if (kind == GeluKind::Erf) {
        b = T(0.5) * a * (T(1) + (a * T(M_SQRT1_2)).erf());
    } else {
        const T c = static_cast<T>(0.7978845608028654);
        b = T(0.5) * a * (T(1) + (c * (a + T(0.044715) * a.cube())).tanh());
    }
}

/// Gelu with an optional bias input at `biasInput` (its length = the last dim of X).
void gelu(KernelContext& ctx, GeluKind kind, int biasInput, bool reference) {
    const ir::Node& node = ctx.node();
    if (!ctx.hasInput(0)) kernelFail(node, node.opType + ": missing input");
    const Tensor& x = ctx.input(0);
    const bool hasBias = biasInput >= 0 && ctx.hasInput(static_cast<size_t>(biasInput));
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
        const int64_t n = x.numel();
        if (n == 0) return;
        const T* xs = x.data<T>();
        T* ys = y.data<T>();
        const T* bias = nullptr;
        int64_t d = n;
        if (hasBias) {
            const Tensor& b = ctx.input(static_cast<size_t>(biasInput));
            if (b.dtype() != x.dtype()) kernelFail(node, node.opType + ": bias dtype differs from input");
            if (x.rank() == 0 || b.numel() != x.dim(-1))
                kernelFail(node, node.opType + ": bias shape " + ir::shapeToString(b.shape()) +
                                     " must match the last dim of input " + ir::shapeToString(x.shape()));
            bias = b.data<T>();
            d = x.dim(-1);
        }
        if (d == 0) return;
        const int64_t rows = n / d;
        if (reference) {
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t i = 0; i < d; ++i) ys[r * d + i] = geluScalar<T>(kind, xs[r * d + i] + (bias ? bias[i] : T(0)));
            return;
        }
        // Chunks of rows (or of the flat array without bias) over threads.
        const int64_t chunk = bias ? d : std::min<int64_t>(n, 4096);
        const int64_t chunks = (n + chunk - 1) / chunk;
        parallelFor(
            chunks,
            [&](int64_t begin, int64_t end) {
                std::vector<T> tmp(bias ? static_cast<size_t>(d) : 0);
                for (int64_t c = begin; c < end; ++c) {
                    const int64_t off = c * chunk, len = std::min(chunk, n - off);
                    if (bias) {
                        ArrayMap<T>(tmp.data(), len) = ConstArrayMap<T>(xs + off, len) + ConstArrayMap<T>(bias, len);
                        geluFastRow<T>(kind, tmp.data(), ys + off, len);
                    } else {
                        geluFastRow<T>(kind, xs + off, ys + off, len);
                    }
                }
            },
            chunk * 20);
    });
}

KernelFactory geluFactory(GeluKind kind, int biasInput, bool reference) {
    return fn([kind, biasInput, reference](KernelContext& ctx) { gelu(ctx, kind, biasInput, reference); },
              reference ? "reference" : "eigen");
}

} // namespace

void registerSoftmaxKernels(KernelRegistry& r) {
    const std::pair<const char*, SoftmaxKind> ops[] = {
        {"Softmax", SoftmaxKind::Softmax}, {"LogSoftmax", SoftmaxKind::LogSoftmax}, {"Hardmax", SoftmaxKind::Hardmax}};
    for (const auto& [name, kind] : ops) {
        // The factory reads the opset: 1..12 coerce to 2-D, 13+ normalize one axis.
        r.add({name, 1, kLatestOpset, ""}, softmaxFactory(kind, false), softmaxFactory(kind, true));
    }
    r.add({"Gelu", 1, kLatestOpset, "com.microsoft"}, geluFactory(GeluKind::Erf, -1, false),
          geluFactory(GeluKind::Erf, -1, true));
    r.add({"FastGelu", 1, kLatestOpset, "com.microsoft"}, geluFactory(GeluKind::Tanh, 1, false),
          geluFactory(GeluKind::Tanh, 1, true));
    r.add({"BiasGelu", 1, kLatestOpset, "com.microsoft"}, geluFactory(GeluKind::Erf, 1, false),
          geluFactory(GeluKind::Erf, 1, true));
}

} // namespace opstudio::rt
