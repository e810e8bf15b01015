// Pooling: MaxPool (with Indices), AveragePool, LpPool, their Global* forms, and MaxUnpool.
//
// X is [N, C, D1..Dk] (k = 1..3). Spatial dims are padded to three with leading size-1 dims so one
// loop nest serves 1-D, 2-D and 3-D. Window geometry per spatial dim (kernel K, stride s, dilation d,
// pads pb/pe, effective kernel ek = (K-1)*d + 1):
//   NOTSET:          out = floor_or_ceil((in + pb + pe - ek) / s) + 1; with ceil_mode the last window
//                    must start inside the input or the left padding (PyTorch/ONNX Runtime rule).
//   SAME_UPPER/LOWER: out = ceil(in / s); total pad = max(0, (out-1)*s + ek - in), the odd pixel going
//                    to the end (UPPER) or the beginning (LOWER).
//   VALID:           out = floor((in - ek) / s) + 1, no padding.
// The reference path tests every tap against the bounds; the fast path precomputes per output
// position the range of taps inside the input, so the inner loops run bounds-free over
// contiguous memory, and runs (n, c) planes in parallel.
#include "runtime/kernels/kernel_util.h"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace opstudio::rt {
namespace {

constexpr int kMaxSpatial = 3;
using Dims3 = std::array<int64_t, kMaxSpatial>;

struct PoolGeometry {
    int64_t batch = 0, channels = 0;
    int spatial = 0; // real number of spatial dims
    Dims3 in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
    Dims3 padBegin{0, 0, 0}, padEnd{0, 0, 0};
    Shape outShape;
    int64_t inPlane() const { return in[0] * in[1] * in[2]; }
    int64_t outPlane() const { return out[0] * out[1] * out[2]; }
};

int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -ceilDiv(-a, b); }

std::vector<int64_t> intsOr(const ir::Node& node, const char* name, size_t n, int64_t fallback) {
    std::vector<int64_t> v = node.attrInts(name);
    if (v.empty()) v.assign(n, fallback);
    return v;
}

PoolGeometry poolGeometry(const ir::Node& node, const Shape& x, bool useCeil) {
    const int rank = static_cast<int>(x.size());
    if (rank < 3 || rank > 2 + kMaxSpatial)
        kernelFail(node, "pooling supports inputs of rank 3..5 (N, C and 1..3 spatial dims), got " +
                             ir::shapeToString(x));
    PoolGeometry g;
    g.spatial = rank - 2;
    g.batch = x[0];
    g.channels = x[1];
    const size_t k = static_cast<size_t>(g.spatial);
    const std::vector<int64_t> kernel = node.attrInts("kernel_shape");
    if (kernel.size() != k) kernelFail(node, "kernel_shape must have one entry per spatial dim");
    const std::vector<int64_t> strides = intsOr(node, "strides", k, 1);
    const std::vector<int64_t> dilations = intsOr(node, "dilations", k, 1);
    std::vector<int64_t> pads = intsOr(node, "pads", 2 * k, 0);
    if (strides.size() != k || dilations.size() != k || pads.size() != 2 * k)
        kernelFail(node, "strides/dilations/pads do not match the number of spatial dims");
    const std::string autoPad = node.attrString("auto_pad", "NOTSET");
    const bool ceilMode = useCeil && node.attrInt("ceil_mode", 0) != 0;
    const int off = kMaxSpatial - g.spatial; // leading size-1 dims
    g.outShape = {g.batch, g.channels};
    for (size_t i = 0; i < k; ++i) {
        const int j = off + static_cast<int>(i);
        const int64_t in = x[2 + i], K = kernel[i], s = strides[i], d = dilations[i];
        if (K <= 0 || s <= 0 || d <= 0) kernelFail(node, "kernel_shape, strides and dilations must be positive");
        const int64_t ek = (K - 1) * d + 1;
        int64_t pb = pads[i], pe = pads[i + k], out;
        if (pb < 0 || pe < 0) kernelFail(node, "negative pads are not supported");
        if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
            out = ceilDiv(in, s);
            const int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
            pb = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            pe = total - pb;
        } else if (autoPad == "VALID") {
            pb = pe = 0;
            out = floorDiv(in - ek, s) + 1;
        } else if (autoPad == "NOTSET" || autoPad.empty()) {
            const int64_t span = in + pb + pe - ek;
            out = (ceilMode ? ceilDiv(span, s) : floorDiv(span, s)) + 1;
            if (ceilMode && out > 0 && (out - 1) * s >= in + pb) --out;
        } else {
            kernelFail(node, "unknown auto_pad '" + autoPad + "'");
        }
        if (out <= 0 && in > 0) kernelFail(node, "kernel larger than the padded input");
        out = std::max<int64_t>(out, 0);
        g.in[j] = in;
        g.out[j] = out;
        g.kernel[j] = K;
        g.stride[j] = s;
        g.dilation[j] = d;
        g.padBegin[j] = pb;
        g.padEnd[j] = pe;
        g.outShape.push_back(out);
    }
    return g;
}

/// Taps of the window at output position o that fall inside [0, in): k in [lo, hi).
struct TapRange {
    int64_t start, lo, hi;
};
std::vector<TapRange> tapRanges(const PoolGeometry& g, int j) {
    std::vector<TapRange> r(static_cast<size_t>(g.out[j]));
    for (int64_t o = 0; o < g.out[j]; ++o) {
        const int64_t start = o * g.stride[j] - g.padBegin[j];
        const int64_t d = g.dilation[j];
        const int64_t lo = start >= 0 ? 0 : ceilDiv(-start, d);
        const int64_t hi = std::min(g.kernel[j], ceilDiv(g.in[j] - start, d));
        r[o] = {start, std::min(lo, g.kernel[j]), std::max(hi, int64_t{0})};
    }
    return r;
}

/// Start of a running maximum (what a window with no tap inside the input yields).
template <typename T> constexpr T maxInit() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
}

int64_t paddedTaps(const PoolGeometry& g, int j, int64_t o);

/// Fast path for 1-D/2-D MaxPool (no Indices) and AveragePool, the CNN case:
///   y[oh, ow] = max or mean over taps (kh, kw) inside the input of x[oh*sh - pbh + kh*dh, ow*sw - pbw + kw*dw].
/// Taps run outermost and output columns innermost, so the inner loop is one sweep over a row
/// (contiguous when sw = 1, which the compiler vectorises) with the column range of valid taps
/// precomputed per kw instead of a bounds test per element.
template <typename T, bool kMax>
void pool2dRows(const PoolGeometry& g, const T* x, T* y, bool countIncludePad) {
    const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
    const int64_t sw = g.stride[2], dw = g.dilation[2], K = g.kernel[2];
    const std::vector<TapRange> rows = tapRanges(g, 1), cols = tapRanges(g, 2);
    std::vector<int64_t> owLo(static_cast<size_t>(K)), owHi(static_cast<size_t>(K));
    for (int64_t kw = 0; kw < K; ++kw) {
        const int64_t off = kw * dw - g.padBegin[2]; // input column = ow * sw + off
        const int64_t lo = off >= 0 ? 0 : ceilDiv(-off, sw);
        const int64_t hi = off < W ? std::min(OW, ceilDiv(W - off, sw)) : 0;
        owLo[kw] = std::min(lo, OW);
        owHi[kw] = std::max(hi, owLo[kw]);
    }
    std::vector<T> invDiv;
    if (!kMax) {
        invDiv.resize(static_cast<size_t>(OH * OW));
        for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t div = countIncludePad ? paddedTaps(g, 1, oh) * paddedTaps(g, 2, ow)
                                                    : (rows[oh].hi - rows[oh].lo) * (cols[ow].hi - cols[ow].lo);
                invDiv[oh * OW + ow] = div > 0 ? T(1) / static_cast<T>(div) : T(0);
            }
    }
    parallelFor(
        g.batch * g.channels,
        [&](int64_t b, int64_t e) {
            // Stride 2 (the CNN downsampling case): each input row is split once into its even and
            // odd columns, so every tap becomes a contiguous (vectorised) sweep:
            // x[2 * ow + off] = even[ow + off / 2] (off even) or odd[ow + (off - 1) / 2] (off odd).
            std::vector<T> even(sw == 2 ? static_cast<size_t>((W + 1) / 2) : 0), odd(sw == 2 ? static_cast<size_t>(W / 2) : 0);
            for (int64_t pl = b; pl < e; ++pl) {
                const T* xp = x + pl * H * W;
                T* yp = y + pl * OH * OW;
                for (int64_t oh = 0; oh < OH; ++oh) {
                    T* yr = yp + oh * OW;
                    std::fill(yr, yr + OW, kMax ? maxInit<T>() : T(0));
                    const TapRange& rh = rows[oh];
                    for (int64_t kh = rh.lo; kh < rh.hi; ++kh) {
                        const T* xr = xp + (rh.start + kh * g.dilation[1]) * W;
                        if (sw == 2) {
                            for (int64_t i = 0; i < W / 2; ++i) {
                                even[i] = xr[2 * i];
                                odd[i] = xr[2 * i + 1];
                            }
                            if (W % 2) even[W / 2] = xr[W - 1];
                        }
                        for (int64_t kw = 0; kw < K; ++kw) {
                            const int64_t off = kw * dw - g.padBegin[2];
                            const int64_t lo = owLo[kw], hi = owHi[kw];
                            if (sw == 2) {
                                const bool isOdd = (off & 1) != 0;
                                const T* src = isOdd ? odd.data() : even.data();
                                const int64_t shift = isOdd ? (off - 1) / 2 : off / 2;
                                for (int64_t ow = lo; ow < hi; ++ow) {
                                    const T v = src[ow + shift];
                                    if constexpr (kMax) yr[ow] = v > yr[ow] ? v : yr[ow];
                                    else yr[ow] += v;
                                }
                            } else if (sw == 1) {
                                // xr[ow + off] is inside the row for ow in [lo, hi).
                                for (int64_t ow = lo; ow < hi; ++ow) {
                                    const T v = xr[ow + off];
                                    if constexpr (kMax) yr[ow] = v > yr[ow] ? v : yr[ow];
                                    else yr[ow] += v;
                                }
                            } else {
                                for (int64_t ow = lo; ow < hi; ++ow) {
                                    const T v = xr[ow * sw + off];
                                    if constexpr (kMax) yr[ow] = v > yr[ow] ? v : yr[ow];
                                    else yr[ow] += v;
                                }
                            }
                        }
                    }
                    if constexpr (!kMax)
                        for (int64_t ow = 0; ow < OW; ++ow) yr[ow] *= invDiv[oh * OW + ow];
                }
            }
        },
        g.outPlane() * g.kernel[1] * K);
}

// ---- MaxPool ----------------------------------------------------------------------------------

/// Flat spatial index of (p0, p1, p2): row-major, or column-major when storage_order = 1.
struct IndexOrder {
    Dims3 mul;
    IndexOrder(const PoolGeometry& g, bool columnMajor) {
        if (!columnMajor) mul = {g.in[1] * g.in[2], g.in[2], 1};
        else {
            // Column-major over the real spatial dims: the first real dim varies fastest.
            const int off = kMaxSpatial - g.spatial;
            int64_t m = 1;
            mul = {0, 0, 0};
            for (int j = off; j < kMaxSpatial; ++j) {
                mul[j] = m;
                m *= g.in[j];
            }
        }
    }
};

template <typename T>
void maxPoolReference(const PoolGeometry& g, const T* x, T* y, int64_t* ind, bool columnMajor) {
    const IndexOrder order(g, columnMajor);
    const int64_t planes = g.batch * g.channels;
    for (int64_t pl = 0; pl < planes; ++pl) {
        const T* xp = x + pl * g.inPlane();
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
            for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                    T best = maxInit<T>();
                    int64_t bestIdx = -1;
                    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0)
                        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1)
                            for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                                const int64_t p0 = o0 * g.stride[0] - g.padBegin[0] + k0 * g.dilation[0];
                                const int64_t p1 = o1 * g.stride[1] - g.padBegin[1] + k1 * g.dilation[1];
                                const int64_t p2 = o2 * g.stride[2] - g.padBegin[2] + k2 * g.dilation[2];
                                if (p0 < 0 || p0 >= g.in[0] || p1 < 0 || p1 >= g.in[1] || p2 < 0 || p2 >= g.in[2])
                                    continue;
                                const T v = xp[(p0 * g.in[1] + p1) * g.in[2] + p2];
                                if (bestIdx < 0 || v > best) {
                                    best = v;
                                    bestIdx = p0 * order.mul[0] + p1 * order.mul[1] + p2 * order.mul[2];
                                }
                            }
                    const int64_t oi = pl * g.outPlane() + (o0 * g.out[1] + o1) * g.out[2] + o2;
                    y[oi] = best;
                    if (ind) ind[oi] = bestIdx < 0 ? -1 : pl * g.inPlane() + bestIdx;
                }
    }
}

template <typename T>
void maxPoolFast(const PoolGeometry& g, const T* x, T* y, int64_t* ind, bool columnMajor) {
    const IndexOrder order(g, columnMajor);
    const auto r0 = tapRanges(g, 0), r1 = tapRanges(g, 1), r2 = tapRanges(g, 2);
    const int64_t window = g.kernel[0] * g.kernel[1] * g.kernel[2];
    parallelFor(
        g.batch * g.channels,
        [&](int64_t b, int64_t e) {
            for (int64_t pl = b; pl < e; ++pl) {
                const T* xp = x + pl * g.inPlane();
                T* yp = y + pl * g.outPlane();
                int64_t* ip = ind ? ind + pl * g.outPlane() : nullptr;
                for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
                    for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                            const TapRange &a = r0[o0], &c = r1[o1], &w = r2[o2];
                            T best = maxInit<T>();
                            int64_t bestIdx = -1;
                            for (int64_t k0 = a.lo; k0 < a.hi; ++k0) {
                                const int64_t p0 = a.start + k0 * g.dilation[0];
                                for (int64_t k1 = c.lo; k1 < c.hi; ++k1) {
                                    const int64_t p1 = c.start + k1 * g.dilation[1];
                                    const T* row = xp + (p0 * g.in[1] + p1) * g.in[2] + w.start;
                                    for (int64_t k2 = w.lo; k2 < w.hi; ++k2) {
                                        const T v = row[k2 * g.dilation[2]];
                                        if (bestIdx < 0 || v > best) {
                                            best = v;
                                            bestIdx = p0 * order.mul[0] + p1 * order.mul[1] +
                                                      (w.start + k2 * g.dilation[2]) * order.mul[2];
                                        }
                                    }
                                }
                            }
                            const int64_t oi = (o0 * g.out[1] + o1) * g.out[2] + o2;
                            yp[oi] = best;
                            if (ip) ip[oi] = bestIdx < 0 ? -1 : pl * g.inPlane() + bestIdx;
                        }
            }
        },
        g.outPlane() * window);
}

void runMaxPool(KernelContext& ctx, bool fast) {
    const Tensor& input = ctx.input(0);
    const bool half = isHalfType(input.dtype());
    const Tensor x = half ? widenHalf(input) : input;
    const ir::Node& node = ctx.node();
    const PoolGeometry g = poolGeometry(node, x.shape(), true);
    const int64_t storageOrder = node.attrInt("storage_order", 0);
    if (storageOrder != 0 && storageOrder != 1) kernelFail(node, "storage_order must be 0 or 1");
    Tensor halfResult;
    Tensor& y = half ? (halfResult = Tensor(DType::F32, g.outShape)) : ctx.allocate(0, x.dtype(), g.outShape);
    int64_t* ind = nullptr;
    if (ctx.outputCount() > 1 && ctx.wantsOutput(1)) ind = ctx.allocate(1, DType::I64, g.outShape).data<int64_t>();
    auto run = [&](auto tag) {
        using T = decltype(tag);
        if (fast && !ind && g.spatial <= 2) pool2dRows<T, true>(g, x.data<T>(), y.data<T>(), false);
        else if (fast) maxPoolFast<T>(g, x.data<T>(), y.data<T>(), ind, storageOrder == 1);
        else maxPoolReference<T>(g, x.data<T>(), y.data<T>(), ind, storageOrder == 1);
    };
    switch (x.dtype()) {
    case DType::F32: run(float{}); break;
    case DType::F64: run(double{}); break;
    case DType::I8: run(int8_t{}); break;
    case DType::U8: run(uint8_t{}); break;
    default: kernelFail(node, "unsupported dtype " + std::string(ir::dtypeName(x.dtype())));
    }
    if (half) narrowHalf(y, ctx.allocate(0, input.dtype(), g.outShape));
}

/// MaxPool that also reads channels-last fp32 input (a CNN stem: Conv -> Relu -> MaxPool keeps the
/// 64-channel stem output NHWC, saving its nhwc -> nchw reorder, measured 0.8 ms in SqueezeNet).
/// Each output pixel is a max over taps of C contiguous input values (vectorised over channels),
/// written to the plain nchw output.
class MaxPoolKernel final : public Kernel, public ChannelsLastKernel {
public:
    std::string_view path() const override { return "eigen"; }
    void run(KernelContext& ctx) override { runMaxPool(ctx, true); }
    bool supportsChannelsLast(const KernelContext& ctx) const override {
        const Tensor& x = ctx.input(0);
        const bool indices = ctx.outputCount() > 1 && ctx.wantsOutput(1);
        return !indices && x.dtype() == DType::F32 && x.rank() == 4 && x.numel() > 0;
    }
    bool writesChannelsLast() const override { return false; }
    void runWithLayout(KernelContext& ctx, ActivationLayout in, ActivationLayout out) override {
        if (in == ActivationLayout::Plain) return run(ctx);
        if (out != ActivationLayout::Plain) kernelFail(ctx.node(), "MaxPool writes plain layout only");
        const Tensor& x = ctx.input(0);
        const PoolGeometry g = poolGeometry(ctx.node(), x.shape(), true);
        Tensor& y = ctx.allocate(0, DType::F32, g.outShape);
        const int64_t C = g.channels, H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
        const std::vector<TapRange> rows = tapRanges(g, 1), cols = tapRanges(g, 2);
        const float* xd = x.data<float>();
        float* yd = y.data<float>();
        parallelFor(
            g.batch * OH,
            [&](int64_t b, int64_t e) {
                std::vector<float> acc(static_cast<size_t>(C));
                for (int64_t idx = b; idx < e; ++idx) {
                    const int64_t n = idx / OH, oh = idx % OH;
                    const float* xn = xd + n * H * W * C;
                    float* yn = yd + n * C * OH * OW + oh * OW;
                    const TapRange& rh = rows[oh];
                    for (int64_t ow = 0; ow < OW; ++ow) {
                        std::fill(acc.begin(), acc.end(), maxInit<float>());
                        const TapRange& rw = cols[ow];
                        for (int64_t kh = rh.lo; kh < rh.hi; ++kh) {
                            const int64_t ih = rh.start + kh * g.dilation[1];
                            for (int64_t kw = rw.lo; kw < rw.hi; ++kw) {
                                const float* px = xn + (ih * W + rw.start + kw * g.dilation[2]) * C;
                                for (int64_t c = 0; c < C; ++c)
                                    acc[c] = px[c] > acc[c] ? px[c] : acc[c];
                            }
                        }
                        for (int64_t c = 0; c < C; ++c)
                            yn[c * OH * OW + ow] = acc[c];
                    }
                }
            },
            OW * C * g.kernel[1] * g.kernel[2]);
    }
};

// ---- AveragePool / LpPool ---------------------------------------------------------------------

enum class SumPool { Average, Lp };

struct SumPoolParams {
    SumPool kind = SumPool::Average;
    bool countIncludePad = false;
    double p = 2.0;
};

/// Number of taps of the window at o inside the padded extent [-pb, in + pe): the divisor of
/// AveragePool with count_include_pad (windows overhanging with ceil_mode are cut at the pad end).
int64_t paddedTaps(const PoolGeometry& g, int j, int64_t o) {
    int64_t n = 0;
    for (int64_t k = 0; k < g.kernel[j]; ++k) {
        const int64_t p = o * g.stride[j] - g.padBegin[j] + k * g.dilation[j];
        if (p >= -g.padBegin[j] && p < g.in[j] + g.padEnd[j]) ++n;
    }
    return n;
}

template <typename T> T finishSumPool(double sum, int64_t valid, int64_t padded, const SumPoolParams& prm) {
    if (prm.kind == SumPool::Lp) return static_cast<T>(std::pow(sum, 1.0 / prm.p));
    const int64_t div = prm.countIncludePad ? padded : valid;
    return div > 0 ? static_cast<T>(sum / static_cast<double>(div)) : T(0);
}

template <typename T> double lpTerm(T v, double p) {
    const double a = std::abs(static_cast<double>(v));
    return p == 2.0 ? a * a : (p == 1.0 ? a : std::pow(a, p));
}

template <typename T> void sumPoolReference(const PoolGeometry& g, const T* x, T* y, const SumPoolParams& prm) {
    const int64_t planes = g.batch * g.channels;
    for (int64_t pl = 0; pl < planes; ++pl) {
        const T* xp = x + pl * g.inPlane();
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
            for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                    double sum = 0;
                    int64_t valid = 0;
                    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0)
                        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1)
                            for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                                const int64_t p0 = o0 * g.stride[0] - g.padBegin[0] + k0 * g.dilation[0];
                                const int64_t p1 = o1 * g.stride[1] - g.padBegin[1] + k1 * g.dilation[1];
                                const int64_t p2 = o2 * g.stride[2] - g.padBegin[2] + k2 * g.dilation[2];
                                if (p0 < 0 || p0 >= g.in[0] || p1 < 0 || p1 >= g.in[1] || p2 < 0 || p2 >= g.in[2])
                                    continue;
                                const T v = xp[(p0 * g.in[1] + p1) * g.in[2] + p2];
                                sum += prm.kind == SumPool::Lp ? lpTerm(v, prm.p) : static_cast<double>(v);
                                ++valid;
                            }
                    const int64_t padded = paddedTaps(g, 0, o0) * paddedTaps(g, 1, o1) * paddedTaps(g, 2, o2);
                    y[pl * g.outPlane() + (o0 * g.out[1] + o1) * g.out[2] + o2] =
                        finishSumPool<T>(sum, valid, padded, prm);
                }
    }
}

template <typename T> void sumPoolFast(const PoolGeometry& g, const T* x, T* y, const SumPoolParams& prm) {
    const auto r0 = tapRanges(g, 0), r1 = tapRanges(g, 1), r2 = tapRanges(g, 2);
    std::array<std::vector<int64_t>, kMaxSpatial> padded;
    for (int j = 0; j < kMaxSpatial; ++j)
        for (int64_t o = 0; o < g.out[j]; ++o) padded[j].push_back(paddedTaps(g, j, o));
    const int64_t window = g.kernel[0] * g.kernel[1] * g.kernel[2];
    const bool lp = prm.kind == SumPool::Lp;
    parallelFor(
        g.batch * g.channels,
        [&](int64_t b, int64_t e) {
            for (int64_t pl = b; pl < e; ++pl) {
                const T* xp = x + pl * g.inPlane();
                T* yp = y + pl * g.outPlane();
                for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
                    for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                            const TapRange &a = r0[o0], &c = r1[o1], &w = r2[o2];
                            // Accumulate in T here (the reference uses double): fine for pooling windows.
                            T sum = T(0);
                            for (int64_t k0 = a.lo; k0 < a.hi; ++k0) {
                                const int64_t p0 = a.start + k0 * g.dilation[0];
                                for (int64_t k1 = c.lo; k1 < c.hi; ++k1) {
                                    const T* row = xp + (p0 * g.in[1] + c.start + k1 * g.dilation[1]) * g.in[2] +
                                                   w.start;
                                    if (lp) {
                                        for (int64_t k2 = w.lo; k2 < w.hi; ++k2)
                                            sum += static_cast<T>(lpTerm(row[k2 * g.dilation[2]], prm.p));
                                    } else if (g.dilation[2] == 1) {
                                        for (int64_t k2 = w.lo; k2 < w.hi; ++k2) sum += row[k2];
                                    } else {
                                        for (int64_t k2 = w.lo; k2 < w.hi; ++k2) sum += row[k2 * g.dilation[2]];
                                    }
                                }
                            }
                            const int64_t valid = (a.hi - a.lo) * (c.hi - c.lo) * (w.hi - w.lo);
                            yp[(o0 * g.out[1] + o1) * g.out[2] + o2] = finishSumPool<T>(
                                static_cast<double>(sum), valid, padded[0][o0] * padded[1][o1] * padded[2][o2], prm);
                        }
            }
        },
        g.outPlane() * window);
}

double lpNorm(const ir::Node& node) {
    const ir::Attribute* a = node.attr("p");
    if (!a) return 2.0;
    const double p = a->type == ir::AttrType::Float ? static_cast<double>(a->f) : static_cast<double>(a->i);
    if (!(p > 0)) kernelFail(node, "p must be positive");
    return p;
}

void runSumPool(KernelContext& ctx, SumPool kind, bool fast) {
    const Tensor& input = ctx.input(0);
    const bool half = isHalfType(input.dtype());
    const Tensor x = half ? widenHalf(input) : input;
    const ir::Node& node = ctx.node();
    const PoolGeometry g = poolGeometry(node, x.shape(), true);
    SumPoolParams prm;
    prm.kind = kind;
    prm.countIncludePad = node.attrInt("count_include_pad", 0) != 0;
    if (kind == SumPool::Lp) prm.p = lpNorm(node);
    Tensor halfResult;
    Tensor& y = half ? (halfResult = Tensor(DType::F32, g.outShape)) : ctx.allocate(0, x.dtype(), g.outShape);
    auto run = [&](auto tag) {
        using T = decltype(tag);
        if (fast && kind == SumPool::Average && g.spatial <= 2)
            pool2dRows<T, false>(g, x.data<T>(), y.data<T>(), prm.countIncludePad);
        else if (fast) sumPoolFast<T>(g, x.data<T>(), y.data<T>(), prm);
        else sumPoolReference<T>(g, x.data<T>(), y.data<T>(), prm);
    };
    switch (x.dtype()) {
    case DType::F32: run(float{}); break;
    case DType::F64: run(double{}); break;
    default: kernelFail(node, "unsupported dtype " + std::string(ir::dtypeName(x.dtype())));
    }
    if (half) narrowHalf(y, ctx.allocate(0, input.dtype(), g.outShape));
}

// ---- Global pools -----------------------------------------------------------------------------

enum class GlobalKind { Average, Max, Lp };

void runGlobalPool(KernelContext& ctx, GlobalKind kind) {
    const Tensor& input = ctx.input(0);
    const bool half = isHalfType(input.dtype());
    const Tensor x = half ? widenHalf(input) : input;
    const ir::Node& node = ctx.node();
    if (x.rank() < 2) kernelFail(node, "input must be [N, C, ...]");
    Shape outShape = x.shape();
    int64_t plane = 1;
    for (int d = 2; d < x.rank(); ++d) {
        plane *= outShape[d];
        outShape[d] = 1;
    }
    const double p = kind == GlobalKind::Lp ? lpNorm(node) : 2.0;
    Tensor halfResult;
    Tensor& y = half ? (halfResult = Tensor(DType::F32, outShape)) : ctx.allocate(0, x.dtype(), outShape);
    const int64_t planes = x.dim(0) * x.dim(1);
    if (plane == 0 && kind == GlobalKind::Max && planes > 0) kernelFail(node, "empty spatial extent");
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        using Vec = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
        const T* in = x.data<T>();
        T* out = y.data<T>();
        parallelFor(
            planes,
            [&](int64_t b, int64_t e) {
                for (int64_t pl = b; pl < e; ++pl) {
                    Vec v(in + pl * plane, plane);
                    switch (kind) {
                    case GlobalKind::Average: out[pl] = plane ? v.sum() / static_cast<T>(plane) : T(0); break;
                    case GlobalKind::Max: out[pl] = v.maxCoeff(); break;
                    case GlobalKind::Lp:
                        out[pl] = p == 2.0 ? std::sqrt(v.square().sum())
                                           : static_cast<T>(std::pow(static_cast<double>(v.abs().pow(T(p)).sum()),
                                                                     1.0 / p));
                        break;
                    }
                }
            },
            plane);
    });
    if (half) narrowHalf(y, ctx.allocate(0, input.dtype(), outShape));
}

/// GlobalAveragePool / GlobalMaxPool that also read channels-last fp32 [N, C, H, W] (NHWC bytes):
/// out[n, c] = mean or max over the H*W rows of C contiguous values, so the graph plan need not
/// convert EfficientNet's squeeze-excitation inputs back to nchw. The [N, C, 1, 1] result has the
/// same bytes in both layouts.
class GlobalPoolKernel final : public Kernel, public ChannelsLastKernel {
public:
    explicit GlobalPoolKernel(GlobalKind kind) : m_kind(kind) {}
    std::string_view path() const override { return "eigen"; }
    void run(KernelContext& ctx) override { runGlobalPool(ctx, m_kind); }
    bool supportsChannelsLast(const KernelContext& ctx) const override {
        const Tensor& x = ctx.input(0);
        return x.dtype() == DType::F32 && x.rank() == 4 && x.dim(2) * x.dim(3) > 0;
    }
    void runWithLayout(KernelContext& ctx, ActivationLayout in, ActivationLayout out) override {
        (void)out; // [N, C, 1, 1]: both layouts are the same bytes
        if (in == ActivationLayout::Plain) return run(ctx);
        const Tensor& x = ctx.input(0);
        const int64_t N = x.dim(0), C = x.dim(1), plane = x.dim(2) * x.dim(3);
        Tensor& y = ctx.allocate(0, DType::F32, {N, C, 1, 1});
        using Row = Eigen::Map<const Eigen::ArrayXf>;
        for (int64_t n = 0; n < N; ++n) {
            const float* xn = x.data<float>() + n * plane * C;
            Eigen::Map<Eigen::ArrayXf> acc(y.data<float>() + n * C, C);
            acc = Row(xn, C);
            for (int64_t p = 1; p < plane; ++p) {
                if (m_kind == GlobalKind::Max) acc = acc.max(Row(xn + p * C, C));
                else acc += Row(xn + p * C, C);
            }
            if (m_kind == GlobalKind::Average) acc *= 1.f / static_cast<float>(plane);
        }
    }

private:
    GlobalKind m_kind;
};

KernelFactory globalPoolFactory(GlobalKind kind) {
    return [kind](const KernelInit&) -> std::unique_ptr<Kernel> { return std::make_unique<GlobalPoolKernel>(kind); };
}

// ---- MaxUnpool --------------------------------------------------------------------------------

void runMaxUnpool(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const ir::Node& node = ctx.node();
    if (x.rank() < 3) kernelFail(node, "input must be [N, C, D1, ...]");
    if (ind.shape() != x.shape()) kernelFail(node, "indices must have the shape of X");
    const size_t k = static_cast<size_t>(x.rank() - 2);
    const std::vector<int64_t> kernel = node.attrInts("kernel_shape");
    if (kernel.size() != k) kernelFail(node, "kernel_shape must have one entry per spatial dim");
    const std::vector<int64_t> strides = intsOr(node, "strides", k, 1);
    const std::vector<int64_t> pads = intsOr(node, "pads", 2 * k, 0);
    if (strides.size() != k || pads.size() != 2 * k) kernelFail(node, "strides/pads do not match the spatial dims");
    // Indices address the unpooled shape given by the inverse of the pooling size formula,
    // out = (in - 1) * s - (pb + pe) + K. An explicit output_shape only pads that result with zeros
    // at the end of each dim (as the ONNX reference does).
    Shape inferred = {x.dim(0), x.dim(1)};
    for (size_t i = 0; i < k; ++i) inferred.push_back((x.dim(2 + i) - 1) * strides[i] - pads[i] - pads[i + k] + kernel[i]);
    for (int64_t d : inferred)
        if (d < 0) kernelFail(node, "negative output dimension");
    Shape outShape = inferred;
    if (ctx.hasInput(2)) {
        outShape = ctx.input(2).toInt64s();
        if (outShape.size() != inferred.size()) kernelFail(node, "output_shape has the wrong rank");
        for (size_t d = 0; d < outShape.size(); ++d)
            if (outShape[d] < inferred[d]) kernelFail(node, "output_shape smaller than the unpooled shape");
    }
    const size_t esize = ir::dtypeSize(x.dtype());
    if (esize == 0) kernelFail(node, "unsupported dtype");
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    std::memset(y.raw(), 0, y.byteSize());
    const int64_t total = ir::shapeNumel(inferred);
    const Shape inferredStrides = stridesOf(inferred);
    const Shape outStrides = stridesOf(outShape);
    const std::vector<int64_t> idx = ind.toInt64s();
    const auto* src = static_cast<const uint8_t*>(x.raw());
    auto* dst = static_cast<uint8_t*>(y.raw());
    for (size_t i = 0; i < idx.size(); ++i) {
        if (idx[i] < 0 || idx[i] >= total) kernelFail(node, "index " + std::to_string(idx[i]) + " outside the output");
        // Re-address the flat index from the inferred shape into the (possibly larger) output.
        int64_t rest = idx[i], o = 0;
        for (size_t d = 0; d < inferred.size(); ++d) {
            o += (rest / inferredStrides[d]) * outStrides[d];
            rest %= inferredStrides[d];
        }
        std::memcpy(dst + o * esize, src + i * esize, esize);
    }
}

} // namespace

void registerPoolKernels(KernelRegistry& r) {
    r.add({"MaxPool", 1, kLatestOpset, ""},
          [](const KernelInit&) -> std::unique_ptr<Kernel> { return std::make_unique<MaxPoolKernel>(); },
          fn([](KernelContext& ctx) { runMaxPool(ctx, false); }));
    r.add({"AveragePool", 1, kLatestOpset, ""},
          fn([](KernelContext& ctx) { runSumPool(ctx, SumPool::Average, true); }, "eigen"),
          fn([](KernelContext& ctx) { runSumPool(ctx, SumPool::Average, false); }));
    r.add({"LpPool", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runSumPool(ctx, SumPool::Lp, true); }, "eigen"),
          fn([](KernelContext& ctx) { runSumPool(ctx, SumPool::Lp, false); }));
    r.add({"GlobalAveragePool", 1, kLatestOpset, ""}, globalPoolFactory(GlobalKind::Average));
    r.add({"GlobalMaxPool", 1, kLatestOpset, ""}, globalPoolFactory(GlobalKind::Max));
    r.add({"GlobalLpPool", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runGlobalPool(ctx, GlobalKind::Lp); }, "eigen"));
    r.add({"MaxUnpool", 9, kLatestOpset, ""}, fn([](KernelContext& ctx) { runMaxUnpool(ctx); }));
}

} // namespace opstudio::rt
