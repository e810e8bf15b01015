// Reductions: Reduce* (ten kinds), ArgMax/ArgMin, TopK, CumSum.
//
// Every reduction is seen as out[kept] = reduce_{r in reduced} map(in[kept, r]). The reference path
// walks two offset tables (one per kept element, one per reduced element) in plain loops with a
// double accumulator for floats. The fast path handles the case where the reduced axes form one
// contiguous block, i.e. the tensor is [outer, red, inner]:
//   inner == 1  -> each output is one contiguous row (LayerNorm's ReduceMean over the last axis),
//   inner  > 1  -> outputs are accumulated row by row over contiguous inner vectors (all-but-last).
// Other axis sets fall back to the reference loops.
#include "runtime/kernels/kernel_util.h"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

namespace opstudio::rt {
namespace {

enum class ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

bool kindAllowsAllNumeric(ReduceKind k) { return k == ReduceKind::Max || k == ReduceKind::Min; }

/// Axes of a Reduce* node: the `axes` input (ReduceSum >= 13, all of them >= 18) or the attribute.
/// Returns the sorted, unique, normalised axes; empty means "all" unless noop_with_empty_axes.
struct ReducePlan {
    std::vector<bool> reduced; // per input dim
    Shape outShape;
    bool noop = false;
};

ReducePlan planReduce(const KernelContext& ctx, const Shape& inShape) {
    const ir::Node& node = ctx.node();
    const int64_t rank = static_cast<int64_t>(inShape.size());
    std::vector<int64_t> axes;
    if (ctx.hasInput(1)) {
        axes = ctx.input(1).toInt64s();
    } else if (node.hasAttr("axes")) {
        axes = node.attrInts("axes");
    }
    const bool keepDims = node.attrInt("keepdims", 1) != 0;
    const bool noopWithEmpty = node.attrInt("noop_with_empty_axes", 0) != 0;
    ReducePlan plan;
    plan.reduced.assign(rank, false);
    if (axes.empty()) {
        // Empty axes: reduce everything, unless the node asks for a no-op (ReduceSum-13 semantics).
        if (noopWithEmpty) {
            plan.noop = true;
            plan.outShape = inShape;
            return plan;
        }
        std::fill(plan.reduced.begin(), plan.reduced.end(), true);
    } else {
        for (int64_t a : axes) {
            if (a < -rank || a >= rank)
                kernelFail(node, "axis " + std::to_string(a) + " out of range for rank " + std::to_string(rank));
            plan.reduced[normalizeAxis(a, rank)] = true;
        }
    }
    for (int64_t d = 0; d < rank; ++d) {
        if (!plan.reduced[d])
            plan.outShape.push_back(inShape[d]);
        else if (keepDims)
            plan.outShape.push_back(1);
    }
    return plan;
}

template <typename T> using AccOf = std::conditional_t<std::is_floating_point_v<T>, double, T>;

/// Value of a reduction over zero elements (sum 0, prod 1, max -inf, mean NaN, log-sum -inf).
template <typename T> T emptyReduction(ReduceKind kind) {
    switch (kind) {
    case ReduceKind::Prod: return T(1);
    case ReduceKind::Max:
        return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                    : std::numeric_limits<T>::lowest();
    case ReduceKind::Min:
        return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                    : std::numeric_limits<T>::max();
    case ReduceKind::Mean:
        return std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN() : T(0);
    case ReduceKind::LogSum:
    case ReduceKind::LogSumExp:
        return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : T(0);
    default: return T(0);
    }
}

/// Reference: out[o] = reduce_r in[base[o] + roff[r]] with plain loops.
template <typename T>
void reduceReference(const T* in, T* out, const Shape& inShape, const std::vector<bool>& reduced, ReduceKind kind,
                     bool parallel = false) {
    using Acc = AccOf<T>;
    const Shape strides = stridesOf(inShape);
    Shape keptDims, keptStrides, redDims, redStrides;
    for (size_t d = 0; d < inShape.size(); ++d) {
        (reduced[d] ? redDims : keptDims).push_back(inShape[d]);
        (reduced[d] ? redStrides : keptStrides).push_back(strides[d]);
    }
    auto offsets = [](const Shape& dims, const Shape& st) {
        std::vector<int64_t> offs(static_cast<size_t>(ir::shapeNumel(dims)), 0);
        std::vector<int64_t> idx(dims.size(), 0);
        for (size_t i = 0; i < offs.size(); ++i) {
            int64_t o = 0;
            for (size_t d = 0; d < dims.size(); ++d) o += idx[d] * st[d];
            offs[i] = o;
            for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
                if (++idx[d] < dims[d]) break;
                idx[d] = 0;
            }
        }
        return offs;
    };
    const std::vector<int64_t> base = offsets(keptDims, keptStrides);
    const std::vector<int64_t> roff = offsets(redDims, redStrides);
    const int64_t count = static_cast<int64_t>(roff.size());
    // Outputs are independent: the fast path runs this loop in parallel for axis sets it has no
    // layout-specific kernel for (e.g. axes {0, 2} of [N, C, HW]).
    auto body = [&](int64_t ob, int64_t oe) {
        for (int64_t o = ob; o < oe; ++o) {
            const T* p = in + base[o];
            if (count == 0) {
                out[o] = emptyReduction<T>(kind);
                continue;
            }
            if (kind == ReduceKind::LogSumExp) {
                // log(sum exp(x)) = m + log(sum exp(x - m)), m = max x: no overflow for large x.
                double m = -std::numeric_limits<double>::infinity();
                for (int64_t r = 0; r < count; ++r) m = std::max(m, static_cast<double>(p[roff[r]]));
                double s = 0;
                for (int64_t r = 0; r < count; ++r) s += std::exp(static_cast<double>(p[roff[r]]) - m);
                out[o] = std::isinf(m) ? static_cast<T>(m) : static_cast<T>(m + std::log(s));
                continue;
            }
            Acc acc;
            switch (kind) {
            case ReduceKind::Max:
            case ReduceKind::Min: acc = static_cast<Acc>(p[roff[0]]); break;
            case ReduceKind::Prod: acc = Acc(1); break;
            default: acc = Acc(0); break;
            }
            for (int64_t r = 0; r < count; ++r) {
                const Acc x = static_cast<Acc>(p[roff[r]]);
                switch (kind) {
                case ReduceKind::Max: acc = x > acc ? x : acc; break;
                case ReduceKind::Min: acc = x < acc ? x : acc; break;
                case ReduceKind::Prod: acc *= x; break;
                case ReduceKind::L1: acc += x < Acc(0) ? Acc(0) - x : x; break;
                case ReduceKind::L2:
                case ReduceKind::SumSquare: acc += x * x; break;
                default: acc += x; break;
                }
            }
            switch (kind) {
            case ReduceKind::Mean: out[o] = static_cast<T>(acc / static_cast<Acc>(count)); break;
            case ReduceKind::L2: out[o] = static_cast<T>(std::sqrt(static_cast<double>(acc))); break;
            case ReduceKind::LogSum: out[o] = static_cast<T>(std::log(static_cast<double>(acc))); break;
            default: out[o] = static_cast<T>(acc); break;
            }
        }
    };
    const int64_t outputs = static_cast<int64_t>(base.size());
    if (parallel) parallelFor(outputs, body, std::max<int64_t>(count, 1));
    else body(0, outputs);
}

/// Fast path, rows: out[o] = reduce of the contiguous row in[o*red .. o*red+red), Eigen-vectorised.
template <typename T> void reduceRows(const T* in, T* out, int64_t outer, int64_t red, ReduceKind kind) {
    using Row = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    parallelFor(
        outer,
        [&](int64_t b, int64_t e) {
            for (int64_t o = b; o < e; ++o) {
                Row x(in + o * red, red);
                T v = T(0);
                switch (kind) {
                case ReduceKind::Sum: v = x.sum(); break;
                case ReduceKind::Mean: v = x.sum() / static_cast<T>(red); break;
                case ReduceKind::Max: v = x.maxCoeff(); break;
                case ReduceKind::Min: v = x.minCoeff(); break;
                case ReduceKind::Prod: v = x.prod(); break;
                case ReduceKind::L1: v = x.abs().sum(); break;
                case ReduceKind::L2: v = std::sqrt(x.square().sum()); break;
                case ReduceKind::LogSum: v = std::log(x.sum()); break;
                case ReduceKind::SumSquare: v = x.square().sum(); break;
                case ReduceKind::LogSumExp: {
                    const T m = x.maxCoeff();
                    v = std::isinf(m) ? m : m + std::log((x - m).exp().sum());
                    break;
                }
                }
                out[o] = v;
            }
        },
        red);
}

/// Fast path, columns: out[o, i] = reduce_r in[o, r, i]; the inner loop runs over contiguous i.
template <typename T>
void reduceColumns(const T* in, T* out, int64_t outer, int64_t red, int64_t inner, ReduceKind kind) {
    // Split inner into chunks so that the all-but-last case (outer == 1) still uses every thread.
    const int64_t chunk = 512;
    const int64_t chunks = (inner + chunk - 1) / chunk;
    parallelFor(
        outer * chunks,
        [&](int64_t b, int64_t e) {
            for (int64_t task = b; task < e; ++task) {
                const int64_t o = task / chunks;
                const int64_t i0 = (task % chunks) * chunk;
                const int64_t n = std::min(chunk, inner - i0);
                T* acc = out + o * inner + i0;
                const T* base = in + o * red * inner + i0;
                if (kind == ReduceKind::LogSumExp) {
                    // Two passes: m = max, then m + log(sum exp(x - m)); `acc` holds m, `sums` the sum.
                    std::vector<T> sums(static_cast<size_t>(n), T(0));
                    for (int64_t i = 0; i < n; ++i) acc[i] = base[i];
                    for (int64_t r = 1; r < red; ++r)
                        for (int64_t i = 0; i < n; ++i) acc[i] = std::max(acc[i], base[r * inner + i]);
                    for (int64_t r = 0; r < red; ++r)
                        for (int64_t i = 0; i < n; ++i) sums[i] += std::exp(base[r * inner + i] - acc[i]);
                    for (int64_t i = 0; i < n; ++i)
                        if (!std::isinf(acc[i])) acc[i] += std::log(sums[i]);
                    continue;
                }
                const T init = kind == ReduceKind::Prod ? T(1) : T(0);
                if (kind == ReduceKind::Max || kind == ReduceKind::Min)
                    for (int64_t i = 0; i < n; ++i) acc[i] = base[i];
                else
                    for (int64_t i = 0; i < n; ++i) acc[i] = init;
                for (int64_t r = 0; r < red; ++r) {
                    const T* x = base + r * inner;
                    switch (kind) {
                    case ReduceKind::Max:
                        for (int64_t i = 0; i < n; ++i) acc[i] = x[i] > acc[i] ? x[i] : acc[i];
                        break;
                    case ReduceKind::Min:
                        for (int64_t i = 0; i < n; ++i) acc[i] = x[i] < acc[i] ? x[i] : acc[i];
                        break;
                    case ReduceKind::Prod:
                        for (int64_t i = 0; i < n; ++i) acc[i] *= x[i];
                        break;
                    case ReduceKind::L1:
                        for (int64_t i = 0; i < n; ++i) acc[i] += std::abs(x[i]);
                        break;
                    case ReduceKind::L2:
                    case ReduceKind::SumSquare:
                        for (int64_t i = 0; i < n; ++i) acc[i] += x[i] * x[i];
                        break;
                    default:
                        for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
                        break;
                    }
                }
                switch (kind) {
                case ReduceKind::Mean: {
                    const T inv = T(1) / static_cast<T>(red);
                    for (int64_t i = 0; i < n; ++i) acc[i] *= inv;
                    break;
                }
                case ReduceKind::L2:
                    for (int64_t i = 0; i < n; ++i) acc[i] = std::sqrt(acc[i]);
                    break;
                case ReduceKind::LogSum:
                    for (int64_t i = 0; i < n; ++i) acc[i] = std::log(acc[i]);
                    break;
                default: break;
                }
            }
        },
        red * std::min(inner, chunk));
}

void reduceTensor(const KernelContext& ctx, const Tensor& x, Tensor& y, const ReducePlan& plan, ReduceKind kind,
                  bool fast);

void runReduce(KernelContext& ctx, ReduceKind kind, bool fast) {
    const Tensor& input = ctx.input(0);
    const ReducePlan plan = planReduce(ctx, input.shape());
    const bool half = isHalfType(input.dtype());
    const Tensor x = half ? widenHalf(input) : input;
    const DType dt = x.dtype();
    const bool supported = dt == DType::F32 || dt == DType::F64 || dt == DType::I32 || dt == DType::I64 ||
                           (kindAllowsAllNumeric(kind) && (dt == DType::I8 || dt == DType::U8));
    if (!supported) kernelFail(ctx.node(), "unsupported dtype " + std::string(ir::dtypeName(dt)));
    if (half) {
        Tensor y(DType::F32, plan.outShape);
        reduceTensor(ctx, x, y, plan, kind, fast);
        narrowHalf(y, ctx.allocate(0, input.dtype(), plan.outShape));
    } else {
        reduceTensor(ctx, x, ctx.allocate(0, dt, plan.outShape), plan, kind, fast);
    }
}

void reduceTensor(const KernelContext& ctx, const Tensor& x, Tensor& y, const ReducePlan& plan, ReduceKind kind,
                  bool fast) {
    const DType dt = x.dtype();
    if (plan.noop) {
        copyTensorInto(x, y);
        return;
    }
    const Shape& s = x.shape();
    // Are the reduced axes (ignoring size-1 dims) one block [first, last] with only size-1 kept dims
    // inside? Then x is [outer, red, inner] in memory.
    const int rank = static_cast<int>(s.size());
    int first = -1, last = -1;
    for (int d = 0; d < rank; ++d) {
        if (!plan.reduced[d] || s[d] == 1) continue;
        if (first < 0) first = d;
        last = d;
    }
    bool contiguous = true;
    for (int d = first + 1; first >= 0 && d < last; ++d)
        if (!plan.reduced[d] && s[d] != 1) contiguous = false;
    int64_t outer = 1, red = 1, inner = 1;
    if (first < 0) {
        outer = ir::shapeNumel(s); // nothing of size > 1 reduced: each element is its own row
    } else {
        for (int d = 0; d < first; ++d) outer *= s[d];
        for (int d = first; d <= last; ++d) red *= s[d];
        for (int d = last + 1; d < rank; ++d) inner *= s[d];
    }
    dispatchNumeric(dt, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint16_t> || std::is_same_v<T, int16_t> ||
                      std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
            kernelFail(ctx.node(), "unsupported dtype");
        } else {
            const T* in = x.data<T>();
            T* out = y.data<T>();
            const int64_t n = x.numel();
            if constexpr (std::is_floating_point_v<T>) {
                if (fast && contiguous && n > 0) {
                    if (inner == 1)
                        reduceRows(in, out, outer, red, kind);
                    else
                        reduceColumns(in, out, outer, red, inner, kind);
                    return;
                }
            }
            reduceReference(in, out, s, plan.reduced, kind, fast);
        }
    });
}

KernelFactory reduceFactory(ReduceKind kind, bool fast) {
    return fn([kind, fast](KernelContext& ctx) { runReduce(ctx, kind, fast); }, fast ? "eigen" : "reference");
}

// ---- ArgMax / ArgMin --------------------------------------------------------------------------

void runArg(KernelContext& ctx, bool isMax) {
    const Tensor& x = ctx.input(0);
    const ir::Node& node = ctx.node();
    const int64_t rank = x.rank();
    const int64_t axisAttr = node.attrInt("axis", 0);
    if (rank == 0) kernelFail(node, "input must have rank >= 1");
    if (axisAttr < -rank || axisAttr >= rank) kernelFail(node, "axis out of range");
    const int64_t axis = normalizeAxis(axisAttr, rank);
    const bool keepDims = node.attrInt("keepdims", 1) != 0;
    const bool selectLast = node.attrInt("select_last_index", 0) != 0;
    const Shape& s = x.shape();
    Shape outShape;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) {
        if (d < axis) outer *= s[d];
        if (d > axis) inner *= s[d];
        if (d != axis) outShape.push_back(s[d]);
        else if (keepDims) outShape.push_back(1);
    }
    const int64_t red = s[axis];
    if (red == 0 && outer * inner > 0) kernelFail(node, "cannot take ArgMax/ArgMin over an empty axis");
    Tensor& y = ctx.allocate(0, DType::I64, outShape);
    int64_t* out = y.data<int64_t>();
    dispatchNumeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        parallelFor(
            outer * inner,
            [&](int64_t b, int64_t e) {
                for (int64_t j = b; j < e; ++j) {
                    const int64_t o = j / inner, i = j % inner;
                    const T* p = in + o * red * inner + i;
                    int64_t best = 0;
                    T bv = p[0];
                    for (int64_t r = 1; r < red; ++r) {
                        const T v = p[r * inner];
                        // Ties keep the first index, or the last one with select_last_index.
                        const bool better = isMax ? (selectLast ? v >= bv : v > bv) : (selectLast ? v <= bv : v < bv);
                        if (better) {
                            bv = v;
                            best = r;
                        }
                    }
                    out[j] = best;
                }
            },
            red);
    });
}

// ---- TopK -------------------------------------------------------------------------------------

void runTopK(KernelContext& ctx, int64_t opset) {
    const Tensor& x = ctx.input(0);
    const ir::Node& node = ctx.node();
    const int64_t rank = x.rank();
    if (rank == 0) kernelFail(node, "input must have rank >= 1");
    const int64_t axisAttr = node.attrInt("axis", -1);
    if (axisAttr < -rank || axisAttr >= rank) kernelFail(node, "axis out of range");
    const int64_t axis = normalizeAxis(axisAttr, rank);
    int64_t k;
    if (opset >= 10) {
        if (!ctx.hasInput(1)) kernelFail(node, "missing input K");
        const auto kv = ctx.input(1).toInt64s();
        if (kv.size() != 1) kernelFail(node, "K must hold one value");
        k = kv[0];
    } else {
        if (!node.hasAttr("k")) kernelFail(node, "missing attribute k");
        k = node.attrInt("k", 0);
    }
    const bool largest = opset >= 11 ? node.attrInt("largest", 1) != 0 : true;
    const Shape& s = x.shape();
    const int64_t red = s[axis];
    if (k < 0 || k > red) kernelFail(node, "K=" + std::to_string(k) + " outside [0, " + std::to_string(red) + "]");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= s[d];
    Shape outShape = s;
    outShape[axis] = k;
    Tensor& values = ctx.allocate(0, x.dtype(), outShape);
    // Indices is a required output, but a graph may leave it unused: compute it into scratch then.
    Tensor scratch;
    Tensor& indices = ctx.outputCount() > 1 ? ctx.allocate(1, DType::I64, outShape) : (scratch = Tensor(DType::I64, outShape));
    int64_t* idxOut = indices.data<int64_t>();
    dispatchNumeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        T* valOut = values.data<T>();
        parallelFor(
            outer * inner,
            [&](int64_t b, int64_t e) {
                std::vector<int64_t> order(static_cast<size_t>(red));
                for (int64_t j = b; j < e; ++j) {
                    const int64_t o = j / inner, i = j % inner;
                    const T* p = in + o * red * inner + i;
                    std::iota(order.begin(), order.end(), int64_t{0});
                    // Strict order: by value, ties by lower index first (as the spec requires). The
                    // "sorted" attribute only allows an unspecified order, so results are always sorted.
                    auto cmp = [&](int64_t a, int64_t c) {
                        const T va = p[a * inner], vc = p[c * inner];
                        if (va != vc) return largest ? va > vc : va < vc;
                        return a < c;
                    };
                    std::partial_sort(order.begin(), order.begin() + k, order.end(), cmp);
                    T* vo = valOut + o * k * inner + i;
                    int64_t* io = idxOut + o * k * inner + i;
                    for (int64_t r = 0; r < k; ++r) {
                        vo[r * inner] = p[order[r] * inner];
                        io[r * inner] = order[r];
                    }
                }
            },
            red * 4);
    });
}

// ---- CumSum -----------------------------------------------------------------------------------

void runCumSum(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const ir::Node& node = ctx.node();
    const int64_t rank = x.rank();
    if (rank == 0) kernelFail(node, "input must have rank >= 1");
    if (!ctx.hasInput(1)) kernelFail(node, "missing input axis");
    const auto av = ctx.input(1).toInt64s();
    if (av.size() != 1) kernelFail(node, "axis must hold one value");
    if (av[0] < -rank || av[0] >= rank) kernelFail(node, "axis out of range");
    const int64_t axis = normalizeAxis(av[0], rank);
    const bool exclusive = node.attrInt("exclusive", 0) != 0;
    const bool reverse = node.attrInt("reverse", 0) != 0;
    const Shape& s = x.shape();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= s[d];
    const int64_t red = s[axis];
    Tensor& y = ctx.allocate(0, x.dtype(), s);
    dispatchNumeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool>) {
            kernelFail(node, "unsupported dtype bool");
        } else {
            const T* in = x.data<T>();
            T* out = y.data<T>();
            parallelFor(
                outer,
                [&](int64_t b, int64_t e) {
                    std::vector<T> acc(static_cast<size_t>(inner));
                    for (int64_t o = b; o < e; ++o) {
                        std::fill(acc.begin(), acc.end(), T(0));
                        // y[r] = sum of x over r' <= r (exclusive: r' < r; reverse: r' >= r / r' > r).
                        for (int64_t step = 0; step < red; ++step) {
                            const int64_t r = reverse ? red - 1 - step : step;
                            const T* xr = in + (o * red + r) * inner;
                            T* yr = out + (o * red + r) * inner;
                            if (exclusive) {
                                for (int64_t i = 0; i < inner; ++i) {
                                    yr[i] = acc[i];
                                    acc[i] = static_cast<T>(acc[i] + xr[i]);
                                }
                            } else {
                                for (int64_t i = 0; i < inner; ++i) {
                                    acc[i] = static_cast<T>(acc[i] + xr[i]);
                                    yr[i] = acc[i];
                                }
                            }
                        }
                    }
                },
                red * inner);
        }
    });
}

} // namespace

void registerReduceKernels(KernelRegistry& r) {
    const std::pair<const char*, ReduceKind> reduces[] = {
        {"ReduceSum", ReduceKind::Sum},         {"ReduceMean", ReduceKind::Mean},
        {"ReduceMax", ReduceKind::Max},         {"ReduceMin", ReduceKind::Min},
        {"ReduceProd", ReduceKind::Prod},       {"ReduceL1", ReduceKind::L1},
        {"ReduceL2", ReduceKind::L2},           {"ReduceLogSum", ReduceKind::LogSum},
        {"ReduceLogSumExp", ReduceKind::LogSumExp}, {"ReduceSumSquare", ReduceKind::SumSquare},
    };
    // One kernel per op for all opsets: axes come from the input when present (ReduceSum >= 13,
    // every Reduce* >= 18), otherwise from the attribute; noop_with_empty_axes defaults to 0.
    for (const auto& [name, kind] : reduces)
        r.add({name, 1, kLatestOpset, ""}, reduceFactory(kind, true), reduceFactory(kind, false));

    r.add({"ArgMax", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runArg(ctx, true); }));
    r.add({"ArgMin", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runArg(ctx, false); }));
    r.add({"TopK", 1, kLatestOpset, ""}, [](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const int64_t opset = init.opset;
        return std::make_unique<FunctionKernel>([opset](KernelContext& ctx) { runTopK(ctx, opset); });
    });
    r.add({"CumSum", 11, kLatestOpset, ""}, fn([](KernelContext& ctx) { runCumSum(ctx); }));
}

} // namespace opstudio::rt
