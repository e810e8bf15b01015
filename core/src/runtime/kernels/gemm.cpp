// Matrix products: Gemm, MatMul (numpy batching), Einsum, com.microsoft FusedMatMul.
// Reference paths are plain loops for every numeric dtype; the fast path (fp32) is a oneDNN
// matmul primitive, cached per input shape, with a constant B packed once into the layout
// the primitive prefers (the transformer case: activations x constant weights).
#include "runtime/kernels/gemv.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/onednn_util.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>

namespace opstudio::rt {

namespace {

using onednn::FusedActivation;

// ---------------------------------------------------------------------------------------------
// Shapes

/// MatMul operands after numpy's 1-D promotion: A [K] -> [1, K], B [K] -> [K, 1]; the promoted
/// dims are dropped from the output again.
struct MatMulShapes {
    Shape a, b;  // promoted (rank >= 2), transposes applied to the last two dims logically
    Shape batch; // broadcast batch dims
    int64_t m = 0, n = 0, k = 0;
    Shape out; // final output shape (promoted dims squeezed)
};

MatMulShapes matMulShapes(const ir::Node& node, Shape a, Shape b, bool transA = false, bool transB = false) {
    if (a.empty() || b.empty()) kernelFail(node, "MatMul operands must have rank >= 1");
    const bool aVec = a.size() == 1, bVec = b.size() == 1;
    if (aVec) a.insert(a.begin(), 1);
    if (bVec) b.push_back(1);
    // Transposes only apply to real matrices (ORT ignores them on vectors).
    if (transA && !aVec) std::swap(a[a.size() - 1], a[a.size() - 2]);
    if (transB && !bVec) std::swap(b[b.size() - 1], b[b.size() - 2]);
    MatMulShapes s;
    s.m = a[a.size() - 2];
    s.k = a[a.size() - 1];
    s.n = b[b.size() - 1];
    if (b[b.size() - 2] != s.k)
        kernelFail(node,
                   "MatMul inner dimensions differ: " + ir::shapeToString(a) + " x " + ir::shapeToString(b));
    const Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    try {
        s.batch = broadcastShapes(ba, bb);
    } catch (const Error& e) {
        kernelFail(node, std::string("MatMul batch dims do not broadcast: ") + e.what());
    }
    s.out = s.batch;
    if (!aVec) s.out.push_back(s.m);
    if (!bVec) s.out.push_back(s.n);
    s.a = std::move(a);
    s.b = std::move(b);
    return s;
}

// ---------------------------------------------------------------------------------------------
// Reference loops

/// y[m, n] = alpha * sum_k a[m, k] b[k, n] for one matrix; a and b addressed by (row, col) strides.
/// Accumulates floats in double so that the reference is the more accurate side of a comparison.
template <typename T>
void referenceMatrix(const T* a, int64_t as0, int64_t as1, const T* b, int64_t bs0, int64_t bs1, T* y,
                     int64_t m, int64_t n, int64_t k, double alpha) {
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            Acc acc = 0;
            for (int64_t p = 0; p < k; ++p)
                acc += static_cast<Acc>(a[i * as0 + p * as1]) * static_cast<Acc>(b[p * bs0 + j * bs1]);
            if constexpr (std::is_floating_point_v<T>)
                y[i * n + j] = static_cast<T>(alpha * acc);
            else
                y[i * n + j] =
                    static_cast<T>(alpha == 1.0 ? acc : static_cast<Acc>(alpha * static_cast<double>(acc)));
        }
}

/// Batched, broadcast matmul on raw tensors (shapes from matMulShapes, transposes as flags).
template <typename T>
void referenceMatMul(const MatMulShapes& s, const T* a, const T* b, T* y, bool transA, bool transB,
                     double alpha) {
    const int64_t mk = s.m * s.k, kn = s.k * s.n, mn = s.m * s.n;
    const Shape batchA(s.a.begin(), s.a.end() - 2), batchB(s.b.begin(), s.b.end() - 2);
    const Shape sa = broadcastStrides(batchA, s.batch), sb = broadcastStrides(batchB, s.batch);
    // Row/column strides of one stored matrix: A is stored [M, K] or, transposed, [K, M].
    const int64_t as0 = transA ? 1 : s.k, as1 = transA ? s.m : 1;
    const int64_t bs0 = transB ? 1 : s.n, bs1 = transB ? s.k : 1;
    auto one = [&](int64_t i, int64_t oa, int64_t ob) {
        referenceMatrix(a + oa * mk, as0, as1, b + ob * kn, bs0, bs1, y + i * mn, s.m, s.n, s.k, alpha);
    };
    if (s.batch.empty())
        one(0, 0, 0);
    else
        forEachBroadcast(s.batch, sa, sb, one);
}

bool hasZeroDim(const Shape& s) {
    return std::find(s.begin(), s.end(), 0) != s.end();
}

// ---------------------------------------------------------------------------------------------
// oneDNN matmul

/// Descriptor of a row-major matrix batch [..., rows, cols]; `transposed` means the bytes hold
/// [..., cols, rows] (a strided view, which oneDNN matmul reads directly).
dnnl::memory::desc matrixDesc(const Shape& logical, bool transposed) {
    const int r = static_cast<int>(logical.size());
    dnnl::memory::dims dims = onednn::toDims(logical), strides(r);
    const int64_t rows = logical[r - 2], cols = logical[r - 1];
    // Broadcast (size-1) batch dims are told apart by their size, not by a zero stride.
    int64_t acc = rows * cols;
    for (int d = r - 3; d >= 0; --d) {
        strides[d] = acc;
        acc *= logical[d];
    }
    strides[r - 2] = transposed ? 1 : cols;
    strides[r - 1] = transposed ? rows : 1;
    return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

struct MatMulPrimitive {
    dnnl::matmul prim;
    dnnl::memory::desc weights; // the layout the primitive wants for B
};

/// One oneDNN matmul: dst = alpha * A x B (+ beta * dst when `sum`) then the activation.
/// `constB` packs B once (format any); otherwise B is read in place.
class OnednnMatMul {
public:
    OnednnMatMul(float alpha, FusedActivation act) : m_alpha(alpha), m_act(act) {}

    /// Sets a constant B with logical dims `bDims` ([..., K, N]), stored transposed when `transB`.
    void setConstB(const Shape& bDims, bool transB, const void* data) {
        m_packed = std::make_unique<onednn::PackedWeights>(matrixDesc(bDims, transB), data);
    }
    bool hasConstB() const { return m_packed != nullptr; }

    /// Runs a (batched) product with logical dims a [..., M, K], b [..., K, N], y [..., M, N]
    /// (equal ranks; batch dims of a and b may be 1 where y's are not).
    void run(const Shape& aDims, bool transA, const void* a, const Shape& bDims, bool transB, const void* b,
             const Shape& yDims, void* y, float sumScale = 0.f) {
        auto entry = primitive(aDims, transA, bDims, transB, yDims, sumScale);
        dnnl::memory src = onednn::wrap(matrixDesc(aDims, transA), a);
        dnnl::memory wts =
            m_packed ? m_packed->get(entry->weights) : onednn::wrap(matrixDesc(bDims, transB), b);
        dnnl::memory dst = onednn::wrap(matrixDesc(yDims, false), y);
        auto& s = onednn::stream();
        entry->prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}});
        s.wait();
    }

    /// Creates the primitive for these dims and packs the constant B now (at session build),
    /// so that the first run does no set-up work.
    void prepare(const Shape& aDims, bool transA, const Shape& bDims, bool transB, const Shape& yDims,
                 float sumScale = 0.f) {
        auto entry = primitive(aDims, transA, bDims, transB, yDims, sumScale);
        if (m_packed) m_packed->get(entry->weights);
    }

private:
    std::shared_ptr<MatMulPrimitive> primitive(const Shape& aDims, bool transA, const Shape& bDims,
                                               bool transB, const Shape& yDims, float sumScale) {
        const std::vector<Shape> key{aDims, bDims, {transA, transB, sumScale != 0.f}};
        return m_cache.get(key, [&] {
            const auto srcMd = matrixDesc(aDims, transA);
            const auto wMd = m_packed
                                 ? dnnl::memory::desc(onednn::toDims(bDims), dnnl::memory::data_type::f32,
                                                      dnnl::memory::format_tag::any)
                                 : matrixDesc(bDims, transB);
            const auto dstMd = matrixDesc(yDims, false);
            dnnl::primitive_attr attr;
            if (m_alpha != 1.f) attr.set_output_scales(0, {m_alpha});
            dnnl::post_ops ops;
            if (sumScale != 0.f) ops.append_sum(sumScale);
            m_act.appendTo(ops);
            attr.set_post_ops(ops);
            dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(srcMd, wMd, dstMd), attr, onednn::engine());
            return MatMulPrimitive{dnnl::matmul(pd), pd.weights_desc()};
        });
    }

    float m_alpha;
    FusedActivation m_act;
    std::unique_ptr<onednn::PackedWeights> m_packed;
    onednn::ShapeCache<MatMulPrimitive> m_cache;
};

/// Left-pads a shape with 1s to `rank`.
Shape padTo(const Shape& s, size_t rank) {
    Shape out(rank - s.size(), 1);
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

// ---------------------------------------------------------------------------------------------
// MatMul / FusedMatMul

class MatMulKernel final : public Kernel {
public:
    MatMulKernel(const KernelInit& init, bool fused) : m_fast(!init.reference && onednn::mayBeF32(init, 0)) {
        const ir::Node& node = init.node;
        if (fused) {
            m_alpha = node.attrFloat("alpha", 1.f);
            m_transA = node.attrInt("transA", 0) != 0;
            m_transB = node.attrInt("transB", 0) != 0;
            if (node.attrInt("transBatchA", 0) != 0 || node.attrInt("transBatchB", 0) != 0)
                kernelFail(node, "FusedMatMul transBatchA/transBatchB are not supported");
            m_act = FusedActivation::fromNode(node);
        }
        m_onednn = std::make_unique<OnednnMatMul>(m_alpha, m_act);
        const ir::Tensor* b = init.constInputs.size() > 1 ? init.constInputs[1] : nullptr;
        // A constant 2-D B (a weight matrix) is packed once; the batch of A folds into M.
        if (m_fast && b && b->dtype() == DType::F32 && b->rank() == 2 && !hasZeroDim(b->shape())) {
            Shape dims = b->shape();
            if (m_transB) std::swap(dims[0], dims[1]);
            m_onednn->setConstB(dims, m_transB, b->raw());
            m_constB = *b; // a copy shares (and keeps alive) the bytes the packed copy came from
            if (auto as = onednn::knownShape(init, 0)) {
                try {
                    const MatMulShapes s = matMulShapes(node, *as, b->shape(), m_transA, m_transB);
                    const int64_t rows = ir::shapeNumel(s.batch) * s.m;
                    if (s.k > 0 && rows > 0 && !m_transA)
                        m_onednn->prepare({rows, s.k}, false, dims, m_transB, {rows, s.n});
                    else if (s.k > 0 && rows > 0 && as->size() == 2)
                        m_onednn->prepare({s.m, s.k}, true, dims, m_transB, {s.m, s.n});
                } catch (const std::exception&) {
                    // Stale shape information: the first run reports real errors.
                }
            }
        }
    }

    /// "gemv" when the last run was a one-row product with the constant B (decode), else "onednn".
    std::string_view path() const override { return m_fast ? (m_lastGemv ? "gemv" : "onednn") : "reference"; }

    void run(KernelContext& ctx) override {
        const Tensor& a = ctx.input(0);
        const Tensor& b = ctx.input(1);
        if (a.dtype() != b.dtype()) kernelFail(ctx.node(), "MatMul operands have different dtypes");
        const MatMulShapes s = matMulShapes(ctx.node(), a.shape(), b.shape(), m_transA, m_transB);
        Tensor& y = ctx.allocate(0, a.dtype(), s.out);
        m_lastGemv = false;
        if (y.numel() == 0) return;
        if (m_fast && a.dtype() == DType::F32 && s.k > 0 && runGemv(ctx, s, a, b, y)) return;
        if (m_fast && a.dtype() == DType::F32 && s.k > 0 && runFast(s, a, b, y)) return;
        runReference(ctx, s, a, b, y);
    }

private:
    void runReference(KernelContext& ctx, const MatMulShapes& s, const Tensor& a, const Tensor& b,
                      Tensor& y) {
        dispatchNumeric(a.dtype(), [&](auto tag) {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>) {
                kernelFail(ctx.node(), "MatMul does not support bool");
            } else {
                referenceMatMul<T>(s, a.data<T>(), b.data<T>(), y.data<T>(), m_transA, m_transB, m_alpha);
                if constexpr (std::is_floating_point_v<T>) m_act.apply(y.data<T>(), y.numel());
            }
        });
    }

    /// One row of A times the constant B (LLM decode, M = 1): a streaming matrix-vector product over
    /// B as stored, no packing (gemv.h). oneDNN's matmul reached 51 % of the DRAM read bandwidth at
    /// M = 1 on the 113M-parameter decoder; OPSTUDIO_GEMV=0 turns this path off for comparisons.
    bool runGemv(KernelContext& ctx, const MatMulShapes& s, const Tensor& a, const Tensor& b, Tensor& y) {
        static const bool enabled = [] {
            const char* env = std::getenv("OPSTUDIO_GEMV");
            return !(env && std::string(env) == "0");
        }();
        const bool constB = m_constB.defined() && b.raw() == m_constB.raw() && b.shape() == m_constB.shape();
        if (!enabled || !constB || m_transA || m_alpha != 1.f || m_act.kind != FusedActivation::Kind::None ||
            ir::shapeNumel(s.batch) * s.m != 1 || s.b.size() != 2)
            return false;
        gemvF32(a.data<float>(), b.data<float>(), y.data<float>(), s.k, s.n, m_transB, ctx.threads());
        m_lastGemv = true;
        return true;
    }

    bool runFast(const MatMulShapes& s, const Tensor& a, const Tensor& b, Tensor& y) {
        const int64_t batch = ir::shapeNumel(s.batch);
        const bool packed = m_constB.defined() && b.raw() == m_constB.raw() && b.shape() == m_constB.shape();
        if (!m_general) m_general = std::make_unique<OnednnMatMul>(m_alpha, m_act);
        OnednnMatMul& mm = packed ? *m_onednn : *m_general;
        const bool transB = m_transB && b.rank() > 1;
        // A 2-D B shared by every batch of a contiguous A: one [P*M, K] x [K, N] product
        // (the transformer projection), which is also the layout the packed B was made for.
        if (s.b.size() == 2 && (!m_transA || a.rank() <= 2)) {
            if (m_transA && a.rank() == 2)
                mm.run({s.m, s.k}, true, a.raw(), {s.k, s.n}, transB, b.raw(), {s.m, s.n}, y.raw());
            else
                mm.run({batch * s.m, s.k}, false, a.raw(), {s.k, s.n}, transB, b.raw(), {batch * s.m, s.n},
                       y.raw());
            return true;
        }
        const size_t rank = s.batch.size() + 2;
        Shape ad = padTo(s.a, rank), bd = padTo(s.b, rank), yd = s.batch;
        yd.push_back(s.m);
        yd.push_back(s.n);
        m_general->run(ad, m_transA && a.rank() > 1, a.raw(), bd, transB, b.raw(), yd, y.raw());
        return true;
    }

    bool m_fast;
    float m_alpha = 1.f;
    bool m_transA = false, m_transB = false;
    FusedActivation m_act;
    ir::Tensor m_constB; // the constant B (undefined when B is computed)
    std::unique_ptr<OnednnMatMul> m_onednn, m_general;
    bool m_lastGemv = false;
};

// ---------------------------------------------------------------------------------------------
// Gemm: Y = alpha * A' B' + beta * C, C unidirectionally broadcast to [M, N].

class GemmKernel final : public Kernel {
public:
    explicit GemmKernel(const KernelInit& init) : m_fast(!init.reference && onednn::mayBeF32(init, 0)) {
        const ir::Node& node = init.node;
        m_alpha = node.attrFloat("alpha", 1.f);
        m_beta = node.attrFloat("beta", 1.f);
        m_transA = node.attrInt("transA", 0) != 0;
        m_transB = node.attrInt("transB", 0) != 0;
        m_act = FusedActivation::fromNode(node);
        m_onednn = std::make_unique<OnednnMatMul>(m_alpha, m_act);
        const ir::Tensor* b = init.constInputs.size() > 1 ? init.constInputs[1] : nullptr;
        if (m_fast && b && b->dtype() == DType::F32 && b->rank() == 2 && !hasZeroDim(b->shape())) {
            Shape dims = b->shape();
            if (m_transB) std::swap(dims[0], dims[1]);
            m_onednn->setConstB(dims, m_transB, b->raw());
            m_constB = *b; // a copy shares (and keeps alive) the bytes the packed copy came from
            if (auto as = onednn::knownShape(init, 0); as && as->size() == 2) {
                const int64_t m = m_transA ? (*as)[1] : (*as)[0], k = m_transA ? (*as)[0] : (*as)[1];
                const bool useC = node.presentInput(2) && m_beta != 0.f;
                if (m > 0 && k == dims[0]) {
                    try {
                        m_onednn->prepare({m, k}, m_transA, dims, m_transB, {m, dims[1]},
                                          useC ? m_beta : 0.f);
                    } catch (const std::exception&) {
                        // Stale shape information: the first run reports real errors.
                    }
                }
            }
        }
    }

    std::string_view path() const override { return m_fast ? "onednn" : "reference"; }

    void run(KernelContext& ctx) override {
        const ir::Node& node = ctx.node();
        const Tensor& a = ctx.input(0);
        const Tensor& b = ctx.input(1);
        if (a.rank() != 2 || b.rank() != 2) kernelFail(node, "Gemm needs 2-D A and B");
        if (a.dtype() != b.dtype()) kernelFail(node, "Gemm operands have different dtypes");
        const int64_t m = m_transA ? a.dim(1) : a.dim(0), k = m_transA ? a.dim(0) : a.dim(1);
        const int64_t kb = m_transB ? b.dim(1) : b.dim(0), n = m_transB ? b.dim(0) : b.dim(1);
        if (k != kb)
            kernelFail(node,
                       "Gemm inner dimensions differ: K=" + std::to_string(k) + " vs " + std::to_string(kb));
        const Tensor* c = ctx.hasInput(2) ? &ctx.input(2) : nullptr;
        if (c && c->dtype() != a.dtype()) kernelFail(node, "Gemm C has a different dtype");
        const Shape out{m, n};
        Shape cStrides;
        if (c) {
            if (c->rank() > 2) kernelFail(node, "Gemm C must have rank <= 2");
            try {
                if (broadcastShapes(c->shape(), out) != out) throw Error("C is larger than [M, N]");
            } catch (const Error& e) {
                kernelFail(node, "Gemm C " + ir::shapeToString(c->shape()) + " does not broadcast to " +
                                     ir::shapeToString(out) + ": " + e.what());
            }
            cStrides = broadcastStrides(c->shape(), out);
        }
        Tensor& y = ctx.allocate(0, a.dtype(), out);
        if (y.numel() == 0) return;
        const bool useC = c && m_beta != 0.f;

        if (m_fast && a.dtype() == DType::F32 && k > 0) {
            // beta * C rides on oneDNN's sum post-op: dst is pre-filled with broadcast C and the
            // primitive computes dst = alpha * A'B' + beta * dst.
            float* yd = y.data<float>();
            if (useC) {
                const float* cd = c->data<float>();
                for (int64_t i = 0; i < m; ++i)
                    for (int64_t j = 0; j < n; ++j)
                        yd[i * n + j] = cd[i * cStrides[0] + j * cStrides[1]];
            }
            const bool packed = m_constB.defined() && b.raw() == m_constB.raw();
            if (!packed && !m_plain) m_plain = std::make_unique<OnednnMatMul>(m_alpha, m_act);
            (packed ? *m_onednn : *m_plain)
                .run({m, k}, m_transA, a.raw(), {k, n}, m_transB, b.raw(), out, yd, useC ? m_beta : 0.f);
            return;
        }
        dispatchNumeric(a.dtype(), [&](auto tag) {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>) {
                kernelFail(node, "Gemm does not support bool");
            } else {
                MatMulShapes s;
                s.a = {m, k};
                s.b = {k, n};
                s.m = m;
                s.n = n;
                s.k = k;
                referenceMatMul<T>(s, a.data<T>(), b.data<T>(), y.data<T>(), m_transA, m_transB, m_alpha);
                T* yd = y.data<T>();
                if (useC) {
                    const T* cd = c->data<T>();
                    for (int64_t i = 0; i < m; ++i)
                        for (int64_t j = 0; j < n; ++j)
                            yd[i * n + j] =
                                static_cast<T>(yd[i * n + j] + static_cast<double>(m_beta) *
                                                                   cd[i * cStrides[0] + j * cStrides[1]]);
                }
                if constexpr (std::is_floating_point_v<T>) m_act.apply(yd, y.numel());
            }
        });
    }

private:
    bool m_fast;
    float m_alpha = 1.f, m_beta = 1.f;
    bool m_transA = false, m_transB = false;
    FusedActivation m_act;
    ir::Tensor m_constB; // the constant B (undefined when B is computed)
    std::unique_ptr<OnednnMatMul> m_onednn, m_plain;
};

// ---------------------------------------------------------------------------------------------
// Einsum

/// A parsed equation. Labels are ints: a-z -> 0..25, A-Z -> 26..51, ellipsis dims -> 52+j
/// (j counted so that ellipsis dims right-align across operands, like numpy broadcasting).
struct EinsumSpec {
    std::vector<std::vector<int>> inputs;
    std::vector<int> output;
    std::map<int, int64_t> sizes;
};

constexpr int kEllipsisBase = 52;

int labelOf(const ir::Node& node, char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    kernelFail(node, std::string("Einsum: bad label '") + c + "'");
}

/// Splits a term into labels, expanding "..." into `ellipsisRank` labels right-aligned to `maxEllipsis`.
std::vector<int> parseTerm(const ir::Node& node, const std::string& term, int rank, int* ellipsisRank,
                           int maxEllipsis) {
    std::vector<int> labels;
    int letters = 0;
    bool hasEllipsis = false;
    for (size_t i = 0; i < term.size(); ++i) {
        if (term[i] == '.') {
            if (term.compare(i, 3, "...") != 0 || hasEllipsis)
                kernelFail(node, "Einsum: malformed ellipsis in '" + term + "'");
            hasEllipsis = true;
            i += 2;
            labels.push_back(-1); // placeholder
        } else {
            labels.push_back(labelOf(node, term[i]));
            ++letters;
        }
    }
    int e = 0;
    if (hasEllipsis) {
        e = rank >= 0 ? rank - letters : maxEllipsis;
        if (e < 0) kernelFail(node, "Einsum: term '" + term + "' has more labels than the operand's rank");
    } else if (rank >= 0 && rank != letters) {
        kernelFail(node, "Einsum: term '" + term + "' does not match operand rank " + std::to_string(rank));
    }
    if (ellipsisRank) *ellipsisRank = e;
    std::vector<int> out;
    for (int l : labels) {
        if (l >= 0) {
            out.push_back(l);
            continue;
        }
        for (int j = 0; j < e; ++j)
            out.push_back(kEllipsisBase + (maxEllipsis - e) + j);
    }
    return out;
}

EinsumSpec parseEinsum(const ir::Node& node, const std::string& equationIn,
                       const std::vector<const Tensor*>& ops) {
    std::string eq;
    for (char c : equationIn)
        if (c != ' ') eq.push_back(c);
    const size_t arrow = eq.find("->");
    const std::string lhs = eq.substr(0, arrow);
    std::vector<std::string> terms;
    size_t start = 0;
    while (true) {
        const size_t comma = lhs.find(',', start);
        terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (terms.size() != ops.size())
        kernelFail(node, "Einsum: equation has " + std::to_string(terms.size()) + " operands, node has " +
                             std::to_string(ops.size()));
    // First pass: ellipsis ranks.
    int maxE = 0;
    std::vector<int> eRanks(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
        parseTerm(node, terms[i], ops[i]->rank(), &eRanks[i], 0);
        maxE = std::max(maxE, eRanks[i]);
    }
    EinsumSpec spec;
    std::map<int, int> counts;
    for (size_t i = 0; i < ops.size(); ++i) {
        spec.inputs.push_back(parseTerm(node, terms[i], ops[i]->rank(), nullptr, maxE));
        const auto& labels = spec.inputs.back();
        for (size_t d = 0; d < labels.size(); ++d) {
            const int64_t dim = ops[i]->dim(static_cast<int>(d));
            auto it = spec.sizes.find(labels[d]);
            if (it == spec.sizes.end() || it->second == 1)
                spec.sizes[labels[d]] = dim;
            else if (dim != 1 && dim != it->second)
                kernelFail(node, "Einsum: label sizes differ (" + std::to_string(dim) + " vs " +
                                     std::to_string(it->second) + ")");
            ++counts[labels[d]];
        }
    }
    if (arrow != std::string::npos) {
        spec.output = parseTerm(node, eq.substr(arrow + 2), -1, nullptr, maxE);
        for (int l : spec.output)
            if (!spec.sizes.count(l)) kernelFail(node, "Einsum: output label not in any input");
    } else {
        // Implicit output: ellipsis dims, then labels seen once, in alphabetical (character) order.
        for (int j = 0; j < maxE; ++j)
            spec.output.push_back(kEllipsisBase + j);
        std::vector<std::pair<char, int>> once;
        for (auto [l, c] : counts)
            if (l < kEllipsisBase && c == 1) once.push_back({l < 26 ? char('a' + l) : char('A' + l - 26), l});
        std::sort(once.begin(), once.end());
        for (auto [ch, l] : once)
            spec.output.push_back(l);
    }
    return spec;
}

/// Reference Einsum: loops over every output index and, inside, every summed-label index.
/// A label repeated inside an operand takes the sum of its strides (a diagonal); a size-1 dim
/// broadcast against a larger one takes stride 0.
template <typename T>
void referenceEinsum(const EinsumSpec& spec, const std::vector<const Tensor*>& ops, Tensor& y) {
    std::vector<int> labels = spec.output;
    std::vector<int> summed;
    for (auto [l, size] : spec.sizes)
        if (std::find(spec.output.begin(), spec.output.end(), l) == spec.output.end()) summed.push_back(l);
    labels.insert(labels.end(), summed.begin(), summed.end());
    const size_t nl = labels.size(), no = spec.output.size();
    Shape sizes(nl);
    for (size_t i = 0; i < nl; ++i)
        sizes[i] = spec.sizes.at(labels[i]);
    // strides[op][label position]
    std::vector<Shape> strides(ops.size(), Shape(nl, 0));
    for (size_t o = 0; o < ops.size(); ++o) {
        const Shape st = stridesOf(ops[o]->shape());
        for (size_t d = 0; d < spec.inputs[o].size(); ++d) {
            if (ops[o]->dim(static_cast<int>(d)) == 1) continue;
            const size_t pos = std::find(labels.begin(), labels.end(), spec.inputs[o][d]) - labels.begin();
            strides[o][pos] += st[d];
        }
    }
    // Output strides: a label repeated in the output (allowed by numpy only as a diagonal write) is not
    // supported.
    const int64_t outCount = y.numel();
    int64_t innerCount = 1;
    for (size_t i = no; i < nl; ++i)
        innerCount *= sizes[i];
    T* yd = y.data<T>();
    std::vector<const T*> base(ops.size());
    for (size_t o = 0; o < ops.size(); ++o)
        base[o] = ops[o]->data<T>();
    std::vector<int64_t> idx(nl, 0);
    std::vector<int64_t> off(ops.size(), 0);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    for (int64_t out = 0; out < outCount; ++out) {
        // Offsets of the output index (idx[0..no)); inner labels start at 0.
        for (size_t o = 0; o < ops.size(); ++o) {
            off[o] = 0;
            for (size_t i = 0; i < no; ++i)
                off[o] += idx[i] * strides[o][i];
        }
        Acc acc = 0;
        std::fill(idx.begin() + no, idx.end(), 0);
        std::vector<int64_t> inner(off);
        for (int64_t s = 0; s < innerCount; ++s) {
            Acc p = 1;
            for (size_t o = 0; o < ops.size(); ++o)
                p *= static_cast<Acc>(base[o][inner[o]]);
            acc += p;
            for (size_t i = nl; i-- > no;) {
                if (++idx[i] < sizes[i]) {
                    for (size_t o = 0; o < ops.size(); ++o)
                        inner[o] += strides[o][i];
                    break;
                }
                for (size_t o = 0; o < ops.size(); ++o)
                    inner[o] -= strides[o][i] * (sizes[i] - 1);
                idx[i] = 0;
            }
        }
        yd[out] = static_cast<T>(acc);
        for (size_t i = no; i-- > 0;) {
            if (++idx[i] < sizes[i]) break;
            idx[i] = 0;
        }
    }
}

/// Copies `in` permuted: out dim i = in dim perm[i].
Tensor permuted(const Tensor& in, const std::vector<int>& perm) {
    bool identity = true;
    for (size_t i = 0; i < perm.size(); ++i)
        identity = identity && perm[i] == static_cast<int>(i);
    if (identity) return in;
    Shape outShape(perm.size());
    const Shape inStrides = stridesOf(in.shape());
    Shape st(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) {
        outShape[i] = in.dim(perm[i]);
        st[i] = inStrides[perm[i]];
    }
    Tensor out(in.dtype(), outShape);
    const size_t es = ir::dtypeSize(in.dtype());
    const uint8_t* src = static_cast<const uint8_t*>(in.raw());
    uint8_t* dst = static_cast<uint8_t*>(out.raw());
    const Shape zero(perm.size(), 0);
    forEachBroadcast(outShape, st, zero,
                     [&](int64_t i, int64_t oa, int64_t) { std::memcpy(dst + i * es, src + oa * es, es); });
    return out;
}

class EinsumKernel final : public Kernel {
public:
    explicit EinsumKernel(const KernelInit& init)
        : m_fast(!init.reference && onednn::mayBeF32(init, 0)),
          m_equation(init.node.attrString("equation", "")), m_onednn(1.f, {}) {
        if (m_equation.empty()) kernelFail(init.node, "Einsum needs an equation");
    }
    std::string_view path() const override { return m_fast ? "onednn" : "reference"; }

    void run(KernelContext& ctx) override {
        std::vector<const Tensor*> ops;
        for (size_t i = 0; i < ctx.inputCount(); ++i)
            ops.push_back(&ctx.input(i));
        if (ops.empty()) kernelFail(ctx.node(), "Einsum needs inputs");
        for (auto* t : ops)
            if (t->dtype() != ops[0]->dtype())
                kernelFail(ctx.node(), "Einsum operands have different dtypes");
        const EinsumSpec spec = parseEinsum(ctx.node(), m_equation, ops);
        Shape outShape;
        for (int l : spec.output)
            outShape.push_back(spec.sizes.at(l));
        for (size_t i = 0; i < spec.output.size(); ++i)
            for (size_t j = i + 1; j < spec.output.size(); ++j)
                if (spec.output[i] == spec.output[j]) kernelFail(ctx.node(), "Einsum: repeated output label");
        Tensor& y = ctx.allocate(0, ops[0]->dtype(), outShape);
        if (y.numel() == 0) return;
        if (m_fast && ops.size() == 2 && ops[0]->dtype() == DType::F32 && runAsMatMul(spec, ops, y)) return;
        dispatchNumeric(ops[0]->dtype(), [&](auto tag) {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>)
                kernelFail(ctx.node(), "Einsum does not support bool");
            else
                referenceEinsum<T>(spec, ops, y);
        });
    }

private:
    /// Two operands whose labels each fall in one role map to a batched matmul:
    /// batch (A, B, out), M (A, out), N (B, out), K (A, B). Permute A to [batch, M, K] and
    /// B to [batch, K, N], multiply, and permute [batch, M, N] to the output order.
    bool runAsMatMul(const EinsumSpec& spec, const std::vector<const Tensor*>& ops, Tensor& y) {
        const auto& la = spec.inputs[0];
        const auto& lb = spec.inputs[1];
        const auto& lo = spec.output;
        auto has = [](const std::vector<int>& v, int l) {
            return std::find(v.begin(), v.end(), l) != v.end();
        };
        auto unique = [](std::vector<int> v) {
            std::sort(v.begin(), v.end());
            return std::adjacent_find(v.begin(), v.end()) == v.end();
        };
        if (!unique(la) || !unique(lb)) return false;
        std::vector<int> batch, mm, nn, kk;
        for (int l : la) {
            if (has(lb, l) && has(lo, l))
                batch.push_back(l);
            else if (has(lo, l))
                mm.push_back(l);
            else if (has(lb, l))
                kk.push_back(l);
            else
                return false; // summed over A alone
        }
        for (int l : lb)
            if (!has(la, l)) {
                if (!has(lo, l)) return false;
                nn.push_back(l);
            }
        // Broadcast size-1 dims would need strides 0; leave them to the reference.
        for (size_t o = 0; o < 2; ++o)
            for (size_t d = 0; d < spec.inputs[o].size(); ++d)
                if (ops[o]->dim(static_cast<int>(d)) != spec.sizes.at(spec.inputs[o][d])) return false;
        auto pos = [](const std::vector<int>& v, int l) {
            return static_cast<int>(std::find(v.begin(), v.end(), l) - v.begin());
        };
        auto size = [&](const std::vector<int>& ls) {
            int64_t s = 1;
            for (int l : ls)
                s *= spec.sizes.at(l);
            return s;
        };
        std::vector<int> pa, pb;
        for (int l : batch)
            pa.push_back(pos(la, l));
        for (int l : mm)
            pa.push_back(pos(la, l));
        for (int l : kk)
            pa.push_back(pos(la, l));
        for (int l : batch)
            pb.push_back(pos(lb, l));
        for (int l : kk)
            pb.push_back(pos(lb, l));
        for (int l : nn)
            pb.push_back(pos(lb, l));
        const int64_t bt = size(batch), m = size(mm), n = size(nn), k = size(kk);
        if (k == 0) return false;
        const Tensor a = permuted(*ops[0], pa), b = permuted(*ops[1], pb);
        std::vector<int> prodLabels = batch;
        prodLabels.insert(prodLabels.end(), mm.begin(), mm.end());
        prodLabels.insert(prodLabels.end(), nn.begin(), nn.end());
        std::vector<int> po;
        for (int l : lo)
            po.push_back(pos(prodLabels, l));
        bool identity = true;
        for (size_t i = 0; i < po.size(); ++i)
            identity = identity && po[i] == static_cast<int>(i);
        Tensor prod = identity ? y : Tensor(DType::F32, [&] {
            Shape s;
            for (int l : prodLabels)
                s.push_back(spec.sizes.at(l));
            return s;
        }());
        m_onednn.run({bt, m, k}, false, a.raw(), {bt, k, n}, false, b.raw(), {bt, m, n}, prod.raw());
        if (!identity) {
            const Tensor p = permuted(prod, po);
            std::memcpy(y.raw(), p.raw(), y.byteSize());
        }
        return true;
    }

    bool m_fast;
    std::string m_equation;
    OnednnMatMul m_onednn;
};

/// float16/bfloat16 products compute in fp32 (halfAsFloat); other dtypes go straight through.
template <typename K, bool kFused = false> KernelFactory factory() {
    return onednn::halfAsFloat([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        if constexpr (std::is_same_v<K, MatMulKernel>)
            return std::make_unique<MatMulKernel>(init, kFused);
        else
            return std::make_unique<K>(init);
    });
}

} // namespace

void registerGemmKernels(KernelRegistry& r) {
    // Fast and reference share one class; KernelInit::reference picks the path.
    r.add({"MatMul", 1, kLatestOpset, ""}, factory<MatMulKernel>(), factory<MatMulKernel>());
    r.add({"Gemm", 1, kLatestOpset, ""}, factory<GemmKernel>(), factory<GemmKernel>());
    // Gemm + activation as ORT's optimizer writes it; the activation rides on oneDNN's post-ops.
    r.add({"FusedGemm", 1, kLatestOpset, "com.microsoft"}, factory<GemmKernel>(), factory<GemmKernel>());
    r.add({"Einsum", 12, kLatestOpset, ""}, factory<EinsumKernel>(), factory<EinsumKernel>());
    r.add({"FusedMatMul", 1, kLatestOpset, "com.microsoft"}, factory<MatMulKernel, true>(),
          factory<MatMulKernel, true>());
}

} // namespace opstudio::rt
