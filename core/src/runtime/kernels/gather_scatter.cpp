// Indexed reads and writes: Gather, GatherElements, GatherND, Scatter (opset 9-10),
// ScatterElements and ScatterND. Every index is checked against its dim; negative indices
// count from the end (index + dim), anything else out of range is an error, never a read or
// write outside the tensors. Elements move by dtypeSize so every dtype works (strings by value);
// the add/mul/max/min reductions need a numeric dtype.
#include "runtime/kernels/kernel_util.h"

#include <algorithm>
#include <cstring>

namespace opstudio::rt {

namespace {

// Copies n consecutive elements src[srcOff..] -> dst[dstOff..].
void copyElems(const Tensor& src, int64_t srcOff, Tensor& dst, int64_t dstOff, int64_t n) {
    if (n <= 0) return;
    if (src.dtype() == DType::String) {
        const auto& s = src.strings();
        auto& d = dst.strings();
        std::copy(s.begin() + srcOff, s.begin() + srcOff + n, d.begin() + dstOff);
        return;
    }
    const size_t es = ir::dtypeSize(src.dtype());
    std::memcpy(static_cast<uint8_t*>(dst.raw()) + dstOff * es, static_cast<const uint8_t*>(src.raw()) + srcOff * es,
                static_cast<size_t>(n) * es);
}

// Index values (int32 or int64) as int64.
std::vector<int64_t> readIndices(const ir::Node& node, const Tensor& t) {
    if (t.dtype() != DType::I64 && t.dtype() != DType::I32)
        kernelFail(node, "indices must be int32 or int64, got " + std::string(ir::dtypeName(t.dtype())));
    return t.toInt64s();
}

// Wraps a negative index and checks the range.
int64_t wrapIndex(const ir::Node& node, int64_t i, int64_t dim) {
    const int64_t w = i < 0 ? i + dim : i;
    if (w < 0 || w >= dim)
        kernelFail(node, "index " + std::to_string(i) + " is out of range for a dim of " + std::to_string(dim));
    return w;
}

int64_t product(const Shape& s, size_t begin, size_t end) {
    int64_t p = 1;
    for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
    return p;
}

// ---------------------------------------------------------------------------------------------

// out[o, k, i] = data[o, indices[k], i] where o spans dims before the axis and i those after.
void gatherKernel(KernelContext& ctx, bool reference) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int rank = data.rank();
    if (rank == 0) kernelFail(ctx.node(), "Gather: data must have rank >= 1");
    const int64_t axis = normalizeAxis(ctx.node().attrInt("axis", 0), rank);
    const int64_t dim = data.dim(static_cast<int>(axis));
    auto idx = readIndices(ctx.node(), indices);
    for (auto& i : idx) i = wrapIndex(ctx.node(), i, dim);
    Shape outShape(data.shape().begin(), data.shape().begin() + axis);
    outShape.insert(outShape.end(), indices.shape().begin(), indices.shape().end());
    outShape.insert(outShape.end(), data.shape().begin() + axis + 1, data.shape().end());
    Tensor& y = ctx.allocate(0, data.dtype(), outShape);
    const int64_t outer = product(data.shape(), 0, axis);
    const int64_t inner = product(data.shape(), axis + 1, rank);
    const int64_t count = static_cast<int64_t>(idx.size());
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < count; ++k) {
            const int64_t src = (o * dim + idx[k]) * inner, dst = (o * count + k) * inner;
            if (reference)
                for (int64_t i = 0; i < inner; ++i) copyElems(data, src + i, y, dst + i, 1);
            else
                copyElems(data, src, y, dst, inner);
        }
}

// Walks every position of `shape` and gives its flat index and its multi-index.
template <typename F> void forEachIndex(const Shape& shape, F&& f) {
    const int64_t n = ir::shapeNumel(shape);
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t i = 0; i < n; ++i) {
        f(i, idx);
        for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

// Flat offset in `target` of the position `idx` with the axis coordinate replaced by `axisIndex`.
// Checks that the other coordinates fit `target` (indices may not be larger than data there).
int64_t elementOffset(const ir::Node& node, const std::vector<int64_t>& idx, const Shape& target,
                      const Shape& targetStrides, int64_t axis, int64_t axisIndex) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
        const int64_t c = static_cast<int64_t>(d) == axis ? axisIndex : idx[d];
        if (c >= target[d]) kernelFail(node, "indices shape exceeds the data shape");
        off += c * targetStrides[d];
    }
    return off;
}

// out[i][j][k] = data[index[i][j][k]][j][k] (axis 0), and likewise on other axes.
void gatherElementsKernel(KernelContext& ctx, bool) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int rank = data.rank();
    if (rank == 0 || indices.rank() != rank) kernelFail(ctx.node(), "GatherElements: data and indices ranks differ");
    const int64_t axis = normalizeAxis(ctx.node().attrInt("axis", 0), rank);
    const auto idx = readIndices(ctx.node(), indices);
    const int64_t dim = data.dim(static_cast<int>(axis));
    const Shape strides = stridesOf(data.shape());
    Tensor& y = ctx.allocate(0, data.dtype(), indices.shape());
    forEachIndex(indices.shape(), [&](int64_t i, const std::vector<int64_t>& pos) {
        const int64_t src = elementOffset(ctx.node(), pos, data.shape(), strides, axis, wrapIndex(ctx.node(), idx[i], dim));
        copyElems(data, src, y, i, 1);
    });
}

// Each last-axis tuple of indices addresses a slice data[batch, i0, i1, ..., i(k-1), :...].
void gatherNDKernel(KernelContext& ctx, bool) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int64_t b = ctx.node().attrInt("batch_dims", 0);
    const int64_t r = data.rank(), q = indices.rank();
    if (q < 1 || r < 1) kernelFail(ctx.node(), "GatherND: data and indices need rank >= 1");
    if (b < 0 || b >= std::min(r, q)) kernelFail(ctx.node(), "GatherND: invalid batch_dims");
    const int64_t k = indices.dim(-1);
    if (k < 1 || k > r - b) kernelFail(ctx.node(), "GatherND: indices last dim must be in [1, rank - batch_dims]");
    for (int64_t d = 0; d < b; ++d)
        if (indices.dim(static_cast<int>(d)) != data.dim(static_cast<int>(d)))
            kernelFail(ctx.node(), "GatherND: batch dims of data and indices differ");
    const auto idx = readIndices(ctx.node(), indices);
    Shape outShape(indices.shape().begin(), indices.shape().end() - 1);
    outShape.insert(outShape.end(), data.shape().begin() + b + k, data.shape().end());
    Tensor& y = ctx.allocate(0, data.dtype(), outShape);
    const Shape strides = stridesOf(data.shape());
    const int64_t batches = product(data.shape(), 0, b);
    const int64_t batchStride = product(data.shape(), b, r);
    const int64_t tuples = product(indices.shape(), b, q - 1);
    const int64_t slice = product(data.shape(), b + k, r);
    for (int64_t bi = 0; bi < batches; ++bi)
        for (int64_t t = 0; t < tuples; ++t) {
            const int64_t* tuple = idx.data() + (bi * tuples + t) * k;
            int64_t off = bi * batchStride;
            for (int64_t j = 0; j < k; ++j)
                off += wrapIndex(ctx.node(), tuple[j], data.dim(static_cast<int>(b + j))) * strides[b + j];
            copyElems(data, off, y, (bi * tuples + t) * slice, slice);
        }
}

// ---------------------------------------------------------------------------------------------

enum class Reduction { None, Add, Mul, Max, Min };

Reduction parseReduction(const ir::Node& node) {
    const std::string s = node.attrString("reduction", "none");
    if (s == "none") return Reduction::None;
    if (s == "add") return Reduction::Add;
    if (s == "mul") return Reduction::Mul;
    if (s == "max") return Reduction::Max;
    if (s == "min") return Reduction::Min;
    kernelFail(node, "unsupported reduction '" + s + "'");
}

// y[dst .. dst+n) (op)= updates[src .. src+n).
void applyUpdate(const ir::Node& node, Reduction red, const Tensor& updates, int64_t src, Tensor& y, int64_t dst,
                 int64_t n) {
    if (red == Reduction::None) return copyElems(updates, src, y, dst, n);
    if (!(ir::isFloating(y.dtype()) || ir::isInteger(y.dtype())) || y.dtype() == DType::F16 ||
        y.dtype() == DType::BF16)
        kernelFail(node, "reduction needs a float32/float64/integer dtype, got " + std::string(ir::dtypeName(y.dtype())));
    dispatchNumeric(y.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool>) {
            kernelFail(node, "reduction on bool tensors");
        } else {
            const T* u = updates.data<T>() + src;
            T* o = y.data<T>() + dst;
            for (int64_t i = 0; i < n; ++i) {
                switch (red) {
                case Reduction::Add: o[i] = static_cast<T>(o[i] + u[i]); break;
                case Reduction::Mul: o[i] = static_cast<T>(o[i] * u[i]); break;
                case Reduction::Max: o[i] = std::max(o[i], u[i]); break;
                case Reduction::Min: o[i] = std::min(o[i], u[i]); break;
                case Reduction::None: o[i] = u[i]; break;
                }
            }
        }
    });
}

// output = data; output[... index[i][j] ... (at axis)] (op)= updates[i][j] for every update.
// Updates apply in order, so with duplicate indices and no reduction the last one wins.
void scatterElementsKernel(KernelContext& ctx, bool) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    const int rank = data.rank();
    if (rank == 0 || indices.rank() != rank || updates.shape() != indices.shape())
        kernelFail(ctx.node(), "ScatterElements: indices and updates must have the data's rank and one shape");
    if (updates.dtype() != data.dtype()) kernelFail(ctx.node(), "ScatterElements: updates dtype differs from data");
    const Reduction red = parseReduction(ctx.node());
    const int64_t axis = normalizeAxis(ctx.node().attrInt("axis", 0), rank);
    const auto idx = readIndices(ctx.node(), indices);
    const int64_t dim = data.dim(static_cast<int>(axis));
    const Shape strides = stridesOf(data.shape());
    Tensor& y = ctx.allocate(0, data.dtype(), data.shape());
    copyElems(data, 0, y, 0, data.numel());
    forEachIndex(indices.shape(), [&](int64_t i, const std::vector<int64_t>& pos) {
        const int64_t dst = elementOffset(ctx.node(), pos, data.shape(), strides, axis, wrapIndex(ctx.node(), idx[i], dim));
        applyUpdate(ctx.node(), red, updates, i, y, dst, 1);
    });
}

// output = data; output[indices[t]] (op)= updates[t] where each tuple addresses a slice.
void scatterNDKernel(KernelContext& ctx, bool) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    const int64_t r = data.rank(), q = indices.rank();
    if (q < 1 || r < 1) kernelFail(ctx.node(), "ScatterND: data and indices need rank >= 1");
    const int64_t k = indices.dim(-1);
    if (k < 1 || k > r) kernelFail(ctx.node(), "ScatterND: indices last dim must be in [1, rank]");
    if (updates.dtype() != data.dtype()) kernelFail(ctx.node(), "ScatterND: updates dtype differs from data");
    // updates.shape == indices.shape[:-1] + data.shape[k:]
    Shape expected(indices.shape().begin(), indices.shape().end() - 1);
    expected.insert(expected.end(), data.shape().begin() + k, data.shape().end());
    if (updates.shape() != expected)
        kernelFail(ctx.node(), "ScatterND: updates shape must be " + ir::shapeToString(expected));
    const Reduction red = parseReduction(ctx.node());
    const auto idx = readIndices(ctx.node(), indices);
    const Shape strides = stridesOf(data.shape());
    const int64_t tuples = product(indices.shape(), 0, q - 1);
    const int64_t slice = product(data.shape(), k, r);
    Tensor& y = ctx.allocate(0, data.dtype(), data.shape());
    copyElems(data, 0, y, 0, data.numel());
    for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; ++j)
            off += wrapIndex(ctx.node(), idx[t * k + j], data.dim(static_cast<int>(j))) * strides[j];
        applyUpdate(ctx.node(), red, updates, t * slice, y, off, slice);
    }
}

using KernelFn = void (*)(KernelContext&, bool reference);

KernelFactory factory(KernelFn f, bool reference) {
    return [f, reference](const KernelInit&) -> std::unique_ptr<Kernel> {
        return std::make_unique<FunctionKernel>([f, reference](KernelContext& ctx) { f(ctx, reference); },
                                                reference ? "reference" : "eigen");
    };
}

} // namespace

void registerGatherScatterKernels(KernelRegistry& r) {
    r.add({"Gather", 1, kLatestOpset, ""}, factory(gatherKernel, false), factory(gatherKernel, true));
    r.add({"GatherElements", 11, kLatestOpset, ""}, factory(gatherElementsKernel, true));
    r.add({"GatherND", 11, kLatestOpset, ""}, factory(gatherNDKernel, true));
    // Scatter (9-10) is ScatterElements without reduction; it was renamed at opset 11.
    r.add({"Scatter", 9, 10, ""}, factory(scatterElementsKernel, true));
    r.add({"ScatterElements", 11, kLatestOpset, ""}, factory(scatterElementsKernel, true));
    r.add({"ScatterND", 11, kLatestOpset, ""}, factory(scatterNDKernel, true));
}

} // namespace opstudio::rt
