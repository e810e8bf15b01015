// Detection operators: NonMaxSuppression, RoiAlign, GridSample.
//
// NonMaxSuppression and RoiAlign follow ONNX Runtime's CPU kernels (the ONNX test outputs come from
// them); GridSample follows torch.nn.functional.grid_sample, which the ONNX spec mirrors.
#include "runtime/kernels/kernel_util.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace opstudio::rt {
namespace {

// ---------------------------------------------------------------------------------------------
// NonMaxSuppression. boxes [B, N, 4], scores [B, C, N]. Per (batch, class): candidates with
// score > score_threshold, highest score first (lower index first on ties); a candidate is kept
// when its IoU with every box kept so far is <= iou_threshold, until max_output_boxes_per_class.
// Output [K, 3] rows (batch, class, box) in batch, class, selection order.

struct Corners {
    double y1, x1, y2, x2;
};

Corners cornersOf(const float* b, bool centerPointBox) {
    if (centerPointBox) {
        // [x_center, y_center, width, height]
        const double xc = b[0], yc = b[1], w = b[2], h = b[3];
        return {yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2};
    }
    // [y1, x1, y2, x2] with the diagonal given either way round.
    return {std::min<double>(b[0], b[2]), std::min<double>(b[1], b[3]), std::max<double>(b[0], b[2]),
            std::max<double>(b[1], b[3])};
}

/// IoU = |A ∩ B| / (|A| + |B| - |A ∩ B|); 0 for degenerate boxes.
double iou(const Corners& a, const Corners& b) {
    const double areaA = (a.y2 - a.y1) * (a.x2 - a.x1), areaB = (b.y2 - b.y1) * (b.x2 - b.x1);
    if (areaA <= 0 || areaB <= 0) return 0.0;
    const double ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    const double iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    if (ih <= 0 || iw <= 0) return 0.0;
    const double inter = ih * iw;
    return inter / (areaA + areaB - inter);
}

void runNonMaxSuppression(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& boxes = ctx.input(0);
    const Tensor& scores = ctx.input(1);
    if (boxes.dtype() != DType::F32 || scores.dtype() != DType::F32)
        kernelFail(node, "boxes and scores must be float");
    if (boxes.rank() != 3 || boxes.dim(2) != 4) kernelFail(node, "boxes must have shape [B, N, 4]");
    if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1))
        kernelFail(node, "scores must have shape [B, C, N] matching boxes");
    const bool centerPointBox = node.attrInt("center_point_box", 0) != 0;
    auto scalarOf = [&](size_t i, double fallback) {
        if (!ctx.hasInput(i) || ctx.input(i).numel() == 0) return fallback;
        return ctx.input(i).toDoubles()[0];
    };
    const double maxOut = scalarOf(2, 0.0);
    const double iouThreshold = scalarOf(3, 0.0);
    const bool hasScoreThreshold = ctx.hasInput(4) && ctx.input(4).numel() > 0;
    const double scoreThreshold = scalarOf(4, 0.0);
    if (iouThreshold < 0.0 || iouThreshold > 1.0) kernelFail(node, "iou_threshold must be in [0, 1]");

    const int64_t batches = boxes.dim(0), classes = scores.dim(1), n = boxes.dim(1);
    const int64_t limit =
        maxOut <= 0 ? 0 : static_cast<int64_t>(std::min<double>(maxOut, static_cast<double>(n)));
    std::vector<int64_t> selected; // flattened (batch, class, box) triples
    std::vector<int64_t> candidates;
    std::vector<Corners> kept;
    for (int64_t b = 0; b < batches && limit > 0; ++b) {
        std::vector<Corners> corners(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i)
            corners[static_cast<size_t>(i)] =
                cornersOf(boxes.data<float>() + (b * n + i) * 4, centerPointBox);
        for (int64_t c = 0; c < classes; ++c) {
            const float* s = scores.data<float>() + (b * classes + c) * n;
            candidates.clear();
            for (int64_t i = 0; i < n; ++i)
                // NaN scores are never selected (they would also break the sort's ordering).
                if (!std::isnan(s[i]) && (!hasScoreThreshold || s[i] > scoreThreshold))
                    candidates.push_back(i);
            std::stable_sort(candidates.begin(), candidates.end(),
                             [&](int64_t x, int64_t y) { return s[x] > s[y]; });
            kept.clear();
            for (int64_t i : candidates) {
                if (static_cast<int64_t>(kept.size()) >= limit) break;
                const Corners& box = corners[static_cast<size_t>(i)];
                bool keep = true;
                for (const Corners& k : kept)
                    if (iou(box, k) > iouThreshold) {
                        keep = false;
                        break;
                    }
                if (!keep) continue;
                kept.push_back(box);
                selected.insert(selected.end(), {b, c, i});
            }
        }
    }
    const int64_t k = static_cast<int64_t>(selected.size() / 3);
    int64_t* out = ctx.allocate(0, DType::I64, {k, 3}).data<int64_t>();
    std::copy(selected.begin(), selected.end(), out);
}

// ---------------------------------------------------------------------------------------------
// RoiAlign. X [N, C, H, W], rois [R, 4] as (x1, y1, x2, y2) in input coordinates * spatial_scale,
// batch_indices [R]. Each output bin averages (or maxes) a grid of bilinear samples:
//   bin (ph, pw) samples y = y1 + ph * binH + (iy + 0.5) * binH / gridH, likewise x.
// half_pixel shifts the roi by -0.5 pixel; output_half_pixel (the opset-10 behaviour) does not
// shift but forces rois to be at least 1x1.

struct BilinearTap {
    int64_t o1 = 0, o2 = 0, o3 = 0, o4 = 0;
    double w1 = 0, w2 = 0, w3 = 0, w4 = 0;
};

BilinearTap roiAlignTap(double y, double x, int64_t height, int64_t width) {
    BilinearTap t;
    if (y < -1.0 || y > static_cast<double>(height) || x < -1.0 || x > static_cast<double>(width))
        return t; // empty
    y = std::max(y, 0.0);
    x = std::max(x, 0.0);
    int64_t yLow = static_cast<int64_t>(y), xLow = static_cast<int64_t>(x), yHigh, xHigh;
    if (yLow >= height - 1) {
        yHigh = yLow = height - 1;
        y = static_cast<double>(yLow);
    } else {
        yHigh = yLow + 1;
    }
    if (xLow >= width - 1) {
        xHigh = xLow = width - 1;
        x = static_cast<double>(xLow);
    } else {
        xHigh = xLow + 1;
    }
    const double ly = y - static_cast<double>(yLow), lx = x - static_cast<double>(xLow), hy = 1 - ly,
                 hx = 1 - lx;
    t.o1 = yLow * width + xLow;
    t.o2 = yLow * width + xHigh;
    t.o3 = yHigh * width + xLow;
    t.o4 = yHigh * width + xHigh;
    t.w1 = hy * hx;
    t.w2 = hy * lx;
    t.w3 = ly * hx;
    t.w4 = ly * lx;
    return t;
}

/// Bound on bilinear samples per roi (a hostile roi would otherwise ask for billions).
constexpr double kMaxRoiAlignSamples = double(int64_t{1} << 26);

KernelFactory roiAlignFactory() {
    return [](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const ir::Node& node = init.node;
        const bool halfPixel = init.opset >= 16 && node.attrString("coordinate_transformation_mode",
                                                                   "half_pixel") == "half_pixel";
        const std::string mode = node.attrString("mode", "avg");
        if (mode != "avg" && mode != "max") throw Error("RoiAlign: unknown mode '" + mode + "'");
        const bool avg = mode == "avg";
        const int64_t outH = node.attrInt("output_height", 1), outW = node.attrInt("output_width", 1);
        const int64_t samplingRatio = node.attrInt("sampling_ratio", 0);
        const double scale = node.attrFloat("spatial_scale", 1.0f);
        if (outH <= 0 || outW <= 0) throw Error("RoiAlign: output size must be positive");
        if (samplingRatio > 0 && double(samplingRatio) * samplingRatio * outH * outW > kMaxRoiAlignSamples)
            throw Error("RoiAlign: sampling_ratio too large");
        return std::make_unique<FunctionKernel>([=](KernelContext& ctx) {
            const Tensor& x = ctx.input(0);
            const Tensor& rois = ctx.input(1);
            const std::vector<int64_t> batchIndex = ctx.input(2).toInt64s();
            if (x.rank() != 4) kernelFail(ctx.node(), "X must be [N, C, H, W]");
            if (rois.rank() != 2 || rois.dim(1) != 4) kernelFail(ctx.node(), "rois must be [R, 4]");
            if (rois.dtype() != x.dtype()) kernelFail(ctx.node(), "rois dtype must match X");
            const int64_t r = rois.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
            if (static_cast<int64_t>(batchIndex.size()) != r)
                kernelFail(ctx.node(), "batch_indices must be [R]");
            dispatchFloat(x.dtype(), [&](auto tag) {
                using T = decltype(tag);
                const T* in = x.data<T>();
                const T* roi = rois.data<T>();
                T* out = ctx.allocate(0, x.dtype(), {r, c, outH, outW}).template data<T>();
                const double offset = halfPixel ? 0.5 : 0.0;
                for (int64_t n = 0; n < r; ++n) {
                    const int64_t b = batchIndex[static_cast<size_t>(n)];
                    if (b < 0 || b >= x.dim(0))
                        kernelFail(ctx.node(), "batch index " + std::to_string(b) + " out of range");
                    const double x1 = roi[n * 4 + 0] * scale - offset, y1 = roi[n * 4 + 1] * scale - offset;
                    double roiW = roi[n * 4 + 2] * scale - offset - x1,
                           roiH = roi[n * 4 + 3] * scale - offset - y1;
                    if (!std::isfinite(x1) || !std::isfinite(y1) || !std::isfinite(roiW) ||
                        !std::isfinite(roiH))
                        kernelFail(ctx.node(), "rois must be finite");
                    if (!halfPixel) {
                        roiW = std::max(roiW, 1.0);
                        roiH = std::max(roiH, 1.0);
                    }
                    const double binH = roiH / static_cast<double>(outH),
                                 binW = roiW / static_cast<double>(outW);
                    // Adaptive grid: ceil(roi size / output size) samples per bin side.
                    const double adaptiveH = std::max(std::ceil(roiH / outH), 0.0);
                    const double adaptiveW = std::max(std::ceil(roiW / outW), 0.0);
                    if (samplingRatio <= 0 && adaptiveH * adaptiveW * outH * outW > kMaxRoiAlignSamples)
                        kernelFail(ctx.node(), "roi too large for adaptive sampling");
                    const int64_t gridH = samplingRatio > 0 ? samplingRatio : static_cast<int64_t>(adaptiveH);
                    const int64_t gridW = samplingRatio > 0 ? samplingRatio : static_cast<int64_t>(adaptiveW);
                    const double count = static_cast<double>(std::max<int64_t>(gridH * gridW, 1));
                    // Taps are shared by every channel of this roi.
                    std::vector<BilinearTap> taps;
                    taps.reserve(static_cast<size_t>(outH * outW * gridH * gridW));
                    for (int64_t ph = 0; ph < outH; ++ph)
                        for (int64_t pw = 0; pw < outW; ++pw)
                            for (int64_t iy = 0; iy < gridH; ++iy)
                                for (int64_t ix = 0; ix < gridW; ++ix)
                                    taps.push_back(roiAlignTap(
                                        y1 + ph * binH + (iy + 0.5) * binH / static_cast<double>(gridH),
                                        x1 + pw * binW + (ix + 0.5) * binW / static_cast<double>(gridW), h,
                                        w));
                    const int64_t perBin = gridH * gridW;
                    for (int64_t ch = 0; ch < c; ++ch) {
                        const T* plane = in + (b * c + ch) * h * w;
                        T* o = out + (n * c + ch) * outH * outW;
                        for (int64_t bin = 0; bin < outH * outW; ++bin) {
                            double acc = 0.0;
                            for (int64_t s = 0; s < perBin; ++s) {
                                const BilinearTap& t = taps[static_cast<size_t>(bin * perBin + s)];
                                const double v1 = t.w1 * plane[t.o1], v2 = t.w2 * plane[t.o2];
                                const double v3 = t.w3 * plane[t.o3], v4 = t.w4 * plane[t.o4];
                                if (avg) {
                                    acc += v1 + v2 + v3 + v4;
                                } else {
                                    // ONNX Runtime's max mode: the largest weighted corner value.
                                    const double m = std::max(std::max(v1, v2), std::max(v3, v4));
                                    acc = s == 0 ? m : std::max(acc, m);
                                }
                            }
                            o[bin] = static_cast<T>(avg ? acc / count : acc);
                        }
                    }
                }
            });
        });
    };
}

// ---------------------------------------------------------------------------------------------
// GridSample (4-D). X [N, C, H, W], grid [N, Ho, Wo, 2] holding (x, y) in [-1, 1]. A normalised
// coordinate g maps to pixel space as
//   align_corners:  (g + 1) / 2 * (size - 1)     (-1 and 1 are the centres of the corner pixels)
//   otherwise:      ((g + 1) * size - 1) / 2     (-1 and 1 are the outer edges of the image)
// Out-of-range samples read 0 (zeros), clamp (border) or mirror (reflection) as in PyTorch.

enum class GridPadding { Zeros, Border, Reflection };
enum class GridMode { Bilinear, Nearest, Bicubic };

/// Mirrors `v` into [low, high] given as twice their values (PyTorch's reflect_coordinates).
double reflectCoordinate(double v, int64_t twiceLow, int64_t twiceHigh) {
    if (twiceLow == twiceHigh) return 0.0;
    const double lo = twiceLow / 2.0, span = (twiceHigh - twiceLow) / 2.0;
    v = std::fabs(v - lo);
    const double extra = std::fmod(v, span);
    const int64_t flips = static_cast<int64_t>(std::floor(v / span));
    return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

/// Applies border / reflection padding to a pixel coordinate.
double padCoordinate(double v, int64_t size, GridPadding padding, bool alignCorners) {
    const double hi = static_cast<double>(size - 1);
    if (padding == GridPadding::Border) return std::clamp(v, 0.0, hi);
    if (padding == GridPadding::Reflection) {
        v = alignCorners ? reflectCoordinate(v, 0, 2 * (size - 1)) : reflectCoordinate(v, -1, 2 * size - 1);
        return std::clamp(v, 0.0, hi);
    }
    return v;
}

/// Keys' cubic convolution weights for fractional offset t (A = -0.75, as PyTorch).
void cubicWeights(double t, double w[4]) {
    constexpr double a = -0.75;
    auto near = [](double x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };      // |x| <= 1
    auto far = [](double x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }; // 1 < |x| < 2
    w[0] = far(t + 1);
    w[1] = near(t);
    w[2] = near(1 - t);
    w[3] = far(2 - t);
}

void runGridSample(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    if (x.rank() != 4) kernelFail(node, "GridSample supports 4-D input [N, C, H, W]");
    if (grid.rank() != 4 || grid.dim(0) != x.dim(0) || grid.dim(3) != 2)
        kernelFail(node, "grid must have shape [N, Ho, Wo, 2]");
    if (grid.dtype() != x.dtype()) kernelFail(node, "grid dtype must match X");
    const std::string modeName = node.attrString("mode", "bilinear");
    const std::string padName = node.attrString("padding_mode", "zeros");
    const bool alignCorners = node.attrInt("align_corners", 0) != 0;
    GridMode mode;
    if (modeName == "bilinear" || modeName == "linear")
        mode = GridMode::Bilinear;
    else if (modeName == "nearest")
        mode = GridMode::Nearest;
    else if (modeName == "bicubic" || modeName == "cubic")
        mode = GridMode::Bicubic;
    else
        kernelFail(node, "unknown mode '" + modeName + "'");
    GridPadding padding;
    if (padName == "zeros")
        padding = GridPadding::Zeros;
    else if (padName == "border")
        padding = GridPadding::Border;
    else if (padName == "reflection")
        padding = GridPadding::Reflection;
    else
        kernelFail(node, "unknown padding_mode '" + padName + "'");

    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), oh = grid.dim(1), ow = grid.dim(2);
    auto unnormalize = [&](double g, int64_t size) {
        return alignCorners ? (g + 1) / 2 * static_cast<double>(size - 1)
                            : ((g + 1) * static_cast<double>(size) - 1) / 2;
    };
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        const T* g = grid.data<T>();
        T* out = ctx.allocate(0, x.dtype(), {n, c, oh, ow}).template data<T>();
        // Pixel value with zeros outside the image (padding already applied to the coordinate).
        auto pixel = [&](const T* plane, double yf, double xf) -> double {
            // Non-finite or far-away coordinates (hostile grids) read as outside the image.
            if (!(yf >= -1.0 && yf <= static_cast<double>(h) && xf >= -1.0 && xf <= static_cast<double>(w)))
                return 0.0;
            const int64_t yy = static_cast<int64_t>(yf), xx = static_cast<int64_t>(xf);
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) return 0.0;
            return static_cast<double>(plane[yy * w + xx]);
        };
        for (int64_t b = 0; b < n; ++b) {
            for (int64_t i = 0; i < oh * ow; ++i) {
                const double gx = static_cast<double>(g[(b * oh * ow + i) * 2]);
                const double gy = static_cast<double>(g[(b * oh * ow + i) * 2 + 1]);
                const double ix = unnormalize(gx, w), iy = unnormalize(gy, h);
                for (int64_t ch = 0; ch < c; ++ch) {
                    const T* plane = in + (b * c + ch) * h * w;
                    double v = 0.0;
                    if (mode == GridMode::Bicubic) {
                        // Padding applies to each of the 4x4 taps, not to the sample point.
                        const double fx = std::floor(ix), fy = std::floor(iy);
                        double wx[4], wy[4];
                        cubicWeights(ix - fx, wx);
                        cubicWeights(iy - fy, wy);
                        for (int r = 0; r < 4; ++r) {
                            double row = 0.0;
                            for (int k = 0; k < 4; ++k) {
                                const double px = padCoordinate(fx - 1 + k, w, padding, alignCorners);
                                const double py = padCoordinate(fy - 1 + r, h, padding, alignCorners);
                                row += wx[k] * pixel(plane, py, px);
                            }
                            v += wy[r] * row;
                        }
                    } else {
                        const double px = padCoordinate(ix, w, padding, alignCorners);
                        const double py = padCoordinate(iy, h, padding, alignCorners);
                        if (mode == GridMode::Nearest) {
                            // Round half to even, as std::nearbyint in the default rounding mode.
                            v = pixel(plane, std::nearbyint(py), std::nearbyint(px));
                        } else {
                            const double x0 = std::floor(px), y0 = std::floor(py);
                            const double lx = px - x0, ly = py - y0;
                            v = (1 - ly) * ((1 - lx) * pixel(plane, y0, x0) + lx * pixel(plane, y0, x0 + 1)) +
                                ly *
                                    ((1 - lx) * pixel(plane, y0 + 1, x0) + lx * pixel(plane, y0 + 1, x0 + 1));
                        }
                    }
                    out[(b * c + ch) * oh * ow + i] = static_cast<T>(v);
                }
            }
        }
    });
}

} // namespace

void registerDetectionKernels(KernelRegistry& r) {
    r.add({"NonMaxSuppression", 10, kLatestOpset, ""}, fn(runNonMaxSuppression));
    r.add({"RoiAlign", 10, kLatestOpset, ""}, roiAlignFactory());
    r.add({"GridSample", 16, kLatestOpset, ""}, fn(runGridSample));
}

} // namespace opstudio::rt
