#include "runtime/kernels/kernel_util.h"

#include <cstring>
#include <omp.h>

namespace opstudio::rt {

void kernelFail(const ir::Node& node, const std::string& message) {
    ErrorContext ctx;
    ctx.node = node.name;
    ctx.opType = node.opType;
    ctx.domain = node.domain;
    throw Error(message, ctx);
}

Shape broadcastShapes(const Shape& a, const Shape& b) {
    const size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (size_t i = 0; i < rank; ++i) {
        const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da == db || db == 1) out[i] = da;
        else if (da == 1) out[i] = db;
        else
            throw Error("shapes " + ir::shapeToString(a) + " and " + ir::shapeToString(b) + " cannot be broadcast");
    }
    return out;
}

Shape broadcastShapes(const std::vector<Shape>& shapes) {
    Shape out;
    for (const auto& s : shapes) out = broadcastShapes(out, s);
    return out;
}

Shape stridesOf(const Shape& shape) {
    Shape s(shape.size(), 1);
    for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
    return s;
}

Shape broadcastStrides(const Shape& in, const Shape& out) {
    Shape s(out.size(), 0);
    const Shape own = stridesOf(in);
    const size_t off = out.size() - in.size();
    for (size_t i = 0; i < in.size(); ++i) s[i + off] = in[i] == 1 ? 0 : own[i];
    return s;
}

int64_t normalizeAxis(int64_t axis, int64_t rank) {
    const int64_t r = axis < 0 ? axis + rank : axis;
    // No axis is valid for a scalar (rank 0): accepting axis 0 there let kernels index an empty shape.
    if (r < 0 || r >= rank)
        throw Error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    return r;
}

void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& f, int64_t costPerItem) {
    if (n <= 0) return;
    // Below ~32k units of work the fork/join costs more than it saves.
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads <= 1 || n * std::max<int64_t>(costPerItem, 1) < 32768 || n < 2) {
        f(0, n);
        return;
    }
    const int chunks = static_cast<int>(std::min<int64_t>(threads, n));
#pragma omp parallel for num_threads(chunks) schedule(static)
    for (int c = 0; c < chunks; ++c) {
        const int64_t begin = n * c / chunks;
        const int64_t end = n * (c + 1) / chunks;
        if (begin < end) f(begin, end);
    }
}

bool isHalfType(DType t) { return t == DType::F16 || t == DType::BF16; }

Tensor widenHalf(const Tensor& t) {
    Tensor out(DType::F32, t.shape());
    const uint16_t* in = t.data<uint16_t>();
    float* o = out.data<float>();
    const int64_t n = t.numel();
    if (t.dtype() == DType::F16)
        for (int64_t i = 0; i < n; ++i) o[i] = ir::halfToFloat(in[i]);
    else
        for (int64_t i = 0; i < n; ++i) o[i] = ir::bfloat16ToFloat(in[i]);
    return out;
}

void narrowHalf(const Tensor& f, Tensor& out) {
    const float* in = f.data<float>();
    uint16_t* o = out.data<uint16_t>();
    const int64_t n = f.numel();
    if (out.dtype() == DType::F16)
        for (int64_t i = 0; i < n; ++i) o[i] = ir::floatToHalf(in[i]);
    else
        for (int64_t i = 0; i < n; ++i) o[i] = ir::floatToBfloat16(in[i]);
}

void copyTensorInto(const Tensor& src, Tensor& dst) {
    if (src.dtype() == DType::String) {
        dst.strings() = src.strings();
        return;
    }
    if (src.byteSize() > 0) std::memcpy(dst.raw(), src.raw(), src.byteSize());
}

} // namespace opstudio::rt
