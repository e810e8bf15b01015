// Fused (com.microsoft) ops written by the fusion passes that no other family implements:
// Attention (ORT contrib): input [B, S, hidden_in], weights [hidden_in, 3*hidden], bias [3*hidden],
// optional mask_index (raw 0/1 mask int32 [B, T]); attributes num_heads, scale (default 1/sqrt(D)),
// unidirectional (causal), mask_filter_value (default -10000).
//   qkv = x W + b                       one GEMM for the three projections (oneDNN, packed weights)
//   all heads:                          s = scale * q k^T  (one strided batched oneDNN matmul reading
//                                       q and k in place in qkv: no head transposes)
//   rows in parallel (OpenMP):          s[i, j] += filter where mask[b, j] == 0 or (unidirectional) j > i
//                                       (as ORT does);  p = softmax(s)  (Eigen)
//                                       y = p v  (second batched matmul writing [B, S, heads, D] directly)
// The reference path does the same per (batch, head) with plain loops.
//
// QuickGelu (ORT contrib, what fuse-silu writes with alpha = 1): y = x * sigmoid(alpha * x).
// Its only kernel (an earlier Eigen version is gone): at the x86-64-v2 baseline Eigen's
// exp is SSE-only, and x / (1 + exp(-ax)) ran at half the speed of the Sigmoid + Mul it replaced
// (EfficientNet-B0: 49 QuickGelu 10.4 ms vs 65 Sigmoid + 65 Mul 7.0 ms). This loop is compiled for
// AVX-512 (chosen at run time, like activation.cpp's Sigmoid) with a Cephes-style exp. (Eigen GEMMs per head were
// measured first: 3.6 ms for BERT-bench's [1, 128, 256] x 4 heads, vs 0.7-1.5 ms with oneDNN: the
// core is built for x86-64-v2, so Eigen has only SSE here.)
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/vector_math.h"
#include "runtime/kernels/onednn_util.h"

#include <Eigen/Core>

#include <bit>
#include <cmath>
#include <type_traits>
#include <limits>

namespace opstudio::rt {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstStrided = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
using Strided = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

struct ProjectionPrimitive {
    dnnl::matmul prim;
    dnnl::memory::desc weights;
};

class AttentionKernel final : public Kernel {
public:
    AttentionKernel(const KernelInit& init, bool reference)
        : m_fast(!reference && onednn::mayBeF32(init, 0)) {
        const ir::Node& node = init.node;
        m_heads = node.attrInt("num_heads", 0);
        if (m_heads <= 0) kernelFail(node, "Attention needs num_heads > 0");
        m_scale = node.attrFloat("scale", 0.f);
        m_causal = node.attrInt("unidirectional", 0) != 0;
        m_filter = node.attrFloat("mask_filter_value", -10000.f);
        if (node.attrInt("do_rotary", 0) != 0) kernelFail(node, "Attention do_rotary is not supported");
        if (!node.attrInts("qkv_hidden_sizes").empty()) {
            const auto q = node.attrInts("qkv_hidden_sizes");
            if (q.size() != 3 || q[0] != q[1] || q[1] != q[2])
                kernelFail(node, "Attention with different Q/K/V hidden sizes is not supported");
        }
        const ir::Tensor* w = init.constInputs.size() > 1 ? init.constInputs[1] : nullptr;
        if (m_fast && w && w->dtype() == DType::F32 && w->rank() == 2) {
            m_constW = *w;
            m_packed = std::make_unique<onednn::PackedWeights>(onednn::plainDesc(w->shape(), DType::F32), m_constW.raw());
        }
    }

    std::string_view path() const override { return m_fast ? "onednn+eigen" : "reference"; }

    void run(KernelContext& ctx) override {
        const ir::Node& node = ctx.node();
        const Tensor& x = ctx.input(0);
        const Tensor& w = ctx.input(1);
        if (x.dtype() != DType::F32 || w.dtype() != DType::F32) kernelFail(node, "Attention supports float only");
        if (x.rank() != 3 || w.rank() != 2 || w.dim(0) != x.dim(2) || w.dim(1) % 3 != 0)
            kernelFail(node, "Attention expects input [B, S, hidden_in] and weights [hidden_in, 3*hidden], got " +
                                 ir::shapeToString(x.shape()) + " and " + ir::shapeToString(w.shape()));
        for (size_t i = 4; i < ctx.inputCount(); ++i)
            if (ctx.hasInput(i)) kernelFail(node, "Attention past/attention_bias inputs are not supported");
        const int64_t b = x.dim(0), s = x.dim(1), in = x.dim(2), h3 = w.dim(1), h = h3 / 3;
        if (h % m_heads != 0) kernelFail(node, "hidden size is not a multiple of num_heads");
        const int64_t d = h / m_heads;
        const float scale = m_scale != 0.f ? m_scale : 1.f / std::sqrt(static_cast<float>(d));
        const float* bias = nullptr;
        if (ctx.hasInput(2)) {
            const Tensor& bt = ctx.input(2);
            if (bt.dtype() != DType::F32 || bt.numel() != h3) kernelFail(node, "Attention bias must hold 3*hidden floats");
            bias = bt.data<float>();
        }
        const int32_t* mask = nullptr;
        if (ctx.hasInput(3)) {
            const Tensor& mt = ctx.input(3);
            if (mt.dtype() != DType::I32 || mt.rank() != 2 || mt.dim(0) != b || mt.dim(1) != s)
                kernelFail(node, "Attention mask_index must be a raw int32 mask [batch, sequence], got " +
                                     ir::shapeToString(mt.shape()));
            mask = mt.data<int32_t>();
        }
        Tensor& y = ctx.allocate(0, DType::F32, {b, s, h});
        if (y.numel() == 0) return;
        // qkv [B*S, 3*hidden]
        Tensor qkv(DType::F32, {b * s, h3});
        project(x, w, bias, qkv, b * s, in, h3);
        const float* q = qkv.data<float>();
        float* out = y.data<float>();
        const int64_t t = s; // no past: keys = queries
        if (m_fast) {
            headsOnednn(q, out, b, s, t, d, h, scale, mask);
        } else {
            parallelFor(
                b * m_heads,
                [&](int64_t begin, int64_t end) {
                    std::vector<float> scores(static_cast<size_t>(s * t));
                    for (int64_t bh = begin; bh < end; ++bh) {
                        const int64_t bi = bh / m_heads, hi = bh % m_heads;
                        const float* qb = q + bi * s * h3 + hi * d;
                        head(qb, qb + h, qb + 2 * h, out + bi * s * h + hi * d, scores.data(), s, t, d, h3, h, scale,
                             mask ? mask + bi * t : nullptr);
                    }
                },
                s * t * d * 4);
        }
    }

private:
    struct HeadPrimitives {
        dnnl::matmul qk, pv;
        dnnl::memory::desc q, kt, scores, v, y;
    };

    /// All heads at once: two strided batched oneDNN matmuls reading q, k, v straight out of the qkv
    /// rows ([B, S, 3, heads, D]) and writing y in [B, S, heads, D]; masked softmax in between.
    void headsOnednn(const float* qkv, float* y, int64_t b, int64_t s, int64_t t, int64_t d, int64_t h, float scale,
                     const int32_t* mask) {
        const int64_t nh = m_heads, h3 = 3 * h;
        using dt = dnnl::memory::data_type;
        auto entry = m_heads_cache.get({{b, s, t, d}}, [&] {
            HeadPrimitives p;
            p.q = dnnl::memory::desc({b, nh, s, d}, dt::f32, dnnl::memory::dims{s * h3, d, h3, 1});
            p.kt = dnnl::memory::desc({b, nh, d, t}, dt::f32, dnnl::memory::dims{t * h3, d, 1, h3});
            p.scores = dnnl::memory::desc({b, nh, s, t}, dt::f32, dnnl::memory::format_tag::abcd);
            p.v = dnnl::memory::desc({b, nh, t, d}, dt::f32, dnnl::memory::dims{t * h3, d, h3, 1});
            p.y = dnnl::memory::desc({b, nh, s, d}, dt::f32, dnnl::memory::dims{s * h, d, h, 1});
            dnnl::primitive_attr attr;
            attr.set_output_scales(0, {scale});
            p.qk = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(p.q, p.kt, p.scores), attr, onednn::engine()));
            p.pv = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(p.scores, p.v, p.y), onednn::engine()));
            return p;
        });
        Tensor scores(DType::F32, {b, nh, s, t});
        auto& st = onednn::stream();
        entry->qk.execute(st, {{DNNL_ARG_SRC, onednn::wrap(entry->q, qkv)},
                               {DNNL_ARG_WEIGHTS, onednn::wrap(entry->kt, qkv + h)},
                               {DNNL_ARG_DST, onednn::wrap(entry->scores, scores.raw())}});
        st.wait();
        float* sc = scores.data<float>();
        const float neg = m_filter;
        parallelFor(
            b * nh * s,
            [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                    const int64_t bi = r / (nh * s), i = r % s;
                    float* row = sc + r * t;
                    // Like ORT: the filter value is added once where the key is masked or in the future.
                    const int32_t* mrow = mask ? mask + bi * t : nullptr;
                    if (mrow || m_causal)
                        for (int64_t j = 0; j < t; ++j)
                            if ((mrow && mrow[j] <= 0) || (m_causal && j > i)) row[j] += neg;
                    Eigen::Map<Eigen::ArrayXf> a(row, t);
                    a = (a - a.maxCoeff()).exp();
                    a *= 1.f / a.sum();
                }
            },
            t * 8);
        entry->pv.execute(st, {{DNNL_ARG_SRC, onednn::wrap(entry->scores, scores.raw())},
                               {DNNL_ARG_WEIGHTS, onednn::wrap(entry->v, qkv + 2 * h)},
                               {DNNL_ARG_DST, onednn::wrap(entry->y, y)}});
        st.wait();
    }

    void project(const Tensor& x, const Tensor& w, const float* bias, Tensor& qkv, int64_t m, int64_t k, int64_t n) {
        float* dst = qkv.data<float>();
        if (m_fast) {
            auto entry = m_cache.get({{m, k, n}}, [&] {
                const auto src = onednn::plainDesc({m, k}, DType::F32);
                const auto wMd = m_packed ? dnnl::memory::desc({k, n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any)
                                          : onednn::plainDesc({k, n}, DType::F32);
                dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wMd, onednn::plainDesc({m, n}, DType::F32)),
                                                onednn::engine());
                return ProjectionPrimitive{dnnl::matmul(pd), pd.weights_desc()};
            });
            dnnl::memory srcM = onednn::wrap(onednn::plainDesc({m, k}, DType::F32), x.raw());
            dnnl::memory wM = m_packed && w.raw() == m_constW.raw() ? m_packed->get(entry->weights)
                                                                     : onednn::wrap(onednn::plainDesc({k, n}, DType::F32), w.raw());
            if (!(m_packed && w.raw() == m_constW.raw()) && entry->weights != onednn::plainDesc({k, n}, DType::F32))
                wM = onednn::reorderedTo(wM, entry->weights);
            dnnl::memory dstM = onednn::wrap(onednn::plainDesc({m, n}, DType::F32), dst);
            auto& st = onednn::stream();
            entry->prim.execute(st, {{DNNL_ARG_SRC, srcM}, {DNNL_ARG_WEIGHTS, wM}, {DNNL_ARG_DST, dstM}});
            st.wait();
            if (bias)
                parallelFor(m, [&](int64_t r0, int64_t r1) {
                    for (int64_t r = r0; r < r1; ++r)
                        Eigen::Map<Eigen::ArrayXf>(dst + r * n, n) += Eigen::Map<const Eigen::ArrayXf>(bias, n);
                }, n);
            return;
        }
        const float* xs = x.data<float>();
        const float* ws = w.data<float>();
        for (int64_t r = 0; r < m; ++r)
            for (int64_t c = 0; c < n; ++c) {
                double acc = bias ? bias[c] : 0.0;
                for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(xs[r * k + i]) * ws[i * n + c];
                dst[r * n + c] = static_cast<float>(acc);
            }
    }

    /// One (batch, head): q, k, v rows of `ld` floats apart; y rows `ldy` apart.
    void head(const float* q, const float* k, const float* v, float* y, float* sc, int64_t s, int64_t t, int64_t d,
              int64_t ld, int64_t ldy, float scale, const int32_t* mask) const {
        const float neg = m_filter;
        if (m_fast) {
            ConstStrided Q(q, s, d, Eigen::OuterStride<>(ld));
            ConstStrided K(k, t, d, Eigen::OuterStride<>(ld));
            ConstStrided V(v, t, d, Eigen::OuterStride<>(ld));
            Eigen::Map<RowMat> S(sc, s, t);
            S.noalias() = scale * (Q * K.transpose());
            for (int64_t i = 0; i < s; ++i) {
                float* row = sc + i * t;
                // Like ORT: the filter value is added once where the key is masked or in the future.
                for (int64_t j = 0; j < t; ++j)
                    if ((mask && mask[j] <= 0) || (m_causal && j > i)) row[j] += neg;
                Eigen::Map<Eigen::ArrayXf> r(row, t);
                r = (r - r.maxCoeff()).exp();
                r *= 1.f / r.sum();
            }
            Strided Y(y, s, d, Eigen::OuterStride<>(ldy));
            Y.noalias() = S * V;
            return;
        }
        for (int64_t i = 0; i < s; ++i) {
            float* row = sc + i * t;
            float mx = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < t; ++j) {
                double acc = 0;
                for (int64_t c = 0; c < d; ++c) acc += static_cast<double>(q[i * ld + c]) * k[j * ld + c];
                float val = static_cast<float>(acc) * scale;
                if ((mask && mask[j] <= 0) || (m_causal && j > i)) val += neg;
                row[j] = val;
                mx = std::max(mx, val);
            }
            double sum = 0;
            for (int64_t j = 0; j < t; ++j) sum += row[j] = std::exp(row[j] - mx);
            for (int64_t j = 0; j < t; ++j) row[j] = static_cast<float>(row[j] / sum);
            for (int64_t c = 0; c < d; ++c) {
                double acc = 0;
                for (int64_t j = 0; j < t; ++j) acc += static_cast<double>(row[j]) * v[j * ld + c];
                y[i * ldy + c] = static_cast<float>(acc);
            }
        }
    }

    bool m_fast;
    int64_t m_heads = 0;
    float m_scale = 0.f;
    bool m_causal = false;
    float m_filter = -10000.f;
    Tensor m_constW;
    std::unique_ptr<onednn::PackedWeights> m_packed;
    onednn::ShapeCache<ProjectionPrimitive> m_cache;
    onednn::ShapeCache<HeadPrimitives> m_heads_cache;
};

// ---------------------------------------------------------------------------------------------
// QuickGelu
// ---------------------------------------------------------------------------------------------

__attribute__((target("arch=x86-64-v4,prefer-vector-width=512"))) void quickGeluAvx512(const float* x, float* y, int64_t n,
                                                                                        float alpha) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.f + expApprox(-alpha * x[i]));
}

bool cpuHasAvx512() {
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                            __builtin_cpu_supports("avx512vl");
    return has;
}

void quickGelu(KernelContext& ctx, bool reference) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const float alphaF = node.attrFloat("alpha", 1.702f);
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
        const int64_t n = x.numel();
        const T* xs = x.data<T>();
        T* ys = y.data<T>();
        const T alpha = static_cast<T>(alphaF);
        if (reference || !std::is_same_v<T, float>) {
            for (int64_t i = 0; i < n; ++i) ys[i] = xs[i] / (T(1) + std::exp(-alpha * xs[i]));
            return;
        }
        parallelFor(
            (n + 4095) / 4096,
            [&](int64_t c0, int64_t c1) {
                const int64_t b0 = c0 * 4096, len = std::min(n, c1 * 4096) - b0;
                const float* xf = reinterpret_cast<const float*>(xs) + b0;
                float* yf = reinterpret_cast<float*>(ys) + b0;
                if (cpuHasAvx512()) quickGeluAvx512(xf, yf, len, alphaF);
                else {
                    Eigen::Map<const Eigen::ArrayXf> a(xf, len);
                    Eigen::Map<Eigen::ArrayXf>(yf, len) = a / (1.f + (-alphaF * a).exp());
                }
            },
            4096 * 20);
    });
}

KernelFactory attentionFactory(bool reference) {
    return [reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<AttentionKernel>(init, reference || init.reference);
    };
}

} // namespace

void registerFusedKernels(KernelRegistry& r) {
    r.add({"Attention", 1, kLatestOpset, "com.microsoft"}, attentionFactory(false), attentionFactory(true));
    r.add({"QuickGelu", 1, kLatestOpset, "com.microsoft"},
          fn([](KernelContext& ctx) { quickGelu(ctx, false); }, "avx512"),
          fn([](KernelContext& ctx) { quickGelu(ctx, true); }, "reference"));
}

} // namespace opstudio::rt
