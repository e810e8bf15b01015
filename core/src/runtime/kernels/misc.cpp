// Operators that belong to no larger family: LRN, Det, ReverseSequence, Unique, MaxRoiPool.
#include "runtime/kernels/kernel_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>

namespace opstudio::rt {
namespace {

// ---------------------------------------------------------------------------------------------
// LRN over the channel axis of [N, C, d1..dk]:
//   y[n,c,...] = x[n,c,...] / (bias + alpha / size * sum_{c' in window(c)} x[n,c',...]^2)^beta
// with window(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C).
void runLrn(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    if (x.rank() < 3) kernelFail(node, "LRN input must have rank >= 3");
    const int64_t size = node.attrInt("size", 0);
    if (size <= 0) kernelFail(node, "LRN size must be positive");
    const double alpha = node.attrFloat("alpha", 1e-4f);
    const double beta = node.attrFloat("beta", 0.75f);
    const double bias = node.attrFloat("bias", 1.0f);
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t inner = x.numel() / std::max<int64_t>(n * c, 1);
    const int64_t before = (size - 1) / 2, after = size - 1 - before;
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        T* out = ctx.allocate(0, x.dtype(), x.shape()).template data<T>();
        parallelFor(
            n * c,
            [&](int64_t begin, int64_t end) {
                for (int64_t nc = begin; nc < end; ++nc) {
                    const int64_t b = nc / c, ch = nc % c;
                    const int64_t lo = std::max<int64_t>(0, ch - before),
                                  hi = std::min<int64_t>(c - 1, ch + after);
                    for (int64_t i = 0; i < inner; ++i) {
                        double sq = 0.0;
                        for (int64_t k = lo; k <= hi; ++k) {
                            const double v = static_cast<double>(in[(b * c + k) * inner + i]);
                            sq += v * v;
                        }
                        const int64_t at = nc * inner + i;
                        out[at] =
                            static_cast<T>(static_cast<double>(in[at]) /
                                           std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
                    }
                }
            },
            inner * size);
    });
}

// ---------------------------------------------------------------------------------------------
// Det of [*, M, M]: LU decomposition with partial pivoting in double; det = sign * prod(diag U).
void runDet(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2 || x.dim(-1) != x.dim(-2)) kernelFail(node, "Det needs square matrices [*, M, M]");
    const int64_t m = x.dim(-1);
    Shape outShape(x.shape().begin(), x.shape().end() - 2);
    const int64_t batch = ir::shapeNumel(outShape);
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        T* out = ctx.allocate(0, x.dtype(), outShape).template data<T>();
        std::vector<double> a(static_cast<size_t>(m * m));
        for (int64_t b = 0; b < batch; ++b) {
            for (int64_t i = 0; i < m * m; ++i)
                a[static_cast<size_t>(i)] = static_cast<double>(in[b * m * m + i]);
            double det = 1.0;
            for (int64_t col = 0; col < m && det != 0.0; ++col) {
                int64_t pivot = col;
                for (int64_t r = col + 1; r < m; ++r)
                    if (std::fabs(a[r * m + col]) > std::fabs(a[pivot * m + col])) pivot = r;
                if (a[pivot * m + col] == 0.0) {
                    det = 0.0;
                    break;
                }
                if (pivot != col) {
                    for (int64_t k = 0; k < m; ++k)
                        std::swap(a[col * m + k], a[pivot * m + k]);
                    det = -det; // a row swap flips the sign
                }
                const double p = a[col * m + col];
                det *= p;
                for (int64_t r = col + 1; r < m; ++r) {
                    const double f = a[r * m + col] / p;
                    for (int64_t k = col; k < m; ++k)
                        a[r * m + k] -= f * a[col * m + k];
                }
            }
            out[b] = static_cast<T>(det);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// ReverseSequence: for batch b, the first sequence_lens[b] steps along time_axis are reversed,
// the rest are copied. Works on raw elements, so every fixed-size dtype is supported.
void runReverseSequence(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) kernelFail(node, "ReverseSequence input must have rank >= 2");
    const int64_t batchAxis = node.attrInt("batch_axis", 1), timeAxis = node.attrInt("time_axis", 0);
    if (!((batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0)))
        kernelFail(node, "batch_axis and time_axis must be 0 and 1 in some order");
    const size_t elem = ir::dtypeSize(x.dtype());
    if (elem == 0) kernelFail(node, "unsupported dtype " + std::string(ir::dtypeName(x.dtype())));
    const int64_t batch = x.dim(static_cast<int>(batchAxis)), steps = x.dim(static_cast<int>(timeAxis));
    const std::vector<int64_t> lens = ctx.input(1).toInt64s();
    if (static_cast<int64_t>(lens.size()) != batch)
        kernelFail(node, "sequence_lens must have one entry per batch");
    const int64_t inner = x.numel() / std::max<int64_t>(batch * steps, 1);
    const Shape strides = stridesOf({x.dim(0), x.dim(1)});
    const uint8_t* in = static_cast<const uint8_t*>(x.raw());
    uint8_t* out = static_cast<uint8_t*>(ctx.allocate(0, x.dtype(), x.shape()).raw());
    const size_t rowBytes = static_cast<size_t>(inner) * elem;
    for (int64_t b = 0; b < batch; ++b) {
        const int64_t len = lens[static_cast<size_t>(b)];
        if (len < 0 || len > steps)
            kernelFail(node, "sequence length " + std::to_string(len) + " out of range");
        for (int64_t t = 0; t < steps; ++t) {
            const int64_t src = t < len ? len - 1 - t : t;
            // Row (b, t) of the leading two axes, in whichever order they are stored.
            auto rowOf = [&](int64_t step) {
                const int64_t i0 = batchAxis == 0 ? b : step, i1 = batchAxis == 0 ? step : b;
                return static_cast<size_t>(i0 * strides[0] + i1 * strides[1]) * rowBytes;
            };
            std::memcpy(out + rowOf(t), in + rowOf(src), rowBytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unique: the slices along `axis` (or the flattened elements without an axis) are grouped by
// value. Outputs: Y (the unique slices, sorted lexicographically or in order of first
// occurrence), indices (first occurrence of each), inverse_indices (group of every input slice)
// and counts. Slices are compared element by element in C order, as numpy.unique(axis=...) does.
void runUnique(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const bool sorted = node.attrInt("sorted", 1) != 0;
    const bool hasAxis = node.hasAttr("axis");
    int64_t axis = 0, outer = 1, count = x.numel(), inner = 1;
    if (hasAxis) {
        if (x.rank() == 0) kernelFail(node, "Unique with an axis needs rank >= 1");
        const int64_t a = node.attrInt("axis", 0);
        if (a < -x.rank() || a >= x.rank()) kernelFail(node, "axis out of range");
        axis = normalizeAxis(a, x.rank());
        count = x.dim(static_cast<int>(axis));
        for (int64_t d = 0; d < axis; ++d)
            outer *= x.dim(static_cast<int>(d));
        for (int64_t d = axis + 1; d < x.rank(); ++d)
            inner *= x.dim(static_cast<int>(d));
    }
    dispatchNumeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        // Element e of slice k (e runs over outer, then inner).
        auto at = [&](int64_t k, int64_t e) { return in[((e / inner) * count + k) * inner + e % inner]; };
        const int64_t sliceLen = outer * inner;
        auto less = [&](int64_t a, int64_t b) {
            for (int64_t e = 0; e < sliceLen; ++e) {
                const T va = at(a, e), vb = at(b, e);
                if constexpr (std::is_floating_point_v<T>) {
                    // NaN sorts after every number and equals NaN, keeping the order strict-weak.
                    const bool nanA = std::isnan(va), nanB = std::isnan(vb);
                    if (nanA || nanB) {
                        if (nanA != nanB) return nanB;
                        continue;
                    }
                }
                if (va < vb) return true;
                if (vb < va) return false;
            }
            return false;
        };
        std::vector<int64_t> order(static_cast<size_t>(count));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), less); // equal slices keep input order

        // Groups in sorted order: first occurrence (the group's first member) and size.
        std::vector<int64_t> first, counts, groupOf(static_cast<size_t>(count));
        for (size_t i = 0; i < order.size(); ++i) {
            if (i == 0 || less(order[i - 1], order[i])) {
                first.push_back(order[i]);
                counts.push_back(0);
            }
            ++counts.back();
            groupOf[static_cast<size_t>(order[i])] = static_cast<int64_t>(first.size()) - 1;
        }
        const int64_t groups = static_cast<int64_t>(first.size());
        // rank[g] = output position of sorted group g: itself, or its place by first occurrence.
        std::vector<int64_t> position(static_cast<size_t>(groups));
        std::iota(position.begin(), position.end(), 0);
        if (!sorted) {
            std::vector<int64_t> byFirst(static_cast<size_t>(groups));
            std::iota(byFirst.begin(), byFirst.end(), 0);
            std::sort(byFirst.begin(), byFirst.end(),
                      [&](int64_t a, int64_t b) { return first[a] < first[b]; });
            for (int64_t p = 0; p < groups; ++p)
                position[static_cast<size_t>(byFirst[p])] = p;
        }

        Shape yShape = hasAxis ? x.shape() : Shape{groups};
        if (hasAxis) yShape[static_cast<size_t>(axis)] = groups;
        T* y = ctx.allocate(0, x.dtype(), yShape).template data<T>();
        std::vector<int64_t> indices(static_cast<size_t>(groups)), groupCounts(static_cast<size_t>(groups));
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t p = position[static_cast<size_t>(g)];
            indices[static_cast<size_t>(p)] = first[static_cast<size_t>(g)];
            groupCounts[static_cast<size_t>(p)] = counts[static_cast<size_t>(g)];
            for (int64_t e = 0; e < sliceLen; ++e)
                y[((e / inner) * groups + p) * inner + e % inner] = at(first[static_cast<size_t>(g)], e);
        }
        auto writeI64 = [&](size_t i, const std::vector<int64_t>& v) {
            if (!ctx.wantsOutput(i)) return;
            int64_t* o =
                ctx.allocate(i, DType::I64, {static_cast<int64_t>(v.size())}).template data<int64_t>();
            std::copy(v.begin(), v.end(), o);
        };
        std::vector<int64_t> inverse(static_cast<size_t>(count));
        for (int64_t k = 0; k < count; ++k)
            inverse[static_cast<size_t>(k)] = position[static_cast<size_t>(groupOf[static_cast<size_t>(k)])];
        writeI64(1, indices);
        writeI64(2, inverse);
        writeI64(3, groupCounts);
    });
}

// ---------------------------------------------------------------------------------------------
// MaxRoiPool (Fast R-CNN ROI pooling). rois [R, 5] = (batch, x1, y1, x2, y2) in input coordinates
// * spatial_scale, rounded to whole pixels, inclusive ends. The roi is split into pooled_shape
// bins of (roi size / pooled size) pixels; bin ph covers rows [floor(ph * binH), ceil((ph + 1) * binH))
// offset by the roi start and clipped to the image. An empty bin gives 0.
void runMaxRoiPool(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    const std::vector<int64_t> pooled = node.attrInts("pooled_shape");
    if (pooled.size() != 2 || pooled[0] <= 0 || pooled[1] <= 0)
        kernelFail(node, "pooled_shape must be two positive ints");
    if (x.rank() != 4) kernelFail(node, "X must be [N, C, H, W]");
    if (rois.rank() != 2 || rois.dim(1) != 5) kernelFail(node, "rois must be [R, 5]");
    const double scale = node.attrFloat("spatial_scale", 1.0f);
    const int64_t r = rois.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), ph = pooled[0], pw = pooled[1];
    const std::vector<double> roi = rois.toDoubles();
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        T* out = ctx.allocate(0, x.dtype(), {r, c, ph, pw}).template data<T>();
        // Rounded, clipped pixel coordinate (hostile rois must not reach an undefined cast).
        auto pixelOf = [&](double v, int64_t size) {
            const double p = std::round(v * scale);
            return static_cast<int64_t>(std::clamp(std::isnan(p) ? 0.0 : p, -1.0, static_cast<double>(size)));
        };
        for (int64_t n = 0; n < r; ++n) {
            const double* q = roi.data() + n * 5;
            if (!(q[0] >= 0 && q[0] < static_cast<double>(x.dim(0))))
                kernelFail(node, "roi batch index out of range");
            const int64_t b = static_cast<int64_t>(q[0]);
            const int64_t x1 = pixelOf(q[1], w), y1 = pixelOf(q[2], h), x2 = pixelOf(q[3], w),
                          y2 = pixelOf(q[4], h);
            const double binH =
                static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / static_cast<double>(ph);
            const double binW =
                static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / static_cast<double>(pw);
            for (int64_t ch = 0; ch < c; ++ch) {
                const T* plane = in + (b * c + ch) * h * w;
                T* o = out + (n * c + ch) * ph * pw;
                for (int64_t i = 0; i < ph; ++i) {
                    const int64_t hs =
                        std::clamp<int64_t>(static_cast<int64_t>(std::floor(i * binH)) + y1, 0, h);
                    const int64_t he =
                        std::clamp<int64_t>(static_cast<int64_t>(std::ceil((i + 1) * binH)) + y1, 0, h);
                    for (int64_t j = 0; j < pw; ++j) {
                        const int64_t ws =
                            std::clamp<int64_t>(static_cast<int64_t>(std::floor(j * binW)) + x1, 0, w);
                        const int64_t we =
                            std::clamp<int64_t>(static_cast<int64_t>(std::ceil((j + 1) * binW)) + x1, 0, w);
                        if (he <= hs || we <= ws) {
                            o[i * pw + j] = T(0);
                            continue;
                        }
                        T m = plane[hs * w + ws];
                        for (int64_t yy = hs; yy < he; ++yy)
                            for (int64_t xx = ws; xx < we; ++xx)
                                m = std::max(m, plane[yy * w + xx]);
                        o[i * pw + j] = m;
                    }
                }
            }
        }
    });
}

} // namespace

void registerMiscKernels(KernelRegistry& r) {
    r.add({"LRN", 1, kLatestOpset, ""}, fn(runLrn));
    r.add({"Det", 11, kLatestOpset, ""}, fn(runDet));
    r.add({"ReverseSequence", 10, kLatestOpset, ""}, fn(runReverseSequence));
    r.add({"Unique", 11, kLatestOpset, ""}, fn(runUnique));
    r.add({"MaxRoiPool", 1, kLatestOpset, ""}, fn(runMaxRoiPool));
}

} // namespace opstudio::rt
