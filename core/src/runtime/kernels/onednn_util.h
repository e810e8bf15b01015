#pragma once
// oneDNN plumbing shared by the Conv/MatMul/Gemm kernels (and later the int8 ones):
// one CPU engine for the process, a stream per thread, dims/tag/dtype conversions,
// weights packed once into a primitive's preferred layout, and fused activations
// (post-ops on the fast path, plain loops on the reference path).
#include "runtime/kernels/kernel_util.h"

#include <dnnl.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace opstudio::rt {
class TensorPool;
}

namespace opstudio::rt::onednn {

/// The process-wide CPU engine (oneDNN engines are expensive to create and thread-safe to share).
dnnl::engine& engine();
/// A stream for the calling thread (in-order CPU stream; cheap, but kept per thread anyway).
dnnl::stream& stream();

/// Our shape -> oneDNN dims.
dnnl::memory::dims toDims(const Shape& shape);
/// Plain row-major tag for a rank (a, ab, abc, ... up to 6); throws above.
dnnl::memory::format_tag plainTag(int rank);
/// oneDNN data type for a dtype (f32, s8, u8, s32, bf16, f16); throws for the rest.
dnnl::memory::data_type dataType(DType dtype);
/// Row-major descriptor of a tensor-like shape.
dnnl::memory::desc plainDesc(const Shape& shape, DType dtype);

/// Wraps tensor bytes without copying (oneDNN never frees user memory).
dnnl::memory wrap(const dnnl::memory::desc& desc, const void* data);

/// Returns `user` when it already has layout `wanted`, otherwise a new memory holding a reordered copy.
dnnl::memory reorderedTo(const dnnl::memory& user, const dnnl::memory::desc& wanted);

/// A 4-D tensor converted from layout `from` to `to` (the same tensor when they agree): an
/// nchw <-> nhwc oneDNN reorder into pooled memory (`pool` may be null: plain allocation).
Tensor convertLayout(const Tensor& t, ActivationLayout from, ActivationLayout to, TensorPool* pool = nullptr);

/// Weights packed once into a primitive's preferred (blocked) layout. Different input shapes
/// usually pick the same layout, so the packed copy is reused; when a primitive wants another
/// layout a second copy is packed and kept too (never more than a handful).
class PackedWeights {
public:
    PackedWeights() = default;
    /// `plain` describes the user layout of `data`, which must outlive this object (a constant tensor).
    PackedWeights(dnnl::memory::desc plain, const void* data) : m_plain(std::move(plain)), m_data(data) {}
    bool valid() const { return m_data != nullptr; }
    /// Memory in layout `wanted`, packing on first request for that layout. Thread-safe.
    dnnl::memory get(const dnnl::memory::desc& wanted);

private:
    dnnl::memory::desc m_plain;
    const void* m_data = nullptr;
    std::mutex m_mutex;
    std::vector<dnnl::memory> m_packed;
};

/// An activation fused into a Conv/MatMul/Gemm, as com.microsoft FusedConv spells it:
/// attribute "activation" (Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid, or empty) and
/// "activation_params" (LeakyRelu: alpha; Clip: min, max; HardSigmoid: alpha, beta), or
/// FusedGemm's "activation_alpha"/"activation_beta".
struct FusedActivation {
    enum class Kind { None, Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid };
    Kind kind = Kind::None;
    float alpha = 0.f;
    float beta = 0.f;

    /// Reads "activation"/"activation_params"; kernelFail for an unknown activation.
    static FusedActivation fromNode(const ir::Node& node);
    bool active() const { return kind != Kind::None; }
    /// Cheap enough to apply in a vectorized loop after the primitive (Relu, LeakyRelu, Clip,
    /// HardSigmoid); Sigmoid and Tanh stay oneDNN post-ops.
    bool cheap() const { return kind != Kind::None && kind != Kind::Sigmoid && kind != Kind::Tanh; }
    /// Appends the activation as eltwise post-ops (HardSigmoid = linear then clip to [0, 1]).
    void appendTo(dnnl::post_ops& ops) const;
    /// Reference: applies the activation to n values in place.
    void apply(float* data, int64_t n) const;
    void apply(double* data, int64_t n) const;
};

/// Small cache keyed by input dims: primitives are created on the first run with a new shape.
/// Linear search; a model sees one or a few shapes per node.
template <typename Entry> class ShapeCache {
public:
    /// The entry for `key`, made by `make()` (returning Entry) on a miss. Shared so that an
    /// evicted entry stays alive for a run still using it.
    template <typename Make> std::shared_ptr<Entry> get(const std::vector<Shape>& key, Make&& make) {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto& e : m_entries)
            if (e.first == key) return e.second;
        if (m_entries.size() >= kMaxEntries) m_entries.erase(m_entries.begin());
        m_entries.emplace_back(key, std::make_shared<Entry>(make()));
        return m_entries.back().second;
    }

private:
    static constexpr size_t kMaxEntries = 16;
    std::mutex m_mutex;
    std::vector<std::pair<std::vector<Shape>, std::shared_ptr<Entry>>> m_entries;
};

/// Concrete shape of a value from the model's shape information, when every dim is known.
/// Lets factories build primitives (and pack weights) at session build instead of the first run.
std::optional<Shape> knownShape(const KernelInit& init, size_t input);
/// True unless the model says input `input` has a dtype that is not computed in f32 (f16 and
/// bf16 are, through halfAsFloat): the fast path is then never taken, so the kernel reports
/// "reference" to profiles.
bool mayBeF32(const KernelInit& init, size_t input);

/// Wraps a float kernel factory so that float16/bfloat16 operands are computed in fp32: inputs
/// are widened per run (constant ones once, at build, so weights are still packed once) and
/// outputs narrowed back (round to nearest even). Other dtypes go straight to the inner kernel.
KernelFactory halfAsFloat(KernelFactory inner);

} // namespace opstudio::rt::onednn
