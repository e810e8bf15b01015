#pragma once
// Helpers shared by kernel families: dtype dispatch, numpy broadcasting, axis handling,
// OpenMP parallel loops.
#include "opstudio/ir/half.h"
#include "opstudio/ir/tensor.h"
#include "opstudio/runtime/kernel.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace opstudio::rt {

using ir::DType;
using ir::Tensor;
using Shape = std::vector<int64_t>;

/// Throws an Error with the node named.
[[noreturn]] void kernelFail(const ir::Node& node, const std::string& message);

/// Numpy-style broadcast of two shapes; throws when incompatible.
Shape broadcastShapes(const Shape& a, const Shape& b);
Shape broadcastShapes(const std::vector<Shape>& shapes);
/// Row-major strides.
Shape stridesOf(const Shape& shape);
/// Strides of `in` broadcast to `out` (0 on broadcast dims); `in` is right-aligned to `out`.
Shape broadcastStrides(const Shape& in, const Shape& out);
/// Normalises a possibly negative axis into [0, rank); throws when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank);

/// Calls f(i) for i in [0, n), split over OpenMP threads when n * costPerItem is large enough.
void parallelFor(int64_t n, const std::function<void(int64_t begin, int64_t end)>& f, int64_t costPerItem = 1);

/// Iterates all indices of `out` and gives the flat offsets into inputs with the given strides.
/// Used by reference broadcasting loops (fast paths special-case contiguous/scalar operands).
template <typename F> void forEachBroadcast(const Shape& out, const Shape& sa, const Shape& sb, F&& f) {
    const int rank = static_cast<int>(out.size());
    const int64_t n = ir::shapeNumel(out);
    if (n == 0) return;
    std::vector<int64_t> idx(rank, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < n; ++i) {
        f(i, oa, ob);
        for (int d = rank - 1; d >= 0; --d) {
            if (++idx[d] < out[d]) {
                oa += sa[d];
                ob += sb[d];
                break;
            }
            oa -= sa[d] * (out[d] - 1);
            ob -= sb[d] * (out[d] - 1);
            idx[d] = 0;
        }
    }
}

/// Dispatch on a dtype to a generic lambda taking a type tag: dispatchNumeric(dt, [&](auto tag){ using T = decltype(tag); ... }).
template <typename F> decltype(auto) dispatchNumeric(DType dt, F&& f) {
    switch (dt) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    case DType::I8: return f(int8_t{});
    case DType::U8: return f(uint8_t{});
    case DType::I16: return f(int16_t{});
    case DType::U16: return f(uint16_t{});
    case DType::I32: return f(int32_t{});
    case DType::U32: return f(uint32_t{});
    case DType::I64: return f(int64_t{});
    case DType::U64: return f(uint64_t{});
    case DType::Bool: return f(bool{});
    default: throw Error(std::string("unsupported dtype ") + std::string(ir::dtypeName(dt)));
    }
}
/// Float types only (f32, f64).
template <typename F> decltype(auto) dispatchFloat(DType dt, F&& f) {
    switch (dt) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    default: throw Error(std::string("unsupported dtype ") + std::string(ir::dtypeName(dt)) + " (expected float/double)");
    }
}

bool isHalfType(DType t);
/// float16/bfloat16 kernels run in float and round once at the end: widen the input ...
Tensor widenHalf(const Tensor& t);
/// ... and narrow the float result into the real (float16/bfloat16) output.
void narrowHalf(const Tensor& f, Tensor& out);

/// Copies a tensor's bytes into a freshly allocated output (for Identity-like ops that must not alias).
void copyTensorInto(const Tensor& src, Tensor& dst);

/// Physical layout of a 4-D activation. The logical shape stays [N, C, H, W] either way;
/// ChannelsLast stores the bytes in NHWC order (oneDNN's acdb), the layout its fp32
/// convolutions run in on this CPU.
enum class ActivationLayout : uint8_t { Plain, ChannelsLast };

/// A kernel that can read input 0 and write output 0 channels-last. The graph plan keeps
/// activations channels-last between consecutive convolutions (and the elementwise ops between
/// them), so the per-call nchw <-> nhwc reorders around every convolution disappear.
class ChannelsLastKernel {
public:
    virtual ~ChannelsLastKernel() = default;
    /// True when runWithLayout can be used for these inputs (4-D fp32 input on the fast path).
    virtual bool supportsChannelsLast(const KernelContext& ctx) const = 0;
    /// Runs with input 0 (and a same-shaped sum input, if any) in `in`/`out` layouts and output 0 in `out`.
    virtual void runWithLayout(KernelContext& ctx, ActivationLayout in, ActivationLayout out) = 0;
    /// False for kernels that read channels-last but always write plain (MaxPool): the plan then
    /// never asks them for a channels-last output.
    virtual bool writesChannelsLast() const { return true; }
};

} // namespace opstudio::rt
