#include "runtime/kernels/onednn_util.h"

#include "opstudio/runtime/graph_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace opstudio::rt::onednn {

dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& stream() {
    thread_local dnnl::stream s(engine());
    return s;
}

dnnl::memory::dims toDims(const Shape& shape) {
    return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::format_tag plainTag(int rank) {
    using tag = dnnl::memory::format_tag;
    switch (rank) {
    case 1:
        return tag::a;
    case 2:
        return tag::ab;
    case 3:
        return tag::abc;
    case 4:
        return tag::abcd;
    case 5:
        return tag::abcde;
    case 6:
        return tag::abcdef;
    default:
        throw Error("oneDNN: no plain layout for rank " + std::to_string(rank));
    }
}

dnnl::memory::data_type dataType(DType dtype) {
    using dt = dnnl::memory::data_type;
    switch (dtype) {
    case DType::F32:
        return dt::f32;
    case DType::I8:
        return dt::s8;
    case DType::U8:
        return dt::u8;
    case DType::I32:
        return dt::s32;
    case DType::BF16:
        return dt::bf16;
    case DType::F16:
        return dt::f16;
    default:
        throw Error("oneDNN: unsupported dtype " + std::string(ir::dtypeName(dtype)));
    }
}

dnnl::memory::desc plainDesc(const Shape& shape, DType dtype) {
    // oneDNN has no rank-0 memory; a scalar is a 1-element vector.
    if (shape.empty()) return dnnl::memory::desc({1}, dataType(dtype), dnnl::memory::format_tag::a);
    return dnnl::memory::desc(toDims(shape), dataType(dtype), plainTag(static_cast<int>(shape.size())));
}

dnnl::memory wrap(const dnnl::memory::desc& desc, const void* data) {
    return dnnl::memory(desc, engine(), const_cast<void*>(data));
}

dnnl::memory reorderedTo(const dnnl::memory& user, const dnnl::memory::desc& wanted) {
    if (user.get_desc() == wanted) return user;
    dnnl::memory out(wanted, engine());
    dnnl::reorder(user, out).execute(stream(), const_cast<dnnl::memory&>(user), out);
    stream().wait();
    return out;
}

Tensor convertLayout(const Tensor& t, ActivationLayout from, ActivationLayout to, TensorPool* pool) {
    if (from == to) return t;
    if (t.rank() != 4)
        throw Error("layout conversion needs a 4-D tensor, got " + ir::shapeToString(t.shape()));
    Tensor out =
        pool ? Tensor::view(t.dtype(), t.shape(), pool->acquire(t.byteSize())) : Tensor(t.dtype(), t.shape());
    if (t.numel() == 0) return out;
    using tag = dnnl::memory::format_tag;
    const auto dims = toDims(t.shape());
    const auto dt = dataType(t.dtype());
    auto desc = [&](ActivationLayout l) {
        return dnnl::memory::desc(dims, dt, l == ActivationLayout::ChannelsLast ? tag::acdb : tag::abcd);
    };
    dnnl::memory src = wrap(desc(from), t.raw()), dst = wrap(desc(to), out.raw());
    dnnl::reorder(src, dst).execute(stream(), src, dst);
    stream().wait();
    return out;
}

dnnl::memory PackedWeights::get(const dnnl::memory::desc& wanted) {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (auto& m : m_packed)
        if (m.get_desc() == wanted) return m;
    dnnl::memory user = wrap(m_plain, m_data);
    if (m_plain == wanted) {
        m_packed.push_back(user);
        return user;
    }
    dnnl::memory packed(wanted, engine());
    dnnl::reorder(user, packed).execute(stream(), user, packed);
    stream().wait();
    m_packed.push_back(packed);
    return packed;
}

FusedActivation FusedActivation::fromNode(const ir::Node& node) {
    FusedActivation a;
    const std::string name = node.attrString("activation", "");
    std::vector<float> p = node.attrFloats("activation_params");
    // com.microsoft FusedGemm spells the parameters activation_alpha / activation_beta.
    if (p.empty() && node.hasAttr("activation_alpha")) {
        p.push_back(node.attrFloat("activation_alpha", 0.f));
        if (node.hasAttr("activation_beta")) p.push_back(node.attrFloat("activation_beta", 0.f));
    }
    auto param = [&](size_t i, float fallback) { return i < p.size() ? p[i] : fallback; };
    if (name.empty() || name == "None" || name == "Identity") {
        a.kind = Kind::None;
    } else if (name == "Relu") {
        a.kind = Kind::Relu;
    } else if (name == "LeakyRelu") {
        a.kind = Kind::LeakyRelu;
        a.alpha = param(0, 0.01f);
    } else if (name == "Sigmoid") {
        a.kind = Kind::Sigmoid;
    } else if (name == "Tanh") {
        a.kind = Kind::Tanh;
    } else if (name == "Clip") {
        a.kind = Kind::Clip;
        a.alpha = param(0, std::numeric_limits<float>::lowest());
        a.beta = param(1, std::numeric_limits<float>::max());
    } else if (name == "HardSigmoid") {
        a.kind = Kind::HardSigmoid;
        a.alpha = param(0, 0.2f);
        a.beta = param(1, 0.5f);
    } else {
        kernelFail(node, "unsupported fused activation '" + name + "'");
    }
    return a;
}

void FusedActivation::appendTo(dnnl::post_ops& ops) const {
    using alg = dnnl::algorithm;
    switch (kind) {
    case Kind::None:
        break;
    case Kind::Relu:
        ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f);
        break;
    case Kind::LeakyRelu:
        ops.append_eltwise(1.f, alg::eltwise_relu, alpha, 0.f);
        break;
    case Kind::Sigmoid:
        ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f);
        break;
    case Kind::Tanh:
        ops.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f);
        break;
    case Kind::Clip:
        ops.append_eltwise(1.f, alg::eltwise_clip, alpha, beta);
        break;
    case Kind::HardSigmoid:
        // oneDNN 2.6 has no hardsigmoid: max(0, min(1, alpha*x + beta)) = clip(linear(x)).
        ops.append_eltwise(1.f, alg::eltwise_linear, alpha, beta);
        ops.append_eltwise(1.f, alg::eltwise_clip, 0.f, 1.f);
        break;
    }
}

/// One loop per kind (the switch outside the loop), so the compiler vectorizes the cheap ones.
template <typename T> static void applyActivation(const FusedActivation& a, T* x, int64_t n) {
    using Kind = FusedActivation::Kind;
    const T alpha = static_cast<T>(a.alpha), beta = static_cast<T>(a.beta);
    switch (a.kind) {
    case Kind::None:
        break;
    case Kind::Relu:
        for (int64_t i = 0; i < n; ++i)
            x[i] = x[i] > T(0) ? x[i] : T(0);
        break;
    case Kind::LeakyRelu:
        for (int64_t i = 0; i < n; ++i)
            x[i] = x[i] >= T(0) ? x[i] : alpha * x[i];
        break;
    case Kind::Sigmoid:
        for (int64_t i = 0; i < n; ++i)
            x[i] = T(1) / (T(1) + std::exp(-x[i]));
        break;
    case Kind::Tanh:
        for (int64_t i = 0; i < n; ++i)
            x[i] = std::tanh(x[i]);
        break;
    case Kind::Clip:
        for (int64_t i = 0; i < n; ++i)
            x[i] = std::min(std::max(x[i], alpha), beta);
        break;
    case Kind::HardSigmoid:
        for (int64_t i = 0; i < n; ++i)
            x[i] = std::min(T(1), std::max(T(0), alpha * x[i] + beta));
        break;
    }
}

void FusedActivation::apply(float* data, int64_t n) const {
    if (active()) applyActivation(*this, data, n);
}
void FusedActivation::apply(double* data, int64_t n) const {
    if (active()) applyActivation(*this, data, n);
}

std::optional<Shape> knownShape(const KernelInit& init, size_t input) {
    if (!init.model || !init.model->graph || input >= init.node.inputs.size()) return std::nullopt;
    const std::string& name = init.node.inputs[input];
    if (name.empty()) return std::nullopt;
    const ir::Value* v = init.model->graph->findValue(name);
    if (!v || !v->shape) return std::nullopt;
    return ir::concreteShape(v->shape);
}

bool mayBeF32(const KernelInit& init, size_t input) {
    if (input < init.constInputs.size() && init.constInputs[input])
        return init.constInputs[input]->dtype() == DType::F32;
    if (!init.model || !init.model->graph || input >= init.node.inputs.size()) return true;
    const ir::Value* v = init.model->graph->findValue(init.node.inputs[input]);
    return !v || !v->hasType || v->dtype == DType::Undefined || v->dtype == DType::F32 ||
           v->dtype == DType::F16 || v->dtype == DType::BF16;
}

namespace {

bool isHalf(DType t) {
    return t == DType::F16 || t == DType::BF16;
}

Tensor widen(const Tensor& t) {
    Tensor out(DType::F32, t.shape());
    const uint16_t* src = t.data<uint16_t>();
    float* dst = out.data<float>();
    const int64_t n = t.numel();
    if (t.dtype() == DType::F16)
        for (int64_t i = 0; i < n; ++i)
            dst[i] = ir::halfToFloat(src[i]);
    else
        for (int64_t i = 0; i < n; ++i)
            dst[i] = ir::bfloat16ToFloat(src[i]);
    return out;
}

void narrow(const Tensor& wide, Tensor& out) {
    const float* src = wide.data<float>();
    uint16_t* dst = out.data<uint16_t>();
    const int64_t n = wide.numel();
    if (out.dtype() == DType::F16)
        for (int64_t i = 0; i < n; ++i)
            dst[i] = ir::floatToHalf(src[i]);
    else
        for (int64_t i = 0; i < n; ++i)
            dst[i] = ir::floatToBfloat16(src[i]);
}

class HalfAsFloatKernel final : public Kernel, public ChannelsLastKernel {
public:
    HalfAsFloatKernel(const KernelInit& init, const KernelFactory& inner)
        : m_constHalf(init.constInputs.size()), m_constWide(init.constInputs.size()) {
        std::vector<const Tensor*> consts(init.constInputs.size(), nullptr);
        for (size_t i = 0; i < consts.size(); ++i) {
            const Tensor* c = init.constInputs[i];
            if (c && isHalf(c->dtype())) {
                m_constHalf[i] = *c;
                m_constWide[i] = widen(*c);
                consts[i] = &m_constWide[i];
            } else {
                consts[i] = c;
            }
        }
        KernelInit wide{init.node, init.opset, consts, init.model, init.threads, init.reference};
        m_inner = inner(wide);
    }

    std::string_view path() const override { return m_inner->path(); }

    // Channels-last runs only ever carry fp32 activations: forward them to the inner kernel.
    bool supportsChannelsLast(const KernelContext& ctx) const override {
        auto* inner = dynamic_cast<ChannelsLastKernel*>(m_inner.get());
        if (!inner) return false;
        for (size_t i = 0; i < ctx.inputCount(); ++i)
            if (ctx.hasInput(i) && isHalf(ctx.input(i).dtype())) return false;
        return inner->supportsChannelsLast(ctx);
    }
    void runWithLayout(KernelContext& ctx, ActivationLayout in, ActivationLayout out) override {
        dynamic_cast<ChannelsLastKernel&>(*m_inner).runWithLayout(ctx, in, out);
    }

    void run(KernelContext& ctx) override {
        DType half = DType::Undefined;
        for (size_t i = 0; i < ctx.inputCount(); ++i)
            if (ctx.hasInput(i) && isHalf(ctx.input(i).dtype())) half = ctx.input(i).dtype();
        if (half == DType::Undefined) return m_inner->run(ctx);
        std::vector<Tensor> wide(ctx.inputCount());
        std::vector<const Tensor*> inputs(ctx.inputCount(), nullptr);
        for (size_t i = 0; i < ctx.inputCount(); ++i) {
            if (!ctx.hasInput(i)) continue;
            const Tensor& t = ctx.input(i);
            if (!isHalf(t.dtype())) {
                inputs[i] = &t;
            } else if (i < m_constHalf.size() && m_constHalf[i].defined() &&
                       m_constHalf[i].raw() == t.raw()) {
                inputs[i] = &m_constWide[i]; // widened once at build (and packed by the inner kernel)
            } else {
                wide[i] = widen(t);
                inputs[i] = &wide[i];
            }
        }
        std::vector<Tensor> outs(ctx.outputCount());
        KernelContext inner(ctx.node(), inputs, outs, ctx.scope(), nullptr, ctx.threads());
        m_inner->run(inner);
        for (size_t o = 0; o < outs.size(); ++o) {
            if (!outs[o].defined()) continue;
            if (outs[o].dtype() != DType::F32) {
                ctx.setOutput(o, outs[o]);
                continue;
            }
            narrow(outs[o], ctx.allocate(o, half, outs[o].shape()));
        }
    }

private:
    std::vector<Tensor> m_constHalf, m_constWide;
    std::unique_ptr<Kernel> m_inner;
};

} // namespace

KernelFactory halfAsFloat(KernelFactory inner) {
    return [inner = std::move(inner)](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<HalfAsFloatKernel>(init, inner);
    };
}

} // namespace opstudio::rt::onednn
