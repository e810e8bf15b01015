// Shape and data-movement operators: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat,
// Split, Slice, Expand, Tile, Pad, Shape, Size, ConstantOfShape, Range, Identity, Dropout,
// Constant, OneHot, NonZero, Trilu, DepthToSpace, SpaceToDepth, EyeLike, Compress.
//
// These ops move elements without arithmetic, so they work on bytes (dtypeSize) and are
// dtype-agnostic; string tensors move their std::string elements instead. Most of them are
// "strided copies": every output element reads input[base + sum(idx_d * stride_d)] for some
// per-dimension strides (Slice: start/step, Expand: 0 on broadcast dims, Tile: a 2x-rank view
// with stride 0 on the repeat dims, Transpose: permuted strides). The fast path copies
// contiguous runs or blocked tiles; the reference path walks the output one element at a time.
#include "runtime/kernels/kernel_util.h"
#include "opstudio/util/shape_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace opstudio::rt {

namespace {

struct Bytes16 {
    uint64_t lo, hi;
};

// Runs f(tag) with an unsigned type of the given element size (1, 2, 4, 8 or 16 bytes).
template <typename F> void dispatchBySize(size_t bytes, F&& f) {
    switch (bytes) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    case 8: f(uint64_t{}); break;
    case 16: f(Bytes16{}); break;
    default: throw Error("unsupported element size " + std::to_string(bytes));
    }
}

bool isStringTensor(const Tensor& t) { return t.dtype() == DType::String; }

// Copies n consecutive elements src[srcOff..] -> dst[dstOff..].
void copyElems(const Tensor& src, int64_t srcOff, Tensor& dst, int64_t dstOff, int64_t n) {
    if (n <= 0) return;
    if (isStringTensor(src)) {
        const auto& s = src.strings();
        auto& d = dst.strings();
        std::copy(s.begin() + srcOff, s.begin() + srcOff + n, d.begin() + dstOff);
        return;
    }
    const size_t es = ir::dtypeSize(src.dtype());
    std::memcpy(static_cast<uint8_t*>(dst.raw()) + dstOff * es, static_cast<const uint8_t*>(src.raw()) + srcOff * es,
                static_cast<size_t>(n) * es);
}

// Fills dst[dstOff .. dstOff+n) with the element src[srcIdx].
void fillElems(const Tensor& src, int64_t srcIdx, Tensor& dst, int64_t dstOff, int64_t n) {
    if (n <= 0) return;
    if (isStringTensor(src)) {
        const std::string v = src.strings()[srcIdx];
        auto& d = dst.strings();
        std::fill(d.begin() + dstOff, d.begin() + dstOff + n, v);
        return;
    }
    dispatchBySize(ir::dtypeSize(src.dtype()), [&](auto tag) {
        using E = decltype(tag);
        E v;
        std::memcpy(&v, static_cast<const uint8_t*>(src.raw()) + srcIdx * sizeof(E), sizeof(E));
        E* d = static_cast<E*>(dst.raw()) + dstOff;
        std::fill(d, d + n, v);
    });
}

// Product of dims through the one checked place (util/shape_math.h), with the node in the error.
int64_t checkedNumel(const ir::Node& node, const Shape& shape) {
    try {
        return util::checkedNumel(shape);
    } catch (const Error& e) {
        kernelFail(node, e.what());
    }
}

// A one-element tensor of `dt` holding `v` (numeric dtypes, float16/bfloat16; "" for strings).
Tensor scalarOf(const ir::Node& node, DType dt, double v) {
    Tensor t(dt, {});
    switch (dt) {
    case DType::String: t.strings()[0] = ""; break;
    case DType::F16: *t.data<uint16_t>() = ir::floatToHalf(static_cast<float>(v)); break;
    case DType::BF16: *t.data<uint16_t>() = ir::floatToBfloat16(static_cast<float>(v)); break;
    case DType::C64:
    case DType::C128:
    case DType::Undefined: kernelFail(node, "unsupported dtype " + std::string(ir::dtypeName(dt)));
    default:
        dispatchNumeric(dt, [&](auto tag) {
            using T = decltype(tag);
            *t.data<T>() = static_cast<T>(v);
        });
    }
    return t;
}

// ---------------------------------------------------------------------------------------------
// Strided copy: out[i] = in[base + sum_d idx_d(i) * strides[d]] over outShape (row-major).

void stridedCopyReference(const Tensor& in, int64_t base, const Shape& outShape, const Shape& strides, Tensor& out) {
    const int rank = static_cast<int>(outShape.size());
    const int64_t n = ir::shapeNumel(outShape);
    if (n == 0) return;
    std::vector<int64_t> idx(rank, 0);
    for (int64_t i = 0; i < n; ++i) {
        int64_t off = base;
        for (int d = 0; d < rank; ++d) off += idx[d] * strides[d];
        copyElems(in, off, out, i, 1);
        for (int d = rank - 1; d >= 0; --d) {
            if (++idx[d] < outShape[d]) break;
            idx[d] = 0;
        }
    }
}

// Drops size-1 dims and merges neighbours whose strides chain (stride[d] == stride[d+1] * n[d+1]),
// so e.g. a slice of whole rows becomes one long contiguous run.
void collapseDims(Shape& shape, Shape& strides) {
    Shape s, st;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        if (!s.empty() && st.back() == strides[d] * shape[d]) {
            s.back() *= shape[d];
            st.back() = strides[d];
        } else {
            s.push_back(shape[d]);
            st.push_back(strides[d]);
        }
    }
    shape = std::move(s);
    strides = std::move(st);
}

void stridedCopyFast(const Tensor& in, int64_t base, Shape outShape, Shape strides, Tensor& out) {
    const int64_t n = ir::shapeNumel(outShape);
    if (n == 0) return;
    if (isStringTensor(in)) return stridedCopyReference(in, base, outShape, strides, out);
    collapseDims(outShape, strides);
    if (outShape.empty()) return copyElems(in, base, out, 0, 1);
    const int rank = static_cast<int>(outShape.size());
    const int64_t inner = outShape.back();
    const int64_t innerStride = strides.back();
    const int64_t rows = n / inner;
    const size_t es = ir::dtypeSize(in.dtype());
    dispatchBySize(es, [&](auto tag) {
        using E = decltype(tag);
        const E* src = static_cast<const E*>(in.raw());
        E* dst = static_cast<E*>(out.raw());
        parallelFor(
            rows,
            [&](int64_t begin, int64_t end) {
                // Offsets of row `begin` from its multi-index, then an odometer over the outer dims.
                std::vector<int64_t> idx(rank, 0);
                int64_t off = base;
                for (int64_t r = begin, d = rank - 2; d >= 0; --d) {
                    idx[d] = r % outShape[d];
                    r /= outShape[d];
                    off += idx[d] * strides[d];
                }
                for (int64_t row = begin; row < end; ++row) {
                    E* o = dst + row * inner;
                    const E* s = src + off;
                    if (innerStride == 1) std::memcpy(o, s, static_cast<size_t>(inner) * sizeof(E));
                    else if (innerStride == 0) std::fill(o, o + inner, *s);
                    else
                        for (int64_t k = 0; k < inner; ++k) o[k] = s[k * innerStride];
                    for (int d = rank - 2; d >= 0; --d) {
                        if (++idx[d] < outShape[d]) {
                            off += strides[d];
                            break;
                        }
                        off -= strides[d] * (outShape[d] - 1);
                        idx[d] = 0;
                    }
                }
            },
            inner);
    });
}

void stridedCopy(const Tensor& in, int64_t base, const Shape& outShape, const Shape& strides, Tensor& out,
                 bool reference) {
    if (reference) stridedCopyReference(in, base, outShape, strides, out);
    else stridedCopyFast(in, base, outShape, strides, out);
}

// ---------------------------------------------------------------------------------------------
// Transpose of `in` viewed with shape inShape: out dims are inShape[perm[i]].

// Blocked 2-D transpose for permutations that move the input's contiguous dim away from the
// output's innermost dim: reading column tiles of kTile x kTile keeps both sides in cache.
void transposeFast(const Tensor& in, const Shape& inShape, const std::vector<int64_t>& perm, Tensor& out) {
    const Shape inStrides = stridesOf(inShape);
    Shape shape, strides;
    for (int64_t p : perm) {
        shape.push_back(inShape[p]);
        strides.push_back(inStrides[p]);
    }
    if (ir::shapeNumel(shape) == 0) return;
    Shape cs = shape, cst = strides;
    collapseDims(cs, cst);
    if (isStringTensor(in) || cs.empty() || cst.back() == 1) return stridedCopyFast(in, 0, shape, strides, out);

    const int rank = static_cast<int>(cs.size());
    int j = -1; // output dim that is contiguous in the input
    for (int d = 0; d < rank; ++d)
        if (cst[d] == 1) j = d;
    if (j < 0) return stridedCopyFast(in, 0, shape, strides, out);
    const int l = rank - 1;
    const Shape outStrides = stridesOf(cs);
    const int64_t nj = cs[j], nl = cs[l], sl = cst[l], osj = outStrides[j];
    // Outer dims: all but j and l.
    Shape outerDims, outerIn, outerOut;
    for (int d = 0; d < rank; ++d)
        if (d != j && d != l) {
            outerDims.push_back(cs[d]);
            outerIn.push_back(cst[d]);
            outerOut.push_back(outStrides[d]);
        }
    const int64_t outer = ir::shapeNumel(outerDims);
    constexpr int64_t kTile = 32;
    dispatchBySize(ir::dtypeSize(in.dtype()), [&](auto tag) {
        using E = decltype(tag);
        const E* src = static_cast<const E*>(in.raw());
        E* dst = static_cast<E*>(out.raw());
        parallelFor(
            outer,
            [&](int64_t begin, int64_t end) {
                for (int64_t o = begin; o < end; ++o) {
                    int64_t inOff = 0, outOff = 0;
                    for (int64_t r = o, d = static_cast<int64_t>(outerDims.size()) - 1; d >= 0; --d) {
                        const int64_t i = r % outerDims[d];
                        r /= outerDims[d];
                        inOff += i * outerIn[d];
                        outOff += i * outerOut[d];
                    }
                    for (int64_t a0 = 0; a0 < nj; a0 += kTile)
                        for (int64_t b0 = 0; b0 < nl; b0 += kTile) {
                            const int64_t a1 = std::min(nj, a0 + kTile), b1 = std::min(nl, b0 + kTile);
                            for (int64_t a = a0; a < a1; ++a)
                                for (int64_t b = b0; b < b1; ++b) dst[outOff + a * osj + b] = src[inOff + a + b * sl];
                        }
                }
            },
            nj * nl);
    });
}

void transposeInto(const Tensor& in, const Shape& inShape, const std::vector<int64_t>& perm, Tensor& out,
                   bool reference) {
    if (reference) {
        const Shape inStrides = stridesOf(inShape);
        Shape shape, strides;
        for (int64_t p : perm) {
            shape.push_back(inShape[p]);
            strides.push_back(inStrides[p]);
        }
        stridedCopyReference(in, 0, shape, strides, out);
    } else {
        transposeFast(in, inShape, perm, out);
    }
}

// Attribute list (older opsets) or int64 input (newer opsets); `present` tells which was found.
std::vector<int64_t> intsFromAttrOrInput(KernelContext& ctx, bool fromInput, size_t inputIndex, const char* attr,
                                         bool* present = nullptr) {
    if (fromInput) {
        if (present) *present = ctx.hasInput(inputIndex);
        return ctx.hasInput(inputIndex) ? ctx.input(inputIndex).toInt64s() : std::vector<int64_t>{};
    }
    if (present) *present = ctx.node().hasAttr(attr);
    return ctx.node().attrInts(attr);
}

// ---------------------------------------------------------------------------------------------

void reshapeKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    const auto req = ctx.input(1).toInt64s();
    const bool allowZero = ctx.node().attrInt("allowzero", 0) != 0;
    Shape out(req.size());
    int inferAt = -1;
    bool hasZero = false;
    for (size_t i = 0; i < req.size(); ++i) {
        const int64_t v = req[i];
        if (v == 0 && !allowZero) {
            // 0 copies the input's dim at the same position.
            if (static_cast<int>(i) >= x.rank()) kernelFail(ctx.node(), "Reshape: 0 at position beyond input rank");
            out[i] = x.dim(static_cast<int>(i));
        } else if (v == -1) {
            if (inferAt >= 0) kernelFail(ctx.node(), "Reshape: more than one -1 in shape");
            inferAt = static_cast<int>(i);
            out[i] = 1;
        } else if (v < 0) {
            kernelFail(ctx.node(), "Reshape: invalid dim " + std::to_string(v));
        } else {
            hasZero |= v == 0;
            out[i] = v;
        }
    }
    if (allowZero && hasZero && inferAt >= 0) kernelFail(ctx.node(), "Reshape: allowzero with both 0 and -1");
    const int64_t n = x.numel();
    const int64_t known = checkedNumel(ctx.node(), out);
    if (inferAt >= 0) {
        if (known == 0) {
            if (n != 0) kernelFail(ctx.node(), "Reshape: cannot infer -1 with a zero-sized dim");
            out[inferAt] = 0;
        } else {
            if (n % known != 0)
                kernelFail(ctx.node(), "Reshape: cannot reshape " + ir::shapeToString(x.shape()) + " with -1");
            out[inferAt] = n / known;
        }
    }
    if (checkedNumel(ctx.node(), out) != n)
        kernelFail(ctx.node(), "Reshape: cannot reshape " + ir::shapeToString(x.shape()) + " to " +
                                   ir::shapeToString(out));
    ctx.setOutput(0, x.reshaped(out));
}

void flattenKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    int64_t axis = ctx.node().attrInt("axis", 1);
    if (axis < 0) axis += x.rank();
    if (axis < 0 || axis > x.rank()) kernelFail(ctx.node(), "Flatten: axis out of range");
    int64_t a = 1, b = 1;
    for (int d = 0; d < x.rank(); ++d) (d < axis ? a : b) *= x.dim(d);
    ctx.setOutput(0, x.reshaped({a, b}));
}

void transposeKernel(KernelContext& ctx, int64_t, bool reference) {
    const Tensor& x = ctx.input(0);
    const int rank = x.rank();
    std::vector<int64_t> perm = ctx.node().attrInts("perm");
    if (perm.empty()) {
        perm.resize(rank);
        for (int i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
    }
    if (static_cast<int>(perm.size()) != rank) kernelFail(ctx.node(), "Transpose: perm size differs from rank");
    std::vector<bool> seen(rank, false);
    for (auto& p : perm) {
        if (p < 0) p += rank;
        if (p < 0 || p >= rank || seen[p]) kernelFail(ctx.node(), "Transpose: invalid perm");
        seen[p] = true;
    }
    Shape outShape;
    for (int64_t p : perm) outShape.push_back(x.dim(static_cast<int>(p)));
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    transposeInto(x, x.shape(), perm, y, reference);
}

void squeezeKernel(KernelContext& ctx, int64_t opset, bool) {
    const Tensor& x = ctx.input(0);
    bool present = false;
    auto axes = intsFromAttrOrInput(ctx, opset >= 13, 1, "axes", &present);
    std::vector<bool> drop(x.rank(), false);
    if (axes.empty()) {
        for (int d = 0; d < x.rank(); ++d) drop[d] = x.dim(d) == 1;
    } else {
        for (int64_t a : axes) {
            const int64_t d = normalizeAxis(a, x.rank());
            if (x.dim(static_cast<int>(d)) != 1) kernelFail(ctx.node(), "Squeeze: dim " + std::to_string(d) + " is not 1");
            drop[d] = true;
        }
    }
    Shape out;
    for (int d = 0; d < x.rank(); ++d)
        if (!drop[d]) out.push_back(x.dim(d));
    ctx.setOutput(0, x.reshaped(out));
}

void unsqueezeKernel(KernelContext& ctx, int64_t opset, bool) {
    const Tensor& x = ctx.input(0);
    auto axes = intsFromAttrOrInput(ctx, opset >= 13, 1, "axes");
    const int64_t outRank = x.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> inserted(outRank, false);
    for (int64_t a : axes) {
        const int64_t d = normalizeAxis(a, outRank);
        if (inserted[d]) kernelFail(ctx.node(), "Unsqueeze: duplicate axis");
        inserted[d] = true;
    }
    Shape out;
    int src = 0;
    for (int64_t d = 0; d < outRank; ++d) out.push_back(inserted[d] ? 1 : x.dim(src++));
    ctx.setOutput(0, x.reshaped(out));
}

void concatKernel(KernelContext& ctx, int64_t, bool) {
    const size_t count = ctx.inputCount();
    const Tensor* first = nullptr;
    for (size_t i = 0; i < count; ++i)
        if (ctx.hasInput(i)) {
            first = &ctx.input(i);
            break;
        }
    if (!first) kernelFail(ctx.node(), "Concat: no inputs");
    const int rank = first->rank();
    if (rank == 0) kernelFail(ctx.node(), "Concat: scalar inputs");
    const int64_t axis = normalizeAxis(ctx.node().attrInt("axis", 0), rank);
    Shape outShape = first->shape();
    outShape[axis] = 0;
    for (size_t i = 0; i < count; ++i) {
        if (!ctx.hasInput(i)) continue;
        const Tensor& t = ctx.input(i);
        if (t.rank() != rank || t.dtype() != first->dtype())
            kernelFail(ctx.node(), "Concat: inputs differ in rank or dtype");
        for (int d = 0; d < rank; ++d)
            if (d != axis && t.dim(d) != first->dim(d))
                kernelFail(ctx.node(), "Concat: shapes " + ir::shapeToString(first->shape()) + " and " +
                                           ir::shapeToString(t.shape()) + " differ outside the axis");
        outShape[axis] += t.dim(static_cast<int>(axis));
    }
    checkedNumel(ctx.node(), outShape);
    Tensor& y = ctx.allocate(0, first->dtype(), outShape);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= outShape[d];
    for (int d = static_cast<int>(axis) + 1; d < rank; ++d) inner *= outShape[d];
    const int64_t outBlock = outShape[axis] * inner;
    int64_t offset = 0;
    for (size_t i = 0; i < count; ++i) {
        if (!ctx.hasInput(i)) continue;
        const Tensor& t = ctx.input(i);
        const int64_t block = t.dim(static_cast<int>(axis)) * inner;
        for (int64_t o = 0; o < outer; ++o) copyElems(t, o * block, y, o * outBlock + offset, block);
        offset += block;
    }
}

void splitKernel(KernelContext& ctx, int64_t opset, bool) {
    const Tensor& x = ctx.input(0);
    const int rank = x.rank();
    if (rank == 0) kernelFail(ctx.node(), "Split: scalar input");
    const int64_t axis = normalizeAxis(ctx.node().attrInt("axis", 0), rank);
    const int64_t dim = x.dim(static_cast<int>(axis));
    const int64_t outputs = static_cast<int64_t>(ctx.outputCount());
    auto split = intsFromAttrOrInput(ctx, opset >= 13, 1, "split");
    if (split.empty()) {
        const int64_t n = ctx.node().attrInt("num_outputs", outputs);
        if (n <= 0 || n != outputs) kernelFail(ctx.node(), "Split: bad number of outputs");
        // Equal parts; with num_outputs (opset 18) the last part may be smaller.
        const int64_t part = (dim + n - 1) / n;
        if (!ctx.node().hasAttr("num_outputs") && dim % n != 0)
            kernelFail(ctx.node(), "Split: dim " + std::to_string(dim) + " not divisible into " + std::to_string(n));
        for (int64_t i = 0; i < n; ++i) split.push_back(std::max<int64_t>(0, std::min(part, dim - i * part)));
    }
    if (static_cast<int64_t>(split.size()) != outputs) kernelFail(ctx.node(), "Split: split size differs from outputs");
    int64_t total = 0;
    for (int64_t s : split) {
        if (s < 0) kernelFail(ctx.node(), "Split: negative split");
        total += s;
    }
    if (total != dim) kernelFail(ctx.node(), "Split: splits do not sum to the dim");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int d = static_cast<int>(axis) + 1; d < rank; ++d) inner *= x.dim(d);
    int64_t offset = 0;
    for (int64_t i = 0; i < outputs; ++i) {
        Shape s = x.shape();
        s[axis] = split[i];
        const int64_t block = split[i] * inner;
        if (ctx.wantsOutput(i)) {
            Tensor& y = ctx.allocate(i, x.dtype(), s);
            for (int64_t o = 0; o < outer; ++o) copyElems(x, o * dim * inner + offset, y, o * block, block);
        }
        offset += block;
    }
}

void sliceKernel(KernelContext& ctx, int64_t opset, bool reference) {
    const Tensor& x = ctx.input(0);
    const int rank = x.rank();
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset < 10) {
        starts = ctx.node().attrInts("starts");
        ends = ctx.node().attrInts("ends");
        axes = ctx.node().attrInts("axes");
    } else {
        starts = ctx.input(1).toInt64s();
        ends = ctx.input(2).toInt64s();
        if (ctx.hasInput(3)) axes = ctx.input(3).toInt64s();
        if (ctx.hasInput(4)) steps = ctx.input(4).toInt64s();
    }
    if (starts.size() != ends.size()) kernelFail(ctx.node(), "Slice: starts and ends differ in length");
    if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
        kernelFail(ctx.node(), "Slice: axes/steps length differs from starts");
    Shape begin(rank, 0), step(rank, 1), outShape = x.shape();
    std::vector<bool> seen(rank, false);
    for (size_t i = 0; i < starts.size(); ++i) {
        const int64_t a = normalizeAxis(axes[i], rank);
        if (seen[a]) kernelFail(ctx.node(), "Slice: repeated axis");
        seen[a] = true;
        const int64_t n = x.dim(static_cast<int>(a));
        const int64_t st = steps[i];
        if (st == 0) kernelFail(ctx.node(), "Slice: step 0");
        if (n == 0) {
            step[a] = st;
            outShape[a] = 0;
            continue;
        }
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += n;
        if (e < 0) e += n;
        // Positive steps clamp to [0, n]; negative steps walk from [0, n-1] down to an exclusive -1.
        int64_t count;
        if (st > 0) {
            s = std::clamp<int64_t>(s, 0, n);
            e = std::clamp<int64_t>(e, 0, n);
            count = e > s ? (e - s + st - 1) / st : 0;
        } else {
            s = std::clamp<int64_t>(s, 0, n - 1);
            e = std::clamp<int64_t>(e, -1, n - 1);
            count = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        }
        begin[a] = count > 0 ? s : 0;
        step[a] = st;
        outShape[a] = count;
    }
    const Shape inStrides = stridesOf(x.shape());
    int64_t base = 0;
    Shape strides(rank);
    for (int d = 0; d < rank; ++d) {
        base += begin[d] * inStrides[d];
        strides[d] = step[d] * inStrides[d];
    }
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    stridedCopy(x, base, outShape, strides, y, reference);
}

void expandKernel(KernelContext& ctx, int64_t, bool reference) {
    const Tensor& x = ctx.input(0);
    const Shape target = ctx.input(1).toInt64s();
    Shape outShape;
    try {
        outShape = broadcastShapes(x.shape(), target);
    } catch (const Error& e) {
        kernelFail(ctx.node(), std::string("Expand: ") + e.what());
    }
    checkedNumel(ctx.node(), outShape);
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    stridedCopy(x, 0, outShape, broadcastStrides(x.shape(), outShape), y, reference);
}

void tileKernel(KernelContext& ctx, int64_t, bool reference) {
    const Tensor& x = ctx.input(0);
    const auto repeats = ctx.input(1).toInt64s();
    const int rank = x.rank();
    if (static_cast<int>(repeats.size()) != rank) kernelFail(ctx.node(), "Tile: repeats length differs from rank");
    // Output dim d is (k, i) with k in [0, repeats[d]) outer and i in [0, n_d) inner, so the
    // output is a row-major [r0, n0, r1, n1, ...] view whose repeat dims have input stride 0.
    const Shape inStrides = stridesOf(x.shape());
    Shape outShape, viewShape, viewStrides;
    for (int d = 0; d < rank; ++d) {
        if (repeats[d] < 0) kernelFail(ctx.node(), "Tile: negative repeat");
        outShape.push_back(x.dim(d) * repeats[d]);
        viewShape.push_back(repeats[d]);
        viewStrides.push_back(0);
        viewShape.push_back(x.dim(d));
        viewStrides.push_back(inStrides[d]);
    }
    checkedNumel(ctx.node(), viewShape);
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    stridedCopy(x, 0, viewShape, viewStrides, y, reference);
}

// Pad: maps an output coordinate to an input coordinate, or -1 for the constant value.
int64_t padSource(int64_t o, int64_t padBegin, int64_t n, int mode) {
    int64_t s = o - padBegin;
    if (s >= 0 && s < n) return s;
    if (mode == 0 || n == 0) return -1;
    if (mode == 1) return std::clamp<int64_t>(s, 0, n - 1); // edge
    // reflect (mirror without repeating the border): period 2(n-1)
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    int64_t m = s % period;
    if (m < 0) m += period;
    return m >= n ? period - m : m;
}

void padKernel(KernelContext& ctx, int64_t opset, bool reference) {
    const Tensor& x = ctx.input(0);
    const int rank = x.rank();
    const std::string modeName = ctx.node().attrString("mode", "constant");
    int mode;
    if (modeName == "constant") mode = 0;
    else if (modeName == "edge") mode = 1;
    else if (modeName == "reflect") mode = 2;
    else kernelFail(ctx.node(), "Pad: unsupported mode '" + modeName + "'");
    std::vector<int64_t> pads;
    Tensor value;
    if (opset < 11) {
        pads = ctx.node().attrInts(opset < 2 ? "paddings" : "pads");
        value = scalarOf(ctx.node(), x.dtype(), ctx.node().attrFloat("value", 0.f));
    } else {
        pads = ctx.input(1).toInt64s();
        if (ctx.hasInput(3)) kernelFail(ctx.node(), "Pad: the axes input (opset 18) is not supported");
        if (ctx.hasInput(2) && ctx.input(2).numel() > 0) {
            value = ctx.input(2);
            if (value.dtype() != x.dtype()) kernelFail(ctx.node(), "Pad: constant_value dtype differs from input");
        } else {
            value = scalarOf(ctx.node(), x.dtype(), 0.0);
        }
    }
    if (static_cast<int>(pads.size()) != 2 * rank) kernelFail(ctx.node(), "Pad: pads length must be 2 * rank");
    Shape outShape(rank);
    for (int d = 0; d < rank; ++d) {
        outShape[d] = x.dim(d) + pads[d] + pads[d + rank];
        if (outShape[d] < 0) kernelFail(ctx.node(), "Pad: negative output dim");
        if (mode != 0 && x.dim(d) == 0 && outShape[d] > 0)
            kernelFail(ctx.node(), "Pad: " + modeName + " mode cannot pad an empty dim");
    }
    checkedNumel(ctx.node(), outShape);
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    const int64_t n = y.numel();
    if (n == 0) return;
    if (rank == 0) return copyElems(x, 0, y, 0, 1);
    const Shape inStrides = stridesOf(x.shape());
    if (reference) {
        std::vector<int64_t> idx(rank, 0);
        for (int64_t i = 0; i < n; ++i) {
            int64_t off = 0;
            bool constant = false;
            for (int d = 0; d < rank; ++d) {
                const int64_t s = padSource(idx[d], pads[d], x.dim(d), mode);
                if (s < 0) constant = true;
                else off += s * inStrides[d];
            }
            if (constant) fillElems(value, 0, y, i, 1);
            else copyElems(x, off, y, i, 1);
            for (int d = rank - 1; d >= 0; --d) {
                if (++idx[d] < outShape[d]) break;
                idx[d] = 0;
            }
        }
        return;
    }
    // Fast: per-dim source tables; each output row is left pad, one contiguous run, right pad.
    std::vector<std::vector<int64_t>> table(rank);
    for (int d = 0; d < rank; ++d) {
        table[d].resize(outShape[d]);
        for (int64_t o = 0; o < outShape[d]; ++o) table[d][o] = padSource(o, pads[d], x.dim(d), mode);
    }
    const int64_t inner = outShape.back();
    const int64_t rows = n / inner;
    const auto& last = table.back();
    // The in-range middle of the last dim: outputs [lo, hi) read inputs lo-pad .. contiguously.
    const int64_t lo = std::clamp<int64_t>(pads[rank - 1], 0, inner);
    const int64_t hi = std::clamp<int64_t>(pads[rank - 1] + x.dim(rank - 1), lo, inner);
    std::vector<int64_t> idx(rank, 0);
    for (int64_t row = 0; row < rows; ++row) {
        int64_t off = 0;
        bool constant = false;
        for (int d = 0; d < rank - 1; ++d) {
            const int64_t s = table[d][idx[d]];
            if (s < 0) constant = true;
            else off += s * inStrides[d];
        }
        const int64_t outOff = row * inner;
        if (constant) {
            fillElems(value, 0, y, outOff, inner);
        } else {
            for (int64_t o = 0; o < lo; ++o)
                last[o] < 0 ? fillElems(value, 0, y, outOff + o, 1) : copyElems(x, off + last[o], y, outOff + o, 1);
            if (hi > lo) copyElems(x, off + last[lo], y, outOff + lo, hi - lo);
            for (int64_t o = hi; o < inner; ++o)
                last[o] < 0 ? fillElems(value, 0, y, outOff + o, 1) : copyElems(x, off + last[o], y, outOff + o, 1);
        }
        for (int d = rank - 2; d >= 0; --d) {
            if (++idx[d] < outShape[d]) break;
            idx[d] = 0;
        }
    }
}

void shapeKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    const int64_t rank = x.rank();
    int64_t start = ctx.node().attrInt("start", 0);
    int64_t end = ctx.node().attrInt("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, 0, rank);
    const int64_t count = std::max<int64_t>(0, end - start);
    Tensor& y = ctx.allocate(0, DType::I64, {count});
    for (int64_t i = 0; i < count; ++i) y.data<int64_t>()[i] = x.dim(static_cast<int>(start + i));
}

void sizeKernel(KernelContext& ctx, int64_t, bool) {
    Tensor& y = ctx.allocate(0, DType::I64, {});
    *y.data<int64_t>() = ctx.input(0).numel();
}

void constantOfShapeKernel(KernelContext& ctx, int64_t, bool) {
    const Shape shape = ctx.input(0).toInt64s();
    checkedNumel(ctx.node(), shape);
    const ir::Attribute* a = ctx.node().attr("value");
    Tensor value = a && a->t.defined() ? a->t : Tensor::zeros(DType::F32, {1});
    if (value.numel() != 1) kernelFail(ctx.node(), "ConstantOfShape: value must have one element");
    Tensor& y = ctx.allocate(0, value.dtype(), shape);
    fillElems(value, 0, y, 0, y.numel());
}

void rangeKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& s = ctx.input(0);
    const DType dt = s.dtype();
    if (ctx.input(1).dtype() != dt || ctx.input(2).dtype() != dt) kernelFail(ctx.node(), "Range: inputs differ in dtype");
    if (s.numel() != 1 || ctx.input(1).numel() != 1 || ctx.input(2).numel() != 1)
        kernelFail(ctx.node(), "Range: inputs must be scalars");
    auto run = [&](auto tag) {
        using T = decltype(tag);
        const T start = *s.data<T>(), limit = *ctx.input(1).data<T>(), delta = *ctx.input(2).data<T>();
        if (delta == T(0)) kernelFail(ctx.node(), "Range: delta is 0");
        // n = max(ceil((limit - start) / delta), 0)
        const double count = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
        if (!(count < double(int64_t{1} << 40))) kernelFail(ctx.node(), "Range: too many elements");
        const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(count));
        Tensor& y = ctx.allocate(0, dt, {n});
        T* out = y.data<T>();
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    };
    switch (dt) {
    case DType::F32: run(float{}); break;
    case DType::F64: run(double{}); break;
    case DType::I16: run(int16_t{}); break;
    case DType::I32: run(int32_t{}); break;
    case DType::I64: run(int64_t{}); break;
    default: kernelFail(ctx.node(), "Range: unsupported dtype " + std::string(ir::dtypeName(dt)));
    }
}

void identityKernel(KernelContext& ctx, int64_t, bool) { ctx.setOutput(0, ctx.input(0)); }

void dropoutKernel(KernelContext& ctx, int64_t opset, bool) {
    const Tensor& x = ctx.input(0);
    bool training = false;
    float ratio = ctx.node().attrFloat("ratio", 0.5f);
    if (opset >= 12) {
        if (ctx.hasInput(1) && ctx.input(1).numel() > 0) ratio = static_cast<float>(ctx.input(1).toDoubles()[0]);
        if (ctx.hasInput(2) && ctx.input(2).numel() > 0) training = ctx.input(2).toInt64s()[0] != 0;
    }
    // Training-mode dropout draws a random mask; its results cannot match any other runtime,
    // and OpStudio runs inference, so only the deterministic cases are supported.
    if (training && ratio != 0.f)
        kernelFail(ctx.node(), "Dropout: training_mode with ratio > 0 is not supported (inference only)");
    ctx.setOutput(0, x);
    if (ctx.outputCount() > 1 && ctx.wantsOutput(1)) {
        if (opset >= 10) {
            Tensor& m = ctx.allocate(1, DType::Bool, x.shape());
            std::fill(m.data<bool>(), m.data<bool>() + m.numel(), true);
        } else {
            Tensor& m = ctx.allocate(1, x.dtype(), x.shape());
            fillElems(scalarOf(ctx.node(), x.dtype(), 1.0), 0, m, 0, m.numel());
        }
    }
}

Tensor constantFromNode(const ir::Node& node) {
    for (const auto& a : node.attributes) {
        if (a.name == "value") return a.t;
        if (a.name == "value_float") return Tensor::scalar<float>(a.f);
        if (a.name == "value_int") return Tensor::scalar<int64_t>(a.i);
        if (a.name == "value_floats")
            return Tensor::fromVector<float>({static_cast<int64_t>(a.floats.size())}, a.floats);
        if (a.name == "value_ints") return Tensor::fromVector<int64_t>({static_cast<int64_t>(a.ints.size())}, a.ints);
        if (a.name == "value_string") {
            Tensor t(DType::String, {});
            t.strings()[0] = a.s;
            return t;
        }
        if (a.name == "value_strings") {
            Tensor t(DType::String, {static_cast<int64_t>(a.strings.size())});
            t.strings() = a.strings;
            return t;
        }
        if (a.name == "sparse_value") kernelFail(node, "Constant: sparse_value is not supported");
    }
    kernelFail(node, "Constant: no value attribute");
}

std::unique_ptr<Kernel> makeConstantKernel(const KernelInit& init) {
    Tensor value = constantFromNode(init.node);
    if (!value.defined()) kernelFail(init.node, "Constant: undefined value tensor");
    return std::make_unique<FunctionKernel>([value](KernelContext& ctx) { ctx.setOutput(0, value); });
}

void oneHotKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& indices = ctx.input(0);
    const auto depthValues = ctx.input(1).toDoubles();
    const Tensor& values = ctx.input(2);
    if (depthValues.size() != 1) kernelFail(ctx.node(), "OneHot: depth must have one element");
    if (values.numel() != 2) kernelFail(ctx.node(), "OneHot: values must have two elements");
    const double depthD = depthValues[0];
    if (!(depthD >= 1 && depthD < double(int64_t{1} << 32))) kernelFail(ctx.node(), "OneHot: invalid depth");
    const int64_t depth = static_cast<int64_t>(depthD);
    const int64_t rank = indices.rank();
    const int64_t axis = normalizeAxis(ctx.node().attrInt("axis", -1), rank + 1);
    Shape outShape = indices.shape();
    outShape.insert(outShape.begin() + axis, depth);
    checkedNumel(ctx.node(), outShape);
    Tensor& y = ctx.allocate(0, values.dtype(), outShape);
    fillElems(values, 0, y, 0, y.numel());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= indices.dim(static_cast<int>(d));
    for (int64_t d = axis; d < rank; ++d) inner *= indices.dim(static_cast<int>(d));
    const auto idx = indices.toDoubles();
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double v = std::trunc(idx[o * inner + i]);
            if (v < 0) v += static_cast<double>(depth); // negative indices count from the end (opset 11)
            if (!(v >= 0 && v < static_cast<double>(depth))) continue;
            const int64_t k = static_cast<int64_t>(v);
            fillElems(values, 1, y, (o * depth + k) * inner + i, 1);
        }
}

// Element i of a numeric tensor is non-zero (float16/bfloat16: any bit but the sign).
std::vector<bool> nonZeroMask(const ir::Node& node, const Tensor& x) {
    const int64_t n = x.numel();
    std::vector<bool> mask(n);
    if (x.dtype() == DType::F16 || x.dtype() == DType::BF16) {
        const uint16_t* p = x.data<uint16_t>();
        for (int64_t i = 0; i < n; ++i) mask[i] = (p[i] & 0x7fff) != 0;
        return mask;
    }
    if (x.dtype() == DType::String) {
        for (int64_t i = 0; i < n; ++i) mask[i] = !x.strings()[i].empty();
        return mask;
    }
    try {
        dispatchNumeric(x.dtype(), [&](auto tag) {
            using T = decltype(tag);
            const T* p = x.data<T>();
            for (int64_t i = 0; i < n; ++i) mask[i] = p[i] != T(0);
        });
    } catch (const Error& e) {
        kernelFail(node, e.what());
    }
    return mask;
}

void nonZeroKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    const auto mask = nonZeroMask(ctx.node(), x);
    const int64_t nnz = std::count(mask.begin(), mask.end(), true);
    const int rank = x.rank();
    Tensor& y = ctx.allocate(0, DType::I64, {rank, nnz});
    int64_t* out = y.data<int64_t>();
    std::vector<int64_t> idx(rank, 0);
    int64_t k = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
        if (mask[i]) {
            for (int d = 0; d < rank; ++d) out[d * nnz + k] = idx[d];
            ++k;
        }
        for (int d = rank - 1; d >= 0; --d) {
            if (++idx[d] < x.dim(d)) break;
            idx[d] = 0;
        }
    }
}

void triluKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) kernelFail(ctx.node(), "Trilu: input rank must be >= 2");
    if (isStringTensor(x)) kernelFail(ctx.node(), "Trilu: string tensors are not supported");
    int64_t k = ctx.hasInput(1) && ctx.input(1).numel() > 0 ? ctx.input(1).toInt64s()[0] : 0;
    // Any |k| beyond rows + cols selects everything or nothing; clamping keeps i + k from overflowing.
    k = std::clamp<int64_t>(k, -(x.dim(-2) + x.dim(-1) + 1), x.dim(-2) + x.dim(-1) + 1);
    const bool upper = ctx.node().attrInt("upper", 1) != 0;
    const int64_t rows = x.dim(-2), cols = x.dim(-1);
    Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
    if (y.numel() == 0) return;
    copyElems(x, 0, y, 0, x.numel());
    const size_t es = ir::dtypeSize(x.dtype());
    uint8_t* base = static_cast<uint8_t*>(y.raw());
    const int64_t mats = x.numel() / (rows * cols);
    // upper keeps j - i >= k, lower keeps j - i <= k; the rest becomes zero (all-zero bytes).
    for (int64_t m = 0; m < mats; ++m)
        for (int64_t i = 0; i < rows; ++i) {
            uint8_t* row = base + ((m * rows + i) * cols) * es;
            if (upper) {
                const int64_t zeroEnd = std::clamp<int64_t>(i + k, 0, cols);
                std::memset(row, 0, static_cast<size_t>(zeroEnd) * es);
            } else {
                const int64_t zeroBegin = std::clamp<int64_t>(i + k + 1, 0, cols);
                std::memset(row + zeroBegin * es, 0, static_cast<size_t>(cols - zeroBegin) * es);
            }
        }
}

void depthToSpaceKernel(KernelContext& ctx, int64_t, bool reference) {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 4) kernelFail(ctx.node(), "DepthToSpace: input must be 4-D");
    const int64_t b = ctx.node().attrInt("blocksize", 0);
    const std::string mode = ctx.node().attrString("mode", "DCR");
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (b <= 0 || b > c || c % (b * b) != 0)
        kernelFail(ctx.node(), "DepthToSpace: channels not divisible by blocksize^2");
    const int64_t oc = c / (b * b);
    Tensor& y = ctx.allocate(0, x.dtype(), {n, oc, h * b, w * b});
    // DCR: [N, b, b, C', H, W] -> perm [0, 3, 4, 1, 5, 2]; CRD: [N, C', b, b, H, W] -> [0, 1, 4, 2, 5, 3]
    if (mode == "DCR") transposeInto(x, {n, b, b, oc, h, w}, {0, 3, 4, 1, 5, 2}, y, reference);
    else if (mode == "CRD") transposeInto(x, {n, oc, b, b, h, w}, {0, 1, 4, 2, 5, 3}, y, reference);
    else kernelFail(ctx.node(), "DepthToSpace: unknown mode '" + mode + "'");
}

void spaceToDepthKernel(KernelContext& ctx, int64_t, bool reference) {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 4) kernelFail(ctx.node(), "SpaceToDepth: input must be 4-D");
    const int64_t b = ctx.node().attrInt("blocksize", 0);
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (b <= 0 || b > std::max<int64_t>({h, w, 1}) || h % b != 0 || w % b != 0)
        kernelFail(ctx.node(), "SpaceToDepth: H and W must divide by blocksize");
    Tensor& y = ctx.allocate(0, x.dtype(), {n, c * b * b, h / b, w / b});
    // [N, C, H/b, b, W/b, b] -> perm [0, 3, 5, 1, 2, 4]
    transposeInto(x, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, y, reference);
}

void eyeLikeKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 2) kernelFail(ctx.node(), "EyeLike: input must be 2-D");
    const int64_t dtAttr = ctx.node().attrInt("dtype", 0);
    if (dtAttr != 0 && !ir::isValidDType(static_cast<int32_t>(dtAttr))) kernelFail(ctx.node(), "EyeLike: bad dtype");
    const DType dt = dtAttr != 0 ? static_cast<DType>(dtAttr) : x.dtype();
    if (dt == DType::String) kernelFail(ctx.node(), "EyeLike: string dtype");
    const int64_t k = std::clamp<int64_t>(ctx.node().attrInt("k", 0), -(x.dim(0) + 1), x.dim(1) + 1);
    const Tensor one = scalarOf(ctx.node(), dt, 1.0);
    Tensor& y = ctx.allocate(0, dt, x.shape());
    std::memset(y.raw(), 0, y.byteSize());
    const int64_t rows = x.dim(0), cols = x.dim(1);
    for (int64_t i = 0; i < rows; ++i) {
        const int64_t j = i + k;
        if (j >= 0 && j < cols) fillElems(one, 0, y, i * cols + j, 1);
    }
}

void compressKernel(KernelContext& ctx, int64_t, bool) {
    const Tensor& x = ctx.input(0);
    const Tensor& cond = ctx.input(1);
    if (cond.rank() != 1) kernelFail(ctx.node(), "Compress: condition must be 1-D");
    const auto c = cond.toInt64s();
    const bool hasAxis = ctx.node().hasAttr("axis");
    // Without an axis the input is flattened first.
    const Shape shape = hasAxis ? x.shape() : Shape{x.numel()};
    const int rank = static_cast<int>(shape.size());
    const int64_t axis = hasAxis ? normalizeAxis(ctx.node().attrInt("axis", 0), rank) : 0;
    const int64_t dim = shape[axis];
    std::vector<int64_t> selected;
    for (int64_t i = 0; i < static_cast<int64_t>(c.size()); ++i)
        if (c[i] != 0) {
            if (i >= dim) kernelFail(ctx.node(), "Compress: condition selects beyond the axis");
            selected.push_back(i);
        }
    Shape outShape = shape;
    outShape[axis] = static_cast<int64_t>(selected.size());
    Tensor& y = ctx.allocate(0, x.dtype(), outShape);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= shape[d];
    for (int d = static_cast<int>(axis) + 1; d < rank; ++d) inner *= shape[d];
    const int64_t outDim = outShape[axis];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t s = 0; s < outDim; ++s)
            copyElems(x, (o * dim + selected[s]) * inner, y, (o * outDim + s) * inner, inner);
}

// ---------------------------------------------------------------------------------------------

using OpsetKernelFn = void (*)(KernelContext&, int64_t opset, bool reference);

// A factory binding the node's opset and the path (fast or reference) into the kernel.
KernelFactory factory(OpsetKernelFn f, bool reference) {
    return [f, reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const int64_t opset = init.opset;
        return std::make_unique<FunctionKernel>([f, opset, reference](KernelContext& ctx) { f(ctx, opset, reference); },
                                                reference ? "reference" : "eigen");
    };
}

} // namespace

void registerShapeKernels(KernelRegistry& r) {
    // Ops whose one implementation is already a plain copy / view.
    auto single = [&](const char* op, int64_t since, OpsetKernelFn f) { r.add({op, since, kLatestOpset, ""}, factory(f, true)); };
    // Ops with a fast (run/tile copies) and a reference (element loop) path.
    auto dual = [&](const char* op, int64_t since, OpsetKernelFn f) {
        r.add({op, since, kLatestOpset, ""}, factory(f, false), factory(f, true));
    };
    single("Reshape", 5, reshapeKernel);
    single("Flatten", 1, flattenKernel);
    dual("Transpose", 1, transposeKernel);
    single("Squeeze", 1, squeezeKernel);
    single("Unsqueeze", 1, unsqueezeKernel);
    single("Concat", 1, concatKernel);
    single("Split", 2, splitKernel);
    dual("Slice", 1, sliceKernel);
    dual("Expand", 8, expandKernel);
    dual("Tile", 6, tileKernel);
    dual("Pad", 2, padKernel);
    single("Shape", 1, shapeKernel);
    single("Size", 1, sizeKernel);
    single("ConstantOfShape", 9, constantOfShapeKernel);
    single("Range", 11, rangeKernel);
    single("Identity", 1, identityKernel);
    single("Dropout", 1, dropoutKernel);
    r.add({"Constant", 1, kLatestOpset, ""}, makeConstantKernel);
    single("OneHot", 9, oneHotKernel);
    single("NonZero", 9, nonZeroKernel);
    single("Trilu", 14, triluKernel);
    dual("DepthToSpace", 1, depthToSpaceKernel);
    dual("SpaceToDepth", 1, spaceToDepthKernel);
    single("EyeLike", 9, eyeLikeKernel);
    single("Compress", 9, compressKernel);
}

} // namespace opstudio::rt
