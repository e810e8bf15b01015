// Resize (opsets 10, 11, 13+) and Upsample (opsets 7-9): nearest, N-d linear and cubic
// interpolation with every coordinate_transformation_mode of opset 13.
//
// Interpolation is separable: each output element is a tensor product of per-dimension taps
//   y[o_0, ..., o_n] = sum over t_0..t_n of  prod_d w_d(o_d, t_d) * x[i_0(o_0, t_0), ..., i_n(o_n, t_n)]
// so each dimension gets a tap table (indices + weights) computed once per run.
// The reference path evaluates that sum per output element; the fast path applies the tables one
// dimension at a time (a 1-D resize over a [outer, n, inner] view with a vectorisable inner loop),
// skipping dimensions whose table is the identity, and nearest mode is a pure index gather.
#include "runtime/kernels/kernel_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace opstudio::rt {

namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Coord { HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNN, TfCropAndResize };
// Simple: floor when upsampling and ceil when downsampling (Resize-10 and Upsample, as ONNX Runtime).
enum class Nearest { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Simple };

struct Params {
    Mode mode = Mode::Nearest;
    Coord coord = Coord::HalfPixel;
    Nearest nearest = Nearest::RoundPreferFloor;
    double cubicA = -0.75;
    bool excludeOutside = false;
    double extrapolation = 0.0;
};

// Taps of one dimension: `n` (index, weight) pairs per output coordinate; `outside` marks output
// coordinates that map outside the input in tf_crop_and_resize (they take the extrapolation value).
struct Taps {
    int n = 1;
    std::vector<int64_t> index;
    std::vector<double> weight;
    std::vector<uint8_t> outside;
    bool identity = false;
};

// Keys cubic convolution weights for the 4 samples at offsets -1, 0, 1, 2 from floor(x), t = x - floor(x).
void cubicWeights(double t, double a, double w[4]) {
    auto near = [a](double s) { return ((a + 2) * s - (a + 3)) * s * s + 1; };         // |s| <= 1
    auto far = [a](double s) { return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a; };     // 1 < |s| < 2
    w[0] = far(t + 1);
    w[1] = near(t);
    w[2] = near(1 - t);
    w[3] = far(2 - t);
}

Taps makeTaps(const Params& p, int64_t inLen, int64_t outLen, double scale, double roiStart, double roiEnd) {
    Taps taps;
    taps.n = p.mode == Mode::Nearest ? 1 : p.mode == Mode::Linear ? 2 : 4;
    taps.index.resize(outLen * taps.n);
    taps.weight.resize(outLen * taps.n);
    taps.outside.assign(outLen, 0);
    // As the ONNX reference does, the "resized length" in the formulas is scale * inLen, which
    // is not an integer when scales (not sizes) are given.
    const double outWidth = scale * static_cast<double>(inLen);
    for (int64_t o = 0; o < outLen; ++o) {
        const double xr = static_cast<double>(o);
        double x = 0;
        switch (p.coord) {
        case Coord::HalfPixel: x = (xr + 0.5) / scale - 0.5; break;
        case Coord::PytorchHalfPixel: x = outLen > 1 ? (xr + 0.5) / scale - 0.5 : 0.0; break;
        case Coord::AlignCorners: x = outWidth == 1 ? 0.0 : xr * (inLen - 1) / (outWidth - 1); break;
        case Coord::Asymmetric: x = xr / scale; break;
        case Coord::TfHalfPixelForNN: x = (xr + 0.5) / scale; break;
        case Coord::TfCropAndResize:
            x = outWidth == 1 ? (roiEnd - roiStart) * (inLen - 1) / 2
                              : xr * (roiEnd - roiStart) * (inLen - 1) / (outWidth - 1);
            x += roiStart * (inLen - 1);
            if (x < 0 || x > inLen - 1) taps.outside[o] = 1;
            break;
        }
        // Far-outside (or NaN, from a hostile roi) coordinates only ever select border samples;
        // bounding them keeps the integer index arithmetic below from overflowing.
        x = std::isnan(x) ? 0.0 : std::clamp(x, -4.0, static_cast<double>(inLen) + 4.0);
        int64_t* idx = &taps.index[o * taps.n];
        double* w = &taps.weight[o * taps.n];
        const double fl = std::floor(x);
        const double t = x - fl;
        const int64_t i0 = static_cast<int64_t>(fl);
        if (p.mode == Mode::Nearest) {
            int64_t i = i0;
            if (t != 0) {
                switch (p.nearest) {
                case Nearest::RoundPreferFloor: i = t <= 0.5 ? i0 : i0 + 1; break;
                case Nearest::RoundPreferCeil: i = t < 0.5 ? i0 : i0 + 1; break;
                case Nearest::Floor: i = i0; break;
                case Nearest::Ceil: i = i0 + 1; break;
                case Nearest::Simple: i = scale < 1 ? i0 + 1 : i0; break;
                }
            }
            idx[0] = i;
            w[0] = 1;
        } else if (p.mode == Mode::Linear) {
            idx[0] = i0;
            idx[1] = i0 + 1;
            w[0] = 1 - t;
            w[1] = t;
        } else {
            cubicWeights(t, p.cubicA, w);
            for (int k = 0; k < 4; ++k) idx[k] = i0 - 1 + k;
        }
        // exclude_outside: samples outside the input get weight 0 and the rest are renormalised;
        // otherwise they repeat the border sample (edge padding).
        if (p.excludeOutside && taps.n > 1) {
            double sum = 0;
            for (int k = 0; k < taps.n; ++k) {
                if (idx[k] < 0 || idx[k] >= inLen) w[k] = 0;
                sum += w[k];
            }
            if (sum != 0)
                for (int k = 0; k < taps.n; ++k) w[k] /= sum;
        }
        for (int k = 0; k < taps.n; ++k) idx[k] = std::clamp<int64_t>(idx[k], 0, std::max<int64_t>(inLen - 1, 0));
    }
    // Identity: same length and every output takes exactly its own input sample.
    taps.identity = inLen == outLen;
    for (int64_t o = 0; o < outLen && taps.identity; ++o) {
        if (taps.outside[o]) taps.identity = false;
        for (int k = 0; k < taps.n; ++k) {
            const double w = taps.weight[o * taps.n + k];
            if (w != 0 && !(w == 1 && taps.index[o * taps.n + k] == o)) taps.identity = false;
        }
    }
    return taps;
}

// ---------------------------------------------------------------------------------------------
// Element conversion for linear/cubic (computed in float, or double for float64 tensors).

template <typename T> std::vector<T> loadValues(const ir::Node& node, const Tensor& x) {
    const int64_t n = x.numel();
    std::vector<T> v(n);
    switch (x.dtype()) {
    case DType::F16:
        for (int64_t i = 0; i < n; ++i) v[i] = ir::halfToFloat(x.data<uint16_t>()[i]);
        break;
    case DType::BF16:
        for (int64_t i = 0; i < n; ++i) v[i] = ir::bfloat16ToFloat(x.data<uint16_t>()[i]);
        break;
    case DType::Bool:
    case DType::String: kernelFail(node, "Resize: linear/cubic modes need a numeric dtype");
    default:
        try {
            dispatchNumeric(x.dtype(), [&](auto tag) {
                using S = decltype(tag);
                const S* p = x.data<S>();
                for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(p[i]);
            });
        } catch (const Error& e) {
            kernelFail(node, e.what());
        }
    }
    return v;
}

template <typename T> void storeValues(const std::vector<T>& v, Tensor& y) {
    const int64_t n = y.numel();
    switch (y.dtype()) {
    case DType::F16:
        for (int64_t i = 0; i < n; ++i) y.data<uint16_t>()[i] = ir::floatToHalf(static_cast<float>(v[i]));
        return;
    case DType::BF16:
        for (int64_t i = 0; i < n; ++i) y.data<uint16_t>()[i] = ir::floatToBfloat16(static_cast<float>(v[i]));
        return;
    default:
        dispatchNumeric(y.dtype(), [&](auto tag) {
            using S = decltype(tag);
            S* p = y.data<S>();
            for (int64_t i = 0; i < n; ++i) {
                if constexpr (std::is_floating_point_v<S>) {
                    p[i] = static_cast<S>(v[i]);
                } else {
                    // Integers round to nearest and saturate.
                    const double r = std::nearbyint(static_cast<double>(v[i]));
                    const double lo = static_cast<double>(std::numeric_limits<S>::lowest());
                    const double hi = static_cast<double>(std::numeric_limits<S>::max());
                    p[i] = std::isnan(r) ? S{} : r <= lo ? std::numeric_limits<S>::lowest()
                                                : r >= hi ? std::numeric_limits<S>::max()
                                                          : static_cast<S>(r);
                }
            }
        });
    }
}

// Extrapolation value as one element of the tensor's dtype (for nearest's byte gather).
Tensor extrapolationElement(DType dt, double v) {
    Tensor t(dt, {});
    switch (dt) {
    case DType::String: t.strings()[0] = ""; break;
    case DType::F16: *t.data<uint16_t>() = ir::floatToHalf(static_cast<float>(v)); break;
    case DType::BF16: *t.data<uint16_t>() = ir::floatToBfloat16(static_cast<float>(v)); break;
    case DType::C64:
    case DType::C128: std::memset(t.raw(), 0, t.byteSize()); break;
    default:
        dispatchNumeric(dt, [&](auto tag) {
            using S = decltype(tag);
            *t.data<S>() = static_cast<S>(v);
        });
    }
    return t;
}

void copyElem(const Tensor& src, int64_t s, Tensor& dst, int64_t d) {
    if (src.dtype() == DType::String) {
        dst.strings()[d] = src.strings()[s];
        return;
    }
    const size_t es = ir::dtypeSize(src.dtype());
    std::memcpy(static_cast<uint8_t*>(dst.raw()) + d * es, static_cast<const uint8_t*>(src.raw()) + s * es, es);
}

// ---------------------------------------------------------------------------------------------

// Nearest: y[o] = x[idx_0(o_0), ..., idx_n(o_n)] or the extrapolation value.
void nearestReference(const Tensor& x, const std::vector<Taps>& taps, const Tensor& extra, Tensor& y) {
    const Shape& outShape = y.shape();
    const Shape inStrides = stridesOf(x.shape());
    const int rank = x.rank();
    std::vector<int64_t> pos(rank, 0);
    for (int64_t i = 0; i < y.numel(); ++i) {
        int64_t off = 0;
        bool outside = false;
        for (int d = 0; d < rank; ++d) {
            outside |= taps[d].outside[pos[d]] != 0;
            off += taps[d].index[pos[d]] * inStrides[d];
        }
        if (outside) copyElem(extra, 0, y, i);
        else copyElem(x, off, y, i);
        for (int d = rank - 1; d >= 0; --d) {
            if (++pos[d] < outShape[d]) break;
            pos[d] = 0;
        }
    }
}

template <typename E> void nearestRows(const Tensor& x, const std::vector<Taps>& taps, const Tensor& extra, Tensor& y) {
    const Shape& outShape = y.shape();
    const Shape inStrides = stridesOf(x.shape());
    const int rank = x.rank();
    const int64_t inner = outShape.back();
    const int64_t rows = y.numel() / inner;
    const E* src = static_cast<const E*>(x.raw());
    E* dst = static_cast<E*>(y.raw());
    E fill;
    std::memcpy(&fill, extra.raw(), sizeof(E));
    const Taps& last = taps.back();
    parallelFor(
        rows,
        [&](int64_t begin, int64_t end) {
            std::vector<int64_t> pos(rank, 0);
            for (int64_t r = begin, d = rank - 2; d >= 0; --d) {
                pos[d] = r % outShape[d];
                r /= outShape[d];
            }
            for (int64_t row = begin; row < end; ++row) {
                int64_t off = 0;
                bool outside = false;
                for (int d = 0; d < rank - 1; ++d) {
                    outside |= taps[d].outside[pos[d]] != 0;
                    off += taps[d].index[pos[d]] * inStrides[d];
                }
                E* o = dst + row * inner;
                if (outside) std::fill(o, o + inner, fill);
                else
                    for (int64_t k = 0; k < inner; ++k) o[k] = last.outside[k] ? fill : src[off + last.index[k]];
                for (int d = rank - 2; d >= 0; --d) {
                    if (++pos[d] < outShape[d]) break;
                    pos[d] = 0;
                }
            }
        },
        inner);
}

void nearestFast(const Tensor& x, const std::vector<Taps>& taps, const Tensor& extra, Tensor& y) {
    switch (x.dtype() == DType::String ? 0 : ir::dtypeSize(x.dtype())) {
    case 1: return nearestRows<uint8_t>(x, taps, extra, y);
    case 2: return nearestRows<uint16_t>(x, taps, extra, y);
    case 4: return nearestRows<uint32_t>(x, taps, extra, y);
    case 8: return nearestRows<uint64_t>(x, taps, extra, y);
    default: return nearestReference(x, taps, extra, y);
    }
}

// Linear/cubic reference: the full tensor-product sum per output element.
template <typename T>
std::vector<T> interpolateReference(const std::vector<T>& in, const Shape& inShape, const std::vector<Taps>& taps,
                                    const Shape& outShape, double extrapolation) {
    const int rank = static_cast<int>(inShape.size());
    const Shape inStrides = stridesOf(inShape);
    std::vector<T> out(ir::shapeNumel(outShape));
    std::vector<int64_t> pos(rank, 0), tap(rank, 0);
    for (size_t i = 0; i < out.size(); ++i) {
        bool outside = false;
        for (int d = 0; d < rank; ++d) outside |= taps[d].outside[pos[d]] != 0;
        double acc = 0;
        if (!outside) {
            std::fill(tap.begin(), tap.end(), 0);
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < rank; ++d) {
                    const int64_t k = pos[d] * taps[d].n + tap[d];
                    w *= taps[d].weight[k];
                    off += taps[d].index[k] * inStrides[d];
                }
                acc += w * static_cast<double>(in[off]);
                int d = rank - 1;
                for (; d >= 0; --d) {
                    if (++tap[d] < taps[d].n) break;
                    tap[d] = 0;
                }
                if (d < 0) break;
            }
        }
        out[i] = static_cast<T>(outside ? extrapolation : acc);
        for (int d = rank - 1; d >= 0; --d) {
            if (++pos[d] < outShape[d]) break;
            pos[d] = 0;
        }
    }
    return out;
}

// Linear/cubic fast path: one 1-D pass per resized dimension over a [outer, n, inner] view;
// out-of-range rows (tf_crop_and_resize) are filled with the extrapolation value, and later
// passes keep it because each pass's weights sum to 1.
template <typename T>
std::vector<T> interpolateSeparable(std::vector<T> cur, Shape curShape, const std::vector<Taps>& taps,
                                    const Shape& outShape, double extrapolation) {
    const int rank = static_cast<int>(curShape.size());
    // Resize the innermost dims first: their pass has the smallest inner extent.
    for (int d = rank - 1; d >= 0; --d) {
        const Taps& tp = taps[d];
        if (tp.identity) continue;
        int64_t outer = 1, inner = 1;
        for (int k = 0; k < d; ++k) outer *= curShape[k];
        for (int k = d + 1; k < rank; ++k) inner *= curShape[k];
        const int64_t nIn = curShape[d], nOut = outShape[d];
        std::vector<T> next(static_cast<size_t>(outer * nOut * inner));
        const T fill = static_cast<T>(extrapolation);
        parallelFor(
            outer * nOut,
            [&](int64_t begin, int64_t end) {
                std::vector<T> w(tp.n);
                for (int64_t row = begin; row < end; ++row) {
                    const int64_t o = row / nOut, j = row % nOut;
                    T* dst = next.data() + row * inner;
                    if (tp.outside[j]) {
                        std::fill(dst, dst + inner, fill);
                        continue;
                    }
                    for (int k = 0; k < tp.n; ++k) w[k] = static_cast<T>(tp.weight[j * tp.n + k]);
                    const T* s0 = cur.data() + (o * nIn + tp.index[j * tp.n]) * inner;
                    for (int64_t i = 0; i < inner; ++i) dst[i] = w[0] * s0[i];
                    for (int k = 1; k < tp.n; ++k) {
                        const T* s = cur.data() + (o * nIn + tp.index[j * tp.n + k]) * inner;
                        const T wk = w[k];
                        for (int64_t i = 0; i < inner; ++i) dst[i] += wk * s[i];
                    }
                }
            },
            inner * tp.n);
        cur = std::move(next);
        curShape[d] = nOut;
    }
    return cur;
}

template <typename T>
void interpolate(const ir::Node& node, const Tensor& x, const std::vector<Taps>& taps, double extrapolation,
                 Tensor& y, bool reference) {
    std::vector<T> in = loadValues<T>(node, x);
    std::vector<T> out = reference ? interpolateReference<T>(in, x.shape(), taps, y.shape(), extrapolation)
                                   : interpolateSeparable<T>(std::move(in), x.shape(), taps, y.shape(), extrapolation);
    storeValues<T>(out, y);
}

// Shared by Resize and Upsample once scales/sizes are known.
void resizeWith(KernelContext& ctx, const Params& p, std::vector<double> scales, Shape sizes, std::vector<double> roi,
                bool reference) {
    const Tensor& x = ctx.input(0);
    const int rank = x.rank();
    if (rank == 0) kernelFail(ctx.node(), "Resize: scalar input");
    if (!sizes.empty()) {
        if (static_cast<int>(sizes.size()) != rank) kernelFail(ctx.node(), "Resize: sizes length differs from rank");
        scales.resize(rank);
        for (int d = 0; d < rank; ++d) {
            if (sizes[d] < 0) kernelFail(ctx.node(), "Resize: negative size");
            // With sizes, the coordinate maps use scale = out / in.
            scales[d] = x.dim(d) == 0 ? 1.0 : static_cast<double>(sizes[d]) / static_cast<double>(x.dim(d));
        }
    } else {
        if (static_cast<int>(scales.size()) != rank) kernelFail(ctx.node(), "Resize: scales length differs from rank");
        sizes.resize(rank);
        for (int d = 0; d < rank; ++d) {
            if (!(scales[d] > 0) || !std::isfinite(scales[d])) kernelFail(ctx.node(), "Resize: scales must be > 0");
            // out = floor(in * scale), multiplied in float like the scales tensor itself.
            const double len = std::floor(static_cast<float>(scales[d]) * static_cast<float>(x.dim(d)));
            if (len > double(int64_t{1} << 40)) kernelFail(ctx.node(), "Resize: output too large");
            sizes[d] = static_cast<int64_t>(len);
        }
    }
    int64_t total = 1;
    for (int64_t s : sizes) {
        if (s != 0 && total > (int64_t{1} << 40) / s) kernelFail(ctx.node(), "Resize: output too large");
        total *= s;
    }
    if (p.coord == Coord::TfCropAndResize) {
        if (roi.empty()) {
            roi.assign(2 * rank, 0.0);
            std::fill(roi.begin() + rank, roi.end(), 1.0);
        }
        if (static_cast<int>(roi.size()) != 2 * rank) kernelFail(ctx.node(), "Resize: roi must have 2 * rank values");
    }
    Tensor& y = ctx.allocate(0, x.dtype(), sizes);
    if (y.numel() == 0) return;
    if (x.numel() == 0) kernelFail(ctx.node(), "Resize: cannot resize an empty input to a non-empty output");
    std::vector<Taps> taps(rank);
    for (int d = 0; d < rank; ++d) {
        const double rs = roi.empty() ? 0.0 : roi[d], re = roi.empty() ? 1.0 : roi[d + rank];
        taps[d] = makeTaps(p, x.dim(d), sizes[d], scales[d], rs, re);
    }
    if (p.mode == Mode::Nearest) {
        const Tensor extra = extrapolationElement(x.dtype(), p.extrapolation);
        if (reference) nearestReference(x, taps, extra, y);
        else nearestFast(x, taps, extra, y);
        return;
    }
    if (x.dtype() == DType::F64) interpolate<double>(ctx.node(), x, taps, p.extrapolation, y, reference);
    else interpolate<float>(ctx.node(), x, taps, p.extrapolation, y, reference);
}

Mode parseMode(const ir::Node& node) {
    const std::string m = node.attrString("mode", "nearest");
    if (m == "nearest") return Mode::Nearest;
    if (m == "linear" || m == "bilinear") return Mode::Linear;
    if (m == "cubic") return Mode::Cubic;
    kernelFail(node, "Resize: unsupported mode '" + m + "'");
}

// An optional float/int input as doubles; absent or empty means "not given".
std::vector<double> optionalDoubles(KernelContext& ctx, size_t i) {
    if (!ctx.hasInput(i) || ctx.input(i).numel() == 0) return {};
    return ctx.input(i).toDoubles();
}

void resizeKernel(KernelContext& ctx, int64_t opset, bool reference) {
    const ir::Node& node = ctx.node();
    Params p;
    p.mode = parseMode(node);
    if (opset < 11) {
        // Resize-10 behaves like Upsample: asymmetric coordinates.
        p.coord = Coord::Asymmetric;
        p.nearest = Nearest::Simple;
        const auto scales = optionalDoubles(ctx, 1);
        if (scales.empty()) kernelFail(node, "Resize: scales input is required at opset 10");
        return resizeWith(ctx, p, scales, {}, {}, reference);
    }
    if (node.attrInt("antialias", 0) != 0 || node.hasAttr("axes") ||
        node.attrString("keep_aspect_ratio_policy", "stretch") != "stretch")
        kernelFail(node, "Resize: antialias, axes and keep_aspect_ratio_policy (opset 18) are not supported");
    const std::string coord = node.attrString("coordinate_transformation_mode", "half_pixel");
    if (coord == "half_pixel") p.coord = Coord::HalfPixel;
    else if (coord == "pytorch_half_pixel") p.coord = Coord::PytorchHalfPixel;
    else if (coord == "align_corners") p.coord = Coord::AlignCorners;
    else if (coord == "asymmetric") p.coord = Coord::Asymmetric;
    else if (coord == "tf_half_pixel_for_nn") p.coord = Coord::TfHalfPixelForNN;
    else if (coord == "tf_crop_and_resize") p.coord = Coord::TfCropAndResize;
    else kernelFail(node, "Resize: unsupported coordinate_transformation_mode '" + coord + "'");
    const std::string nearest = node.attrString("nearest_mode", "round_prefer_floor");
    if (nearest == "round_prefer_floor") p.nearest = Nearest::RoundPreferFloor;
    else if (nearest == "round_prefer_ceil") p.nearest = Nearest::RoundPreferCeil;
    else if (nearest == "floor") p.nearest = Nearest::Floor;
    else if (nearest == "ceil") p.nearest = Nearest::Ceil;
    else kernelFail(node, "Resize: unsupported nearest_mode '" + nearest + "'");
    p.cubicA = node.attrFloat("cubic_coeff_a", -0.75f);
    p.excludeOutside = node.attrInt("exclude_outside", 0) != 0;
    p.extrapolation = node.attrFloat("extrapolation_value", 0.f);
    const auto roi = optionalDoubles(ctx, 1);
    const auto scales = optionalDoubles(ctx, 2);
    Shape sizes;
    if (ctx.hasInput(3) && ctx.input(3).numel() > 0) sizes = ctx.input(3).toInt64s();
    if (scales.empty() == sizes.empty()) kernelFail(node, "Resize: exactly one of scales and sizes must be given");
    resizeWith(ctx, p, scales, sizes, roi, reference);
}

void upsampleKernel(KernelContext& ctx, int64_t opset, bool reference) {
    Params p;
    p.mode = parseMode(ctx.node());
    p.coord = Coord::Asymmetric;
    p.nearest = Nearest::Simple;
    std::vector<double> scales;
    if (opset >= 9) {
        scales = optionalDoubles(ctx, 1);
    } else {
        for (float s : ctx.node().attrFloats("scales")) scales.push_back(s);
    }
    if (scales.empty()) kernelFail(ctx.node(), "Upsample: scales are required");
    resizeWith(ctx, p, scales, {}, {}, reference);
}

using OpsetKernelFn = void (*)(KernelContext&, int64_t opset, bool reference);

KernelFactory factory(OpsetKernelFn f, bool reference) {
    return [f, reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const int64_t opset = init.opset;
        return std::make_unique<FunctionKernel>([f, opset, reference](KernelContext& ctx) { f(ctx, opset, reference); },
                                                reference ? "reference" : "eigen");
    };
}

} // namespace

void registerResizeKernels(KernelRegistry& r) {
    r.add({"Resize", 10, kLatestOpset, ""}, factory(resizeKernel, false), factory(resizeKernel, true));
    r.add({"Upsample", 7, 9, ""}, factory(upsampleKernel, false), factory(upsampleKernel, true));
}

} // namespace opstudio::rt
