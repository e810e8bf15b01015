// Quantization family: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
// QLinearMatMul, ConvInteger, QLinearConv.
//
// Affine quantization: real = (q - zero_point) * scale, and back q = saturate(round(real / scale)
// + zero_point) with round-half-to-even (std::nearbyint in the default rounding mode).
// Integer products accumulate in int32 (u8/s8 x u8/s8 over K <= 2^16 cannot overflow).
//
// The fast path of the matmuls is oneDNN's u8/s8 x s8 -> s32 GEMM (VNNI where the CPU has it).
// oneDNN wants signed weights and a common weight zero point, so instead of zero-point
// attributes we compute the plain product P = A.B' and correct it afterwards:
//   sum_k (a_mk - za_m)(b_kn - zb_n) = P_mn - zb_n * rowsum(A)_m - za_m * colsum(B)_n + K za_m zb_n
// which covers per-row / per-column zero points at O(MK + KN) extra cost. A u8 B is made signed
// by b' = b - 128 with zb' = zb - 128 (the differences b - zb are unchanged).
#include "runtime/kernels/kernel_util.h"

#include <Eigen/Core>
#include <dnnl.hpp>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <tuple>

namespace opstudio::rt {
namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

const Tensor& requireInput(KernelContext& ctx, size_t i, const char* what) {
    if (!ctx.hasInput(i)) kernelFail(ctx.node(), ctx.node().opType + ": missing input '" + what + "'");
    return ctx.input(i);
}

/// Saturating round-half-to-even of v into [lo, hi].
inline int32_t roundSaturate(float v, int32_t lo, int32_t hi) {
    if (!(v == v)) return 0; // NaN
    const float r = std::nearbyint(v);
    if (r <= static_cast<float>(lo)) return lo;
    if (r >= static_cast<float>(hi)) return hi;
    return static_cast<int32_t>(r);
}

struct QRange {
    int32_t lo, hi;
};
QRange rangeOf(const ir::Node& node, DType dt) {
    if (dt == DType::U8) return {0, 255};
    if (dt == DType::I8) return {-128, 127};
    kernelFail(node, node.opType + ": quantized dtype must be uint8 or int8, got " + std::string(ir::dtypeName(dt)));
}

/// Zero points as int32 (any of u8/i8/i32); empty tensor -> {0}.
std::vector<int32_t> zeroPoints(const ir::Node& node, const Tensor* zp) {
    if (!zp) return {0};
    std::vector<int32_t> out(static_cast<size_t>(zp->numel()));
    switch (zp->dtype()) {
    case DType::U8: for (size_t i = 0; i < out.size(); ++i) out[i] = zp->data<uint8_t>()[i]; break;
    case DType::I8: for (size_t i = 0; i < out.size(); ++i) out[i] = zp->data<int8_t>()[i]; break;
    case DType::I32: for (size_t i = 0; i < out.size(); ++i) out[i] = zp->data<int32_t>()[i]; break;
    default: kernelFail(node, node.opType + ": zero point dtype " + std::string(ir::dtypeName(zp->dtype())) + " unsupported");
    }
    if (out.empty()) kernelFail(node, node.opType + ": empty zero point");
    return out;
}

std::vector<float> scales(const ir::Node& node, const Tensor& s, const char* what) {
    if (s.dtype() != DType::F32)
        kernelFail(node, node.opType + ": " + what + " must be float, got " + std::string(ir::dtypeName(s.dtype())));
    if (s.numel() == 0) kernelFail(node, node.opType + ": empty " + what);
    return {s.data<float>(), s.data<float>() + s.numel()};
}

const Tensor* optionalInput(KernelContext& ctx, size_t i) { return ctx.hasInput(i) ? &ctx.input(i) : nullptr; }

template <typename F> decltype(auto) dispatchQuant(const ir::Node& node, DType dt, F&& f) {
    switch (dt) {
    case DType::U8: return f(uint8_t{});
    case DType::I8: return f(int8_t{});
    default:
        kernelFail(node, node.opType + ": expected uint8 or int8, got " + std::string(ir::dtypeName(dt)));
    }
}

/// Per-tensor or per-axis layout: element i of x uses parameter (i / inner) % len.
struct AxisLayout {
    int64_t len = 1, inner = 1;
    int64_t param(int64_t i) const { return len == 1 ? 0 : (i / inner) % len; }
};

/// Checks scale / zero point sizes: per-tensor (1 element) or, from opset 13, 1-D along `axis`.
AxisLayout axisLayout(const ir::Node& node, const Tensor& x, int64_t opset, int64_t scaleCount, int64_t zpCount) {
    AxisLayout l;
    if (scaleCount == 1 && zpCount <= 1) return l;
    if (opset < 13) kernelFail(node, node.opType + ": per-axis scales need opset 13");
    const int64_t axis = normalizeAxis(node.attrInt("axis", 1), x.rank());
    l.len = x.dim(static_cast<int>(axis));
    for (int64_t d = axis + 1; d < x.rank(); ++d) l.inner *= x.dim(static_cast<int>(d));
    if (scaleCount != l.len || (zpCount > 1 && zpCount != l.len))
        kernelFail(node, node.opType + ": per-axis scale/zero point must have " + std::to_string(l.len) + " elements");
    return l;
}

// ---------------------------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear

void quantizeLinear(KernelContext& ctx, int64_t opset) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "x");
    const std::vector<float> s = scales(node, requireInput(ctx, 1, "y_scale"), "y_scale");
    const Tensor* zpT = optionalInput(ctx, 2);
    const DType outType = zpT ? zpT->dtype() : DType::U8;
    const QRange range = rangeOf(node, outType);
    const std::vector<int32_t> zp = zeroPoints(node, zpT);
    const AxisLayout l = axisLayout(node, x, opset, static_cast<int64_t>(s.size()), zpT ? zpT->numel() : 0);
    std::vector<float> xf;
    const float* xs = nullptr;
    if (x.dtype() == DType::F32) {
        xs = x.data<float>();
    } else if (x.dtype() == DType::I32) {
        xf.assign(x.data<int32_t>(), x.data<int32_t>() + x.numel());
        xs = xf.data();
    } else {
        kernelFail(node, "QuantizeLinear: input must be float or int32, got " + std::string(ir::dtypeName(x.dtype())));
    }
    dispatchQuant(node, outType, [&](auto tag) {
        using Q = decltype(tag);
        Q* y = ctx.allocate(0, outType, x.shape()).template data<Q>();
        const int64_t n = x.numel();
        parallelFor(n, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const int64_t p = l.param(i);
                const int32_t z = zp.size() == 1 ? zp[0] : zp[p];
                // Round the quotient first, then add the zero point (as the spec writes it).
                const float q = std::nearbyint(xs[i] / s[p]) + static_cast<float>(z);
                y[i] = static_cast<Q>(roundSaturate(q, range.lo, range.hi));
            }
        }, 4);
    });
}

void dequantizeLinear(KernelContext& ctx, int64_t opset) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "x");
    const std::vector<float> s = scales(node, requireInput(ctx, 1, "x_scale"), "x_scale");
    const Tensor* zpT = optionalInput(ctx, 2);
    if (zpT && zpT->dtype() != x.dtype()) kernelFail(node, "DequantizeLinear: zero point dtype differs from x");
    const std::vector<int32_t> zp = zeroPoints(node, zpT);
    const AxisLayout l = axisLayout(node, x, opset, static_cast<int64_t>(s.size()), zpT ? zpT->numel() : 0);
    float* y = ctx.allocate(0, DType::F32, x.shape()).data<float>();
    const int64_t n = x.numel();
    auto run = [&](auto tag) {
        using Q = decltype(tag);
        const Q* xs = x.data<Q>();
        parallelFor(n, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const int64_t p = l.param(i);
                const int32_t z = zp.size() == 1 ? zp[0] : zp[p];
                y[i] = static_cast<float>(static_cast<int32_t>(xs[i]) - z) * s[p];
            }
        }, 2);
    };
    switch (x.dtype()) {
    case DType::U8: run(uint8_t{}); break;
    case DType::I8: run(int8_t{}); break;
    case DType::I32: run(int32_t{}); break;
    default: kernelFail(node, "DequantizeLinear: x must be uint8, int8 or int32, got " + std::string(ir::dtypeName(x.dtype())));
    }
}

/// uint8 quantization whose range always contains 0:
/// scale = (max(0, max x) - min(0, min x)) / 255;  zp = saturate(round(-min / scale)).
/// All-zero input gives scale 0, zero point 0 and zeros (instead of dividing by zero).
void dynamicQuantize(const float* xs, int64_t n, uint8_t* y, float& scale, int32_t& zp) {
    float lo = 0.f, hi = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        lo = std::min(lo, xs[i]);
        hi = std::max(hi, xs[i]);
    }
    scale = (hi - lo) / 255.f;
    zp = scale > 0.f ? roundSaturate((0.f - lo) / scale, 0, 255) : 0;
    const float s = scale, z = static_cast<float>(zp);
    parallelFor(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            y[i] = s > 0.f ? static_cast<uint8_t>(roundSaturate(std::nearbyint(xs[i] / s) + z, 0, 255)) : 0;
    }, 4);
}

void dynamicQuantizeLinear(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = requireInput(ctx, 0, "x");
    if (x.dtype() != DType::F32) kernelFail(node, "DynamicQuantizeLinear: input must be float");
    float scale = 0.f;
    int32_t zp = 0;
    dynamicQuantize(x.data<float>(), x.numel(), ctx.allocate(0, DType::U8, x.shape()).data<uint8_t>(), scale, zp);
    if (ctx.wantsOutput(1)) ctx.allocate(1, DType::F32, {}).data<float>()[0] = scale;
    if (ctx.wantsOutput(2)) ctx.allocate(2, DType::U8, {}).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
}

// ---------------------------------------------------------------------------------------------
// Integer matmul (MatMulInteger, QLinearMatMul)

/// numpy matmul shapes: 1-D A gets a leading 1, 1-D B a trailing 1, batch dims broadcast.
struct MatMulGeom {
    int64_t m = 0, k = 0, n = 0;
    Shape batch;              // broadcast batch shape
    Shape aBatchStr, bBatchStr; // strides (in matrices) of A/B over `batch`
    Shape outShape;
    int64_t batchCount = 1;
};

MatMulGeom matMulGeom(const ir::Node& node, const Shape& a0, const Shape& b0) {
    if (a0.empty() || b0.empty()) kernelFail(node, node.opType + ": inputs must have rank >= 1");
    Shape a = a0, b = b0;
    if (a.size() == 1) a.insert(a.begin(), 1);
    if (b.size() == 1) b.push_back(1);
    MatMulGeom g;
    g.m = a[a.size() - 2];
    g.k = a.back();
    g.n = b.back();
    if (b[b.size() - 2] != g.k)
        kernelFail(node, node.opType + ": inner dims differ: " + ir::shapeToString(a0) + " x " + ir::shapeToString(b0));
    const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    try {
        g.batch = broadcastShapes(ab, bb);
    } catch (const Error&) {
        kernelFail(node, node.opType + ": batch dims do not broadcast: " + ir::shapeToString(a0) + " x " +
                             ir::shapeToString(b0));
    }
    g.aBatchStr = broadcastStrides(ab, g.batch);
    g.bBatchStr = broadcastStrides(bb, g.batch);
    g.batchCount = ir::shapeNumel(g.batch);
    g.outShape = g.batch;
    if (a0.size() > 1) g.outShape.push_back(g.m);
    if (b0.size() > 1) g.outShape.push_back(g.n);
    return g;
}

/// For each broadcast batch index, the matrix offsets into A and B.
std::vector<std::pair<int64_t, int64_t>> batchOffsets(const MatMulGeom& g) {
    std::vector<std::pair<int64_t, int64_t>> out;
    out.reserve(static_cast<size_t>(g.batchCount));
    if (g.batch.empty()) {
        out.emplace_back(0, 0);
        return out;
    }
    forEachBroadcast(g.batch, g.aBatchStr, g.bBatchStr, [&](int64_t, int64_t oa, int64_t ob) { out.emplace_back(oa, ob); });
    return out;
}

/// Zero points of a matmul operand: per tensor (1), per row of A / column of B shared by all
/// batches (count = rows), or one set per batch matrix of the operand (count = matrices * rows).
struct MatZeroPoints {
    std::vector<int32_t> values{0};
    int64_t perMatrix = 0; // 0: per tensor; else values per matrix
    int32_t at(int64_t matrix, int64_t row) const {
        if (perMatrix == 0) return values[0];
        const int64_t idx = static_cast<int64_t>(values.size()) == perMatrix ? row : matrix * perMatrix + row;
        return values[static_cast<size_t>(idx)];
    }
};

MatZeroPoints matZeroPoints(const ir::Node& node, const Tensor* zp, int64_t rows, int64_t matrices, const char* what) {
    MatZeroPoints z;
    if (!zp) return z;
    z.values = zeroPoints(node, zp);
    const int64_t count = static_cast<int64_t>(z.values.size());
    if (count == 1) return z;
    if (count != rows && count != rows * matrices)
        kernelFail(node, node.opType + ": " + what + " has " + std::to_string(count) + " elements, expected 1 or " +
                             std::to_string(rows));
    z.perMatrix = rows;
    return z;
}

/// Plain loops: y[b] = (A[b] - za) (B[b] - zb) with int32 accumulation.
template <typename A, typename B>
void matMulIntegerReference(const MatMulGeom& g, const A* a, const B* b, const MatZeroPoints& za,
                            const MatZeroPoints& zb, int32_t* y) {
    const auto offs = batchOffsets(g);
    for (int64_t bi = 0; bi < g.batchCount; ++bi) {
        const int64_t am = offs[bi].first, bm = offs[bi].second;
        const A* ap = a + am * g.m * g.k;
        const B* bp = b + bm * g.k * g.n;
        int32_t* yp = y + bi * g.m * g.n;
        for (int64_t i = 0; i < g.m; ++i)
            for (int64_t j = 0; j < g.n; ++j) {
                const int32_t zai = za.at(am, i), zbj = zb.at(bm, j);
                int32_t acc = 0;
                for (int64_t kk = 0; kk < g.k; ++kk)
                    acc += (static_cast<int32_t>(ap[i * g.k + kk]) - zai) * (static_cast<int32_t>(bp[kk * g.n + j]) - zbj);
                yp[i * g.n + j] = acc;
            }
    }
}

/// The process-wide oneDNN CPU engine and a stream per thread.
dnnl::engine& dnnlEngine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}
dnnl::stream& dnnlStream() {
    thread_local dnnl::stream s(dnnlEngine());
    return s;
}

/// oneDNN int8 GEMM P = A (M x K, u8 or s8) . B' (K x N, s8) -> s32, then the zero-point correction.
/// B' is signed: the constant weights are converted once at session build.
class Int8MatMul {
public:
    /// `b` is K x N row-major int8 (already shifted), with zero points shifted the same way.
    void setWeights(int64_t k, int64_t n, std::vector<int8_t> b) {
        m_k = k;
        m_n = n;
        m_b = std::move(b);
        m_colSum.assign(static_cast<size_t>(n), 0);
        for (int64_t kk = 0; kk < k; ++kk)
            for (int64_t j = 0; j < n; ++j) m_colSum[j] += m_b[kk * n + j];
    }
    /// y (M x N) = (A - za)(B' - zb'), za per row (size 1 or M), zb' per column (size 1 or N).
    template <typename A>
    void run(const A* a, int64_t m, const std::vector<int32_t>& za, const std::vector<int32_t>& zb, int32_t* y) {
        using dt = dnnl::memory::data_type;
        const dt aType = std::is_same_v<A, uint8_t> ? dt::u8 : dt::s8;
        std::shared_ptr<Prim> prim;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& p : m_prims)
                if (p->m == m && p->aType == aType) prim = p;
            if (!prim) {
                prim = std::make_shared<Prim>();
                prim->m = m;
                prim->aType = aType;
                dnnl::memory::desc aDesc({m, m_k}, aType, dnnl::memory::format_tag::ab);
                dnnl::memory::desc bAny({m_k, m_n}, dt::s8, dnnl::memory::format_tag::any);
                dnnl::memory::desc yDesc({m, m_n}, dt::s32, dnnl::memory::format_tag::ab);
                dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(aDesc, bAny, yDesc), dnnlEngine());
                prim->pd = pd;
                prim->prim = dnnl::matmul(pd);
                // Pack B into the primitive's preferred layout once per layout.
                dnnl::memory::desc want = pd.weights_desc();
                for (auto& pk : m_packed)
                    if (pk.get_desc() == want) prim->weights = pk;
                if (!prim->weights) {
                    dnnl::memory user({{m_k, m_n}, dt::s8, dnnl::memory::format_tag::ab}, dnnlEngine(), m_b.data());
                    dnnl::memory packed(want, dnnlEngine());
                    dnnl::reorder(user, packed).execute(dnnlStream(), user, packed);
                    dnnlStream().wait();
                    m_packed.push_back(packed);
                    prim->weights = packed;
                }
                if (m_prims.size() >= 8) m_prims.erase(m_prims.begin());
                m_prims.push_back(prim);
            }
        }
        dnnl::memory aMem(prim->pd.src_desc(), dnnlEngine(), const_cast<A*>(a));
        dnnl::memory yMem(prim->pd.dst_desc(), dnnlEngine(), y);
        prim->prim.execute(dnnlStream(), {{DNNL_ARG_SRC, aMem}, {DNNL_ARG_WEIGHTS, prim->weights}, {DNNL_ARG_DST, yMem}});
        dnnlStream().wait();
        const bool zaZero = std::all_of(za.begin(), za.end(), [](int32_t v) { return v == 0; });
        const bool zbZero = std::all_of(zb.begin(), zb.end(), [](int32_t v) { return v == 0; });
        if (zaZero && zbZero) return;
        // y -= zb_n * rowsum(A)_m + za_m * colsum(B')_n - K za_m zb_n
        parallelFor(m, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                int32_t rowSum = 0;
                if (!zbZero)
                    for (int64_t kk = 0; kk < m_k; ++kk) rowSum += a[i * m_k + kk];
                const int32_t zai = za.size() == 1 ? za[0] : za[i];
                int32_t* yr = y + i * m_n;
                for (int64_t j = 0; j < m_n; ++j) {
                    const int32_t zbj = zb.size() == 1 ? zb[0] : zb[j];
                    yr[j] -= zbj * rowSum + zai * m_colSum[j] - static_cast<int32_t>(m_k) * zai * zbj;
                }
            }
        }, m_n + m_k);
    }
    int64_t k() const { return m_k; }
    int64_t n() const { return m_n; }

private:
    struct Prim {
        int64_t m = 0;
        dnnl::memory::data_type aType{};
        dnnl::matmul::primitive_desc pd;
        dnnl::matmul prim;
        dnnl::memory weights;
    };
    int64_t m_k = 0, m_n = 0;
    std::vector<int8_t> m_b;
    std::vector<int32_t> m_colSum;
    std::mutex m_mutex;
    std::vector<std::shared_ptr<Prim>> m_prims;
    std::vector<dnnl::memory> m_packed;
};

/// Signed copy of B: u8 values shifted by -128 (zero points shift with them).
std::vector<int8_t> signedWeights(const Tensor& b, int32_t& shift) {
    std::vector<int8_t> out(static_cast<size_t>(b.numel()));
    if (b.dtype() == DType::U8) {
        shift = 128;
        const uint8_t* p = b.data<uint8_t>();
        for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int8_t>(static_cast<int32_t>(p[i]) - 128);
    } else {
        shift = 0;
        std::copy(b.data<int8_t>(), b.data<int8_t>() + b.numel(), out.begin());
    }
    return out;
}

/// The four integer matmuls differ only in where their inputs sit and what happens to the int32
/// product: MatMulInteger returns it, QLinearMatMul requantizes it, com.microsoft
/// MatMulIntegerToFloat scales it to float (+ bias), and com.microsoft DynamicQuantizeMatMul first
/// quantizes a float A to uint8 (as DynamicQuantizeLinear) and then does the same.
enum class IntMatMulMode { Integer, QLinear, ToFloat, DynamicQuantize };

struct IntMatMulInputs {
    int a = 0, b = 1, aScale = -1, aZero = -1, bScale = -1, bZero = -1, yScale = -1, yZero = -1, bias = -1;
};

IntMatMulInputs inputsOf(IntMatMulMode mode) {
    switch (mode) {
    case IntMatMulMode::Integer: return {0, 1, -1, 2, -1, 3, -1, -1, -1};
    case IntMatMulMode::QLinear: return {0, 3, 1, 2, 4, 5, 6, 7, -1};
    case IntMatMulMode::ToFloat: return {0, 1, 2, 4, 3, 5, -1, -1, 6};
    case IntMatMulMode::DynamicQuantize: return {0, 1, -1, -1, 2, 3, -1, -1, 4};
    }
    return {};
}

/// y = acc * rowScale[i % rows] * colScale[j] (+ bias[j]), rows over batch * M.
struct OutputScaling {
    std::vector<float> rowScale, colScale;
    int64_t m = 1;
    float at(int64_t row, int64_t col) const {
        return rowScale[rowScale.size() == 1 ? 0 : row % m] * colScale[colScale.size() == 1 ? 0 : col];
    }
};

/// MatMulInteger, QLinearMatMul, MatMulIntegerToFloat, DynamicQuantizeMatMul (see IntMatMulMode).
class IntegerMatMulKernel final : public Kernel {
public:
    IntegerMatMulKernel(const KernelInit& init, IntMatMulMode mode, bool reference)
        : m_mode(mode), m_in(inputsOf(mode)) {
        if (reference) return;
        // Pre-pack constant 2-D weights with a constant per-tensor or per-column zero point.
        auto constant = [&](int i) -> const ir::Tensor* {
            return i >= 0 && static_cast<size_t>(i) < init.constInputs.size() ? init.constInputs[i] : nullptr;
        };
        const ir::Tensor* b = constant(m_in.b);
        const ir::Tensor* bz = constant(m_in.bZero);
        if (!b || b->rank() != 2 || (b->dtype() != DType::U8 && b->dtype() != DType::I8)) return;
        if (init.node.presentInput(m_in.bZero) && !bz) return;
        if (bz && bz->dtype() != b->dtype()) return;
        if (bz && bz->numel() != 1 && bz->numel() != b->dim(1)) return;
        int32_t shift = 0;
        m_int8 = std::make_unique<Int8MatMul>();
        m_int8->setWeights(b->dim(0), b->dim(1), signedWeights(*b, shift));
        m_bzShifted = zeroPoints(init.node, bz);
        for (auto& z : m_bzShifted) z -= shift;
        m_bType = b->dtype();
    }

    std::string_view path() const override { return m_int8 ? "onednn" : "reference"; }

    void run(KernelContext& ctx) override {
        const ir::Node& node = ctx.node();
        auto optional = [&](int i) { return i >= 0 ? optionalInput(ctx, static_cast<size_t>(i)) : nullptr; };
        const Tensor& a0 = requireInput(ctx, static_cast<size_t>(m_in.a), "A");
        const Tensor& b = requireInput(ctx, static_cast<size_t>(m_in.b), "B");
        const MatMulGeom g = matMulGeom(node, a0.shape(), b.shape());

        // DynamicQuantizeMatMul: A -> uint8 with its own scale and zero point first.
        Tensor aQuant, aZeroT;
        float dynScale = 1.f;
        if (m_mode == IntMatMulMode::DynamicQuantize) {
            if (a0.dtype() != DType::F32) kernelFail(node, node.opType + ": A must be float");
            aQuant = Tensor(DType::U8, a0.shape());
            int32_t zp = 0;
            dynamicQuantize(a0.data<float>(), a0.numel(), aQuant.data<uint8_t>(), dynScale, zp);
            aZeroT = Tensor::scalar<uint8_t>(static_cast<uint8_t>(zp));
        }
        const Tensor& a = m_mode == IntMatMulMode::DynamicQuantize ? aQuant : a0;
        const Tensor* az = m_mode == IntMatMulMode::DynamicQuantize ? &aZeroT : optional(m_in.aZero);
        const Tensor* bz = optional(m_in.bZero);
        if (az && az->dtype() != a.dtype()) kernelFail(node, node.opType + ": a zero point dtype differs from A");
        if (bz && bz->dtype() != b.dtype()) kernelFail(node, node.opType + ": b zero point dtype differs from B");
        const int64_t aMats = a.rank() > 2 ? a.numel() / std::max<int64_t>(g.m * g.k, 1) : 1;
        const int64_t bMats = b.rank() > 2 ? b.numel() / std::max<int64_t>(g.k * g.n, 1) : 1;
        const MatZeroPoints za = matZeroPoints(node, az, g.m, aMats, "a_zero_point");
        const MatZeroPoints zb = matZeroPoints(node, bz, g.n, bMats, "b_zero_point");

        // MatMulInteger writes int32 straight to the output; the others to scratch.
        Tensor accT = m_mode == IntMatMulMode::Integer ? ctx.allocate(0, DType::I32, g.outShape) : Tensor(DType::I32, g.outShape);
        int32_t* acc = accT.data<int32_t>();

        const bool fast = m_int8 && b.rank() == 2 && b.dtype() == m_bType && g.k == m_int8->k() &&
                          g.n == m_int8->n() && g.m > 0 && g.k > 0 && g.n > 0;
        dispatchQuant(node, a.dtype(), [&](auto ta) {
            using A = decltype(ta);
            if (fast) {
                // B is 2-D: A's batch dims fold into M (zero points expanded per folded row).
                const int64_t rows = g.batchCount * g.m;
                std::vector<int32_t> zaRows{za.values[0]};
                if (za.perMatrix != 0) {
                    zaRows.resize(static_cast<size_t>(rows));
                    for (int64_t row = 0; row < rows; ++row) zaRows[row] = za.at(row / g.m, row % g.m);
                }
                m_int8->run<A>(a.data<A>(), rows, zaRows, m_bzShifted, acc);
                return;
            }
            dispatchQuant(node, b.dtype(), [&](auto tb) {
                using B = decltype(tb);
                matMulIntegerReference<A, B>(g, a.data<A>(), b.data<B>(), za, zb, acc);
            });
        });
        if (m_mode == IntMatMulMode::Integer) return;

        OutputScaling sc;
        sc.m = std::max<int64_t>(g.m, 1);
        sc.rowScale = m_mode == IntMatMulMode::DynamicQuantize
                          ? std::vector<float>{dynScale}
                          : scales(node, requireInput(ctx, static_cast<size_t>(m_in.aScale), "a_scale"), "a_scale");
        sc.colScale = scales(node, requireInput(ctx, static_cast<size_t>(m_in.bScale), "b_scale"), "b_scale");
        if (sc.rowScale.size() != 1 && static_cast<int64_t>(sc.rowScale.size()) != g.m)
            kernelFail(node, node.opType + ": a_scale must be a scalar or have M elements");
        if (sc.colScale.size() != 1 && static_cast<int64_t>(sc.colScale.size()) != g.n)
            kernelFail(node, node.opType + ": b_scale must be a scalar or have N elements");
        const int64_t rows = g.batchCount * g.m;

        if (m_mode == IntMatMulMode::QLinear) {
            const std::vector<float> ys = scales(node, requireInput(ctx, static_cast<size_t>(m_in.yScale), "y_scale"), "y_scale");
            const Tensor* yzT = optional(m_in.yZero);
            const DType outType = yzT ? yzT->dtype() : DType::U8;
            const std::vector<int32_t> yz = zeroPoints(node, yzT);
            if (ys.size() != 1 || yz.size() != 1) kernelFail(node, "QLinearMatMul: y_scale and y_zero_point must be scalars");
            const QRange range = rangeOf(node, outType);
            // y = saturate(round(acc * a_scale * b_scale / y_scale) + y_zp)
            for (float& v : sc.colScale) v /= ys[0];
            dispatchQuant(node, outType, [&](auto tq) {
                using Q = decltype(tq);
                Q* y = ctx.allocate(0, outType, g.outShape).template data<Q>();
                parallelFor(rows, [&](int64_t begin, int64_t end) {
                    for (int64_t i = begin; i < end; ++i)
                        for (int64_t j = 0; j < g.n; ++j)
                            y[i * g.n + j] = static_cast<Q>(roundSaturate(
                                static_cast<float>(acc[i * g.n + j]) * sc.at(i, j) + static_cast<float>(yz[0]), range.lo, range.hi));
                }, g.n * 2);
            });
            return;
        }
        // Float output: y = acc * a_scale * b_scale (+ bias)
        const float* bias = nullptr;
        if (const Tensor* bt = optional(m_in.bias)) {
            if (bt->dtype() != DType::F32 || bt->numel() != g.n) kernelFail(node, node.opType + ": bias must be float with N elements");
            bias = bt->data<float>();
        }
        float* y = ctx.allocate(0, DType::F32, g.outShape).data<float>();
        parallelFor(rows, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i)
                for (int64_t j = 0; j < g.n; ++j)
                    y[i * g.n + j] = static_cast<float>(acc[i * g.n + j]) * sc.at(i, j) + (bias ? bias[j] : 0.f);
        }, g.n * 2);
    }

private:
    IntMatMulMode m_mode;
    IntMatMulInputs m_in;
    std::unique_ptr<Int8MatMul> m_int8;
    std::vector<int32_t> m_bzShifted;
    DType m_bType = DType::Undefined;
};

// ---------------------------------------------------------------------------------------------
// Integer convolution (ConvInteger, QLinearConv)

struct ConvGeom {
    int64_t n = 0, c = 0, m = 0, group = 1;
    Shape in, kernel, out, strides, dilations, padBegin;
    Shape outShape;
};

ConvGeom convGeom(const ir::Node& node, const Shape& x, const Shape& w) {
    if (x.size() < 3 || w.size() != x.size())
        kernelFail(node, node.opType + ": expected X (N, C, D...) and W (M, C/group, k...) of the same rank, got " +
                             ir::shapeToString(x) + " and " + ir::shapeToString(w));
    ConvGeom g;
    const size_t sp = x.size() - 2;
    g.n = x[0];
    g.c = x[1];
    g.m = w[0];
    g.group = node.attrInt("group", 1);
    if (g.group <= 0 || g.c % g.group != 0 || g.m % g.group != 0 || w[1] != g.c / g.group)
        kernelFail(node, node.opType + ": channels " + std::to_string(g.c) + " / weights " + ir::shapeToString(w) +
                             " do not match group " + std::to_string(g.group));
    g.in.assign(x.begin() + 2, x.end());
    g.kernel.assign(w.begin() + 2, w.end());
    const auto ks = node.attrInts("kernel_shape");
    if (!ks.empty() && ks != g.kernel) kernelFail(node, node.opType + ": kernel_shape differs from W");
    g.strides = node.attrInts("strides", Shape(sp, 1));
    g.dilations = node.attrInts("dilations", Shape(sp, 1));
    Shape pads = node.attrInts("pads", Shape(2 * sp, 0));
    if (g.strides.size() != sp || g.dilations.size() != sp || pads.size() != 2 * sp)
        kernelFail(node, node.opType + ": strides/dilations/pads do not match the spatial rank");
    const std::string autoPad = node.attrString("auto_pad", "NOTSET");
    g.padBegin.resize(sp);
    g.out.resize(sp);
    for (size_t d = 0; d < sp; ++d) {
        if (g.strides[d] <= 0 || g.dilations[d] <= 0) kernelFail(node, node.opType + ": strides and dilations must be > 0");
        const int64_t eff = (g.kernel[d] - 1) * g.dilations[d] + 1;
        int64_t pb = pads[d], pe = pads[d + sp];
        if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
            const int64_t outD = (g.in[d] + g.strides[d] - 1) / g.strides[d];
            const int64_t total = std::max<int64_t>(0, (outD - 1) * g.strides[d] + eff - g.in[d]);
            pb = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            pe = total - pb;
        } else if (autoPad == "VALID") {
            pb = pe = 0;
        } else if (autoPad != "NOTSET") {
            kernelFail(node, node.opType + ": unknown auto_pad '" + autoPad + "'");
        }
        g.padBegin[d] = pb;
        const int64_t span = g.in[d] + pb + pe - eff;
        g.out[d] = span < 0 ? 0 : span / g.strides[d] + 1;
    }
    g.outShape = {g.n, g.m};
    g.outShape.insert(g.outShape.end(), g.out.begin(), g.out.end());
    return g;
}

/// Direct N-D convolution of (x - xz) with (w - wz[m]), int32 accumulation; positions in the
/// padding contribute nothing (as if padded with the zero point).
template <typename X, typename W>
void convIntegerReference(const ConvGeom& g, const X* x, const W* w, int32_t xz, const std::vector<int32_t>& wz,
                          int32_t* y) {
    const size_t sp = g.in.size();
    const int64_t cg = g.c / g.group, mg = g.m / g.group;
    const int64_t inPlane = ir::shapeNumel(g.in), outPlane = ir::shapeNumel(g.out), kPlane = ir::shapeNumel(g.kernel);
    // Kernel offsets per spatial dim, unrolled once.
    std::vector<Shape> kIdx(static_cast<size_t>(kPlane), Shape(sp));
    for (int64_t k = 0; k < kPlane; ++k) {
        int64_t r = k;
        for (size_t d = sp; d-- > 0;) {
            kIdx[k][d] = r % g.kernel[d];
            r /= g.kernel[d];
        }
    }
    parallelFor(g.n * g.m, [&](int64_t begin, int64_t end) {
        Shape o(sp);
        for (int64_t nm = begin; nm < end; ++nm) {
            const int64_t b = nm / g.m, oc = nm % g.m, grp = oc / mg;
            const int32_t wzm = wz.size() == 1 ? wz[0] : wz[oc];
            int32_t* yp = y + nm * outPlane;
            for (int64_t op = 0; op < outPlane; ++op) {
                int64_t r = op;
                for (size_t d = sp; d-- > 0;) {
                    o[d] = r % g.out[d];
                    r /= g.out[d];
                }
                int32_t acc = 0;
                for (int64_t ci = 0; ci < cg; ++ci) {
                    const X* xp = x + (b * g.c + grp * cg + ci) * inPlane;
                    const W* wp = w + (oc * cg + ci) * kPlane;
                    for (int64_t k = 0; k < kPlane; ++k) {
                        int64_t off = 0;
                        bool inside = true;
                        for (size_t d = 0; d < sp; ++d) {
                            const int64_t pos = o[d] * g.strides[d] - g.padBegin[d] + kIdx[k][d] * g.dilations[d];
                            if (pos < 0 || pos >= g.in[d]) {
                                inside = false;
                                break;
                            }
                            off = off * g.in[d] + pos;
                        }
                        if (!inside) continue;
                        acc += (static_cast<int32_t>(xp[off]) - xz) * (static_cast<int32_t>(wp[k]) - wzm);
                    }
                }
                yp[op] = acc;
            }
        }
    }, outPlane * kPlane * cg);
}

/// Constant conv weights packed for the int8 GEMM: one K x N matrix per group, with
/// K = C/group * prod(kernel) (a patch) and N = M/group (output channels), zero points shifted.
struct PackedConvWeights {
    DType wType = DType::Undefined;
    Shape wShape;
    std::vector<std::unique_ptr<Int8MatMul>> groups;
    std::vector<int32_t> wzShifted; // one per output channel
};

/// im2row + int8 GEMM: row p of R holds the input patch of output position p (padding filled
/// with the x zero point, so it contributes nothing after the zero-point correction);
/// Y_g^T [P x M/g] = (R - xz) . (W_g^T - wz). Then transposed into NCHW.
template <typename X>
void convIntegerFast(const ConvGeom& g, const X* x, int32_t xz, PackedConvWeights& pw, int32_t* y) {
    const size_t sp = g.in.size();
    const int64_t cg = g.c / g.group, mg = g.m / g.group;
    const int64_t inPlane = ir::shapeNumel(g.in), outPlane = ir::shapeNumel(g.out), kPlane = ir::shapeNumel(g.kernel);
    const int64_t patch = cg * kPlane;
    std::vector<Shape> kIdx(static_cast<size_t>(kPlane), Shape(sp));
    for (int64_t k = 0; k < kPlane; ++k) {
        int64_t r = k;
        for (size_t d = sp; d-- > 0;) {
            kIdx[k][d] = r % g.kernel[d];
            r /= g.kernel[d];
        }
    }
    std::vector<X> rows(static_cast<size_t>(outPlane * patch));
    std::vector<int32_t> tmp(static_cast<size_t>(outPlane * mg));
    const std::vector<int32_t> za{xz};
    for (int64_t b = 0; b < g.n; ++b) {
        for (int64_t grp = 0; grp < g.group; ++grp) {
            const X* xg = x + (b * g.c + grp * cg) * inPlane;
            parallelFor(outPlane, [&](int64_t begin, int64_t end) {
                Shape o(sp);
                for (int64_t p = begin; p < end; ++p) {
                    int64_t r = p;
                    for (size_t d = sp; d-- > 0;) {
                        o[d] = r % g.out[d];
                        r /= g.out[d];
                    }
                    X* row = rows.data() + p * patch;
                    for (int64_t k = 0; k < kPlane; ++k) {
                        int64_t off = 0;
                        bool inside = true;
                        for (size_t d = 0; d < sp; ++d) {
                            const int64_t pos = o[d] * g.strides[d] - g.padBegin[d] + kIdx[k][d] * g.dilations[d];
                            if (pos < 0 || pos >= g.in[d]) {
                                inside = false;
                                break;
                            }
                            off = off * g.in[d] + pos;
                        }
                        for (int64_t ci = 0; ci < cg; ++ci)
                            row[ci * kPlane + k] = inside ? xg[ci * inPlane + off] : static_cast<X>(xz);
                    }
                }
            }, patch);
            const std::vector<int32_t> zb(pw.wzShifted.begin() + grp * mg, pw.wzShifted.begin() + (grp + 1) * mg);
            pw.groups[static_cast<size_t>(grp)]->run<X>(rows.data(), outPlane, za, zb, tmp.data());
            for (int64_t m = 0; m < mg; ++m) {
                int32_t* yp = y + (b * g.m + grp * mg + m) * outPlane;
                for (int64_t p = 0; p < outPlane; ++p) yp[p] = tmp[p * mg + m];
            }
        }
    }
}

/// Packs constant weights (and a constant weight zero point) for convIntegerFast; null when the
/// weights are not constant or not int8/uint8.
std::unique_ptr<PackedConvWeights> packConvWeights(const KernelInit& init, bool qlinear) {
    const size_t wIdx = qlinear ? 3 : 1, wzIdx = qlinear ? 5 : 3;
    const Tensor* w = wIdx < init.constInputs.size() ? init.constInputs[wIdx] : nullptr;
    const Tensor* wz = wzIdx < init.constInputs.size() ? init.constInputs[wzIdx] : nullptr;
    if (!w || w->rank() < 3 || (w->dtype() != DType::U8 && w->dtype() != DType::I8)) return nullptr;
    if (init.node.presentInput(wzIdx) && (!wz || wz->dtype() != w->dtype())) return nullptr;
    const int64_t group = init.node.attrInt("group", 1);
    const int64_t m = w->dim(0);
    if (group <= 0 || m % group != 0 || (wz && wz->numel() != 1 && wz->numel() != m)) return nullptr;
    auto pw = std::make_unique<PackedConvWeights>();
    pw->wType = w->dtype();
    pw->wShape = w->shape();
    int32_t shift = 0;
    const std::vector<int8_t> ws = signedWeights(*w, shift);
    const std::vector<int32_t> wzv = zeroPoints(init.node, wz);
    for (int64_t oc = 0; oc < m; ++oc) pw->wzShifted.push_back((wzv.size() == 1 ? wzv[0] : wzv[oc]) - shift);
    const int64_t mg = m / group, patch = w->numel() / std::max<int64_t>(m, 1);
    for (int64_t grp = 0; grp < group; ++grp) {
        // W_g^T: K = patch rows, N = mg columns.
        std::vector<int8_t> t(static_cast<size_t>(patch * mg));
        for (int64_t j = 0; j < mg; ++j)
            for (int64_t kk = 0; kk < patch; ++kk) t[kk * mg + j] = ws[(grp * mg + j) * patch + kk];
        pw->groups.push_back(std::make_unique<Int8MatMul>());
        pw->groups.back()->setWeights(patch, mg, std::move(t));
    }
    return pw;
}

/// ConvInteger (x, w, [x_zp], [w_zp]) -> int32; QLinearConv (x, x_scale, x_zp, w, w_scale, w_zp,
/// y_scale, y_zp, [B int32]) -> requantized: y = saturate(round((acc + B_m) x_s w_s[m] / y_s) + y_zp).
void integerConv(KernelContext& ctx, bool qlinear, PackedConvWeights* packed) {
    const ir::Node& node = ctx.node();
    const size_t xzIdx = qlinear ? 2 : 2, wIdx = qlinear ? 3 : 1, wzIdx = qlinear ? 5 : 3;
    const Tensor& x = requireInput(ctx, 0, "x");
    const Tensor& w = requireInput(ctx, wIdx, "w");
    const Tensor* xzT = optionalInput(ctx, xzIdx);
    const Tensor* wzT = optionalInput(ctx, wzIdx);
    if (xzT && xzT->dtype() != x.dtype()) kernelFail(node, node.opType + ": x zero point dtype differs from x");
    if (wzT && wzT->dtype() != w.dtype()) kernelFail(node, node.opType + ": w zero point dtype differs from w");
    const ConvGeom g = convGeom(node, x.shape(), w.shape());
    const std::vector<int32_t> xz = zeroPoints(node, xzT);
    const std::vector<int32_t> wz = zeroPoints(node, wzT);
    if (xz.size() != 1) kernelFail(node, node.opType + ": x zero point must be a scalar");
    if (wz.size() != 1 && static_cast<int64_t>(wz.size()) != g.m)
        kernelFail(node, node.opType + ": w zero point must be a scalar or have M elements");
    Tensor accT = qlinear ? Tensor(DType::I32, g.outShape) : ctx.allocate(0, DType::I32, g.outShape);
    int32_t* acc = accT.data<int32_t>();
    dispatchQuant(node, x.dtype(), [&](auto tx) {
        using X = decltype(tx);
        dispatchQuant(node, w.dtype(), [&](auto tw) {
            using W = decltype(tw);
            const bool fast = packed && w.dtype() == packed->wType && w.shape() == packed->wShape &&
                              ir::shapeNumel(g.out) > 0 && g.n > 0;
            if (fast)
                convIntegerFast<X>(g, x.data<X>(), xz[0], *packed, acc);
            else
                convIntegerReference<X, W>(g, x.data<X>(), w.data<W>(), xz[0], wz, acc);
        });
    });
    if (!qlinear) return;
    const std::vector<float> xs = scales(node, requireInput(ctx, 1, "x_scale"), "x_scale");
    const std::vector<float> ws = scales(node, requireInput(ctx, 4, "w_scale"), "w_scale");
    const std::vector<float> ys = scales(node, requireInput(ctx, 6, "y_scale"), "y_scale");
    const Tensor* yzT = optionalInput(ctx, 7);
    const std::vector<int32_t> yz = zeroPoints(node, yzT);
    const DType outType = yzT ? yzT->dtype() : DType::U8;
    if (xs.size() != 1 || ys.size() != 1 || yz.size() != 1)
        kernelFail(node, "QLinearConv: x_scale, y_scale and y_zero_point must be scalars");
    if (ws.size() != 1 && static_cast<int64_t>(ws.size()) != g.m)
        kernelFail(node, "QLinearConv: w_scale must be a scalar or have M elements");
    const int32_t* bias = nullptr;
    if (ctx.hasInput(8)) {
        const Tensor& b = ctx.input(8);
        if (b.dtype() != DType::I32 || b.numel() != g.m) kernelFail(node, "QLinearConv: B must be int32 with M elements");
        bias = b.data<int32_t>();
    }
    const QRange range = rangeOf(node, outType);
    const int64_t outPlane = ir::shapeNumel(g.out);
    dispatchQuant(node, outType, [&](auto tq) {
        using Q = decltype(tq);
        Q* y = ctx.allocate(0, outType, g.outShape).template data<Q>();
        for (int64_t nm = 0; nm < g.n * g.m; ++nm) {
            const int64_t oc = nm % g.m;
            const float mult = xs[0] * ws[ws.size() == 1 ? 0 : oc] / ys[0];
            const int32_t bm = bias ? bias[oc] : 0;
            for (int64_t i = 0; i < outPlane; ++i) {
                const int64_t at = nm * outPlane + i;
                y[at] = static_cast<Q>(
                    roundSaturate(static_cast<float>(acc[at] + bm) * mult + static_cast<float>(yz[0]), range.lo, range.hi));
            }
        }
    });
}

KernelFactory integerMatMulFactory(IntMatMulMode mode, bool reference) {
    return [mode, reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<IntegerMatMulKernel>(init, mode, reference);
    };
}

// ---------------------------------------------------------------------------------------------
// com.microsoft MatMulNBits: weight-only block quantization for LLM decode.
// B holds W [N, K] in blocks of `block_size` along K, `bits` (4 or 8) per value, low nibble
// first; each (n, block) has a float scale and an unsigned zero point (default 2^(bits-1)):
//   W[n, k] = (q[n, k] - zp[n, k / block_size]) * scale[n, k / block_size];   Y = A . W^T (+ bias)
// Decode is memory-bound, so the fast path reads the packed weights once per call and
// dequantizes one block at a time into a small buffer (in cache) for the dot products;
// for many rows (prefill) it dequantizes W^T once per call and runs an Eigen GEMM.

struct NBitsLayout {
    int64_t k = 0, n = 0, bits = 4, blockSize = 32, kBlocks = 0, blobSize = 0, zpPerColumn = 0;
};

struct NBitsWeights {
    const uint8_t* b = nullptr;
    const float* scales = nullptr;
    const uint8_t* zeros = nullptr; // packed like the values; null = 2^(bits-1)

    int32_t zeroPoint(const NBitsLayout& l, int64_t col, int64_t blk) const {
        if (!zeros) return 1 << (l.bits - 1);
        if (l.bits == 8) return zeros[col * l.zpPerColumn + blk];
        const uint8_t z = zeros[col * l.zpPerColumn + blk / 2];
        return (blk & 1) ? (z >> 4) : (z & 0xF);
    }
    const uint8_t* blob(const NBitsLayout& l, int64_t col, int64_t blk) const {
        return b + (col * l.kBlocks + blk) * l.blobSize;
    }

    /// Dequantizes block `blk` of column `col` (len = valid K elements in it) into out.
    void block(const NBitsLayout& l, int64_t col, int64_t blk, float* out, int64_t len) const {
        const uint8_t* p = blob(l, col, blk);
        const float s = scales[col * l.kBlocks + blk];
        const int32_t zp = zeroPoint(l, col, blk);
        if (l.bits == 4) {
            for (int64_t j = 0; j + 1 < len; j += 2) {
                const uint8_t v = p[j / 2];
                out[j] = static_cast<float>((v & 0xF) - zp) * s;
                out[j + 1] = static_cast<float>((v >> 4) - zp) * s;
            }
            if (len & 1) out[len - 1] = static_cast<float>((p[len / 2] & 0xF) - zp) * s;
        } else {
            for (int64_t j = 0; j < len; ++j) out[j] = static_cast<float>(p[j] - zp) * s;
        }
    }
};

/// sum_j q_j a_j over one 4-bit block of `len` values (len a multiple of 16), AVX2 + FMA.
/// Byte j holds q_2j (low nibble) and q_2j+1 (high nibble): interleaving the two nibble
/// vectors restores element order.
__attribute__((target("avx2,fma"))) float nibbleDotAvx2(const uint8_t* p, const float* a, int64_t len) {
    const __m128i mask = _mm_set1_epi8(0x0F);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t j = 0; j < len; j += 32) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j / 2));
        const __m128i lo = _mm_and_si128(v, mask);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
        const __m128i q0 = _mm_unpacklo_epi8(lo, hi); // elements j .. j+15
        const __m128i q1 = _mm_unpackhi_epi8(lo, hi); // elements j+16 .. j+31
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)), _mm256_loadu_ps(a + j), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))), _mm256_loadu_ps(a + j + 8), acc1);
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)), _mm256_loadu_ps(a + j + 16), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8))), _mm256_loadu_ps(a + j + 24), acc1);
    }
    const __m256 sum = _mm256_add_ps(acc0, acc1);
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    r = _mm_hadd_ps(r, r);
    r = _mm_hadd_ps(r, r);
    return _mm_cvtss_f32(r);
}

/// sum_b scale_b * (sum_j q_bj a_bj) over all blocks of one column (full blocks, block size a
/// multiple of 32): the per-block scale is applied to the 8-lane partial sums so the horizontal
/// reduction happens once per column, not once per block.
__attribute__((target("avx2,fma"))) float nibbleColumnDotAvx2(const uint8_t* p, const float* scales, const float* a,
                                                              int64_t blocks, int64_t blockSize) {
    const __m128i mask = _mm_set1_epi8(0x0F);
    __m256 total = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        const uint8_t* pb = p + b * (blockSize / 2);
        const float* ab = a + b * blockSize;
        for (int64_t j = 0; j < blockSize; j += 32) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + j / 2));
            const __m128i lo = _mm_and_si128(v, mask);
            const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
            const __m128i q0 = _mm_unpacklo_epi8(lo, hi);
            const __m128i q1 = _mm_unpackhi_epi8(lo, hi);
            acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)), _mm256_loadu_ps(ab + j), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))), _mm256_loadu_ps(ab + j + 8), acc1);
            acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)), _mm256_loadu_ps(ab + j + 16), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8))), _mm256_loadu_ps(ab + j + 24), acc1);
        }
        total = _mm256_fmadd_ps(_mm256_add_ps(acc0, acc1), _mm256_set1_ps(scales[b]), total);
    }
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
    r = _mm_hadd_ps(r, r);
    r = _mm_hadd_ps(r, r);
    return _mm_cvtss_f32(r);
}

bool hasAvx2Fma() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}

/// Y [M, N] = A [M, K] . W^T with W [N, K] row-major, via oneDNN's fp32 matmul (W read as
/// K x N in column-major "ba" layout, so no transpose copy). Primitive cached per M.
class NBitsPrefillGemm {
public:
    void run(const float* a, const float* w, float* y, int64_t m, int64_t k, int64_t n) {
        using tag = dnnl::memory::format_tag;
        using dt = dnnl::memory::data_type;
        std::shared_ptr<Entry> e;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& c : m_cache)
                if (c->m == m && c->k == k && c->n == n) e = c;
            if (!e) {
                e = std::make_shared<Entry>();
                e->m = m;
                e->k = k;
                e->n = n;
                e->pd = dnnl::matmul::primitive_desc(
                    dnnl::matmul::desc(dnnl::memory::desc({m, k}, dt::f32, tag::ab), dnnl::memory::desc({k, n}, dt::f32, tag::ba),
                                       dnnl::memory::desc({m, n}, dt::f32, tag::ab)),
                    dnnlEngine());
                e->prim = dnnl::matmul(e->pd);
                if (m_cache.size() >= 8) m_cache.erase(m_cache.begin());
                m_cache.push_back(e);
            }
        }
        dnnl::memory am(e->pd.src_desc(), dnnlEngine(), const_cast<float*>(a));
        dnnl::memory wm(e->pd.weights_desc(), dnnlEngine(), const_cast<float*>(w));
        dnnl::memory ym(e->pd.dst_desc(), dnnlEngine(), y);
        e->prim.execute(dnnlStream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
        dnnlStream().wait();
    }

private:
    struct Entry {
        int64_t m = 0, k = 0, n = 0;
        dnnl::matmul::primitive_desc pd;
        dnnl::matmul prim;
    };
    std::mutex m_mutex;
    std::vector<std::shared_ptr<Entry>> m_cache;
};

void matMulNBits(KernelContext& ctx, bool reference, NBitsPrefillGemm* gemm) {
    const ir::Node& node = ctx.node();
    NBitsLayout l;
    l.k = node.attrInt("K", 0);
    l.n = node.attrInt("N", 0);
    l.bits = node.attrInt("bits", 4);
    l.blockSize = node.attrInt("block_size", 0);
    if (l.bits != 4 && l.bits != 8) kernelFail(node, "MatMulNBits: bits must be 4 or 8, got " + std::to_string(l.bits));
    if (l.k <= 0 || l.n <= 0 || l.blockSize < 16 || (l.blockSize & (l.blockSize - 1)) != 0)
        kernelFail(node, "MatMulNBits: K, N must be > 0 and block_size a power of two >= 16");
    l.kBlocks = (l.k + l.blockSize - 1) / l.blockSize;
    l.blobSize = l.blockSize * l.bits / 8;
    l.zpPerColumn = (l.kBlocks * l.bits + 7) / 8;
    const Tensor& a = requireInput(ctx, 0, "A");
    const Tensor& b = requireInput(ctx, 1, "B");
    const Tensor& sc = requireInput(ctx, 2, "scales");
    if (a.dtype() != DType::F32) kernelFail(node, "MatMulNBits: only float A is supported, got " + std::string(ir::dtypeName(a.dtype())));
    if (a.rank() < 1 || a.dim(-1) != l.k) kernelFail(node, "MatMulNBits: A's last dim must be K = " + std::to_string(l.k));
    if (b.dtype() != DType::U8 || b.numel() != l.n * l.kBlocks * l.blobSize)
        kernelFail(node, "MatMulNBits: B must be uint8 [N, k_blocks, blob_size]");
    if (sc.dtype() != DType::F32 || sc.numel() != l.n * l.kBlocks)
        kernelFail(node, "MatMulNBits: scales must be float with N * k_blocks elements");
    NBitsWeights w{b.data<uint8_t>(), sc.data<float>(), nullptr};
    if (ctx.hasInput(3)) {
        const Tensor& z = ctx.input(3);
        if (z.dtype() != DType::U8 || z.numel() != l.n * l.zpPerColumn)
            kernelFail(node, "MatMulNBits: only packed uint8 zero points are supported");
        w.zeros = z.data<uint8_t>();
    }
    if (ctx.hasInput(4)) kernelFail(node, "MatMulNBits: g_idx (act-order) is not supported");
    const float* bias = nullptr;
    if (ctx.hasInput(5)) {
        const Tensor& bt = ctx.input(5);
        if (bt.dtype() != DType::F32 || bt.numel() != l.n) kernelFail(node, "MatMulNBits: bias must be float with N elements");
        bias = bt.data<float>();
    }
    Shape outShape(a.shape().begin(), a.shape().end() - 1);
    outShape.push_back(l.n);
    const int64_t rows = a.numel() / l.k;
    const float* as = a.data<float>();
    float* y = ctx.allocate(0, DType::F32, outShape).data<float>();
    if (rows == 0) return;

    if (reference) {
        std::vector<float> wt(static_cast<size_t>(l.n * l.k));
        for (int64_t col = 0; col < l.n; ++col)
            for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                w.block(l, col, blk, wt.data() + col * l.k + blk * l.blockSize, std::min(l.blockSize, l.k - blk * l.blockSize));
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t col = 0; col < l.n; ++col) {
                float acc = bias ? bias[col] : 0.f;
                for (int64_t kk = 0; kk < l.k; ++kk) acc += as[i * l.k + kk] * wt[col * l.k + kk];
                y[i * l.n + col] = acc;
            }
        return;
    }
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    constexpr int64_t kGemmRows = 16;
    if (rows >= kGemmRows) {
        // Prefill: W [N, K] dequantized once (contiguous rows), then one GEMM Y = A . W^T.
        RowMajor wm(l.n, l.k);
        parallelFor(l.n, [&](int64_t begin, int64_t end) {
            for (int64_t col = begin; col < end; ++col)
                for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                    w.block(l, col, blk, wm.data() + col * l.k + blk * l.blockSize, std::min(l.blockSize, l.k - blk * l.blockSize));
        }, l.k);
        gemm->run(as, wm.data(), y, rows, l.k, l.n);
        if (bias) Eigen::Map<RowMajor>(y, rows, l.n).rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, l.n);
        return;
    }
    // Decode: per block, y += s * (sum_j q_j a_j - zp * sum_j a_j); the block sums of A are
    // computed once, so the inner loop is only unpack + multiply-add over the packed bytes.
    std::vector<float> aBlockSum(static_cast<size_t>(rows * l.kBlocks), 0.f);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t kk = 0; kk < l.k; ++kk) aBlockSum[i * l.kBlocks + kk / l.blockSize] += as[i * l.k + kk];
    const bool simd = hasAvx2Fma();
    // Whole-column SIMD when every block is full and 32-aligned in size.
    const bool columnSimd = simd && l.bits == 4 && l.blockSize % 32 == 0 && l.k % l.blockSize == 0;
    parallelFor(l.n, [&](int64_t begin, int64_t end) {
        std::vector<float> acc(static_cast<size_t>(rows));
        for (int64_t col = begin; col < end; ++col) {
            std::fill(acc.begin(), acc.end(), bias ? bias[col] : 0.f);
            if (columnSimd) {
                // y = sum_b s_b (q_b . a_b) - sum_b s_b zp_b asum_b
                for (int64_t i = 0; i < rows; ++i) {
                    float zpTerm = 0.f;
                    for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                        zpTerm += w.scales[col * l.kBlocks + blk] * static_cast<float>(w.zeroPoint(l, col, blk)) *
                                  aBlockSum[i * l.kBlocks + blk];
                    y[i * l.n + col] = acc[i] - zpTerm +
                                       nibbleColumnDotAvx2(w.blob(l, col, 0), w.scales + col * l.kBlocks, as + i * l.k,
                                                           l.kBlocks, l.blockSize);
                }
                continue;
            }
            for (int64_t blk = 0; blk < l.kBlocks; ++blk) {
                const int64_t k0 = blk * l.blockSize, len = std::min(l.blockSize, l.k - k0);
                const uint8_t* p = w.blob(l, col, blk);
                const float s = w.scales[col * l.kBlocks + blk];
                const float zp = static_cast<float>(w.zeroPoint(l, col, blk));
                for (int64_t i = 0; i < rows; ++i) {
                    const float* ar = as + i * l.k + k0;
                    float d0 = 0.f, d1 = 0.f;
                    if (l.bits == 4 && simd && len % 32 == 0) {
                        d0 = nibbleDotAvx2(p, ar, len);
                    } else if (l.bits == 4) {
                        const int64_t pairs = len / 2;
                        for (int64_t j = 0; j < pairs; ++j) {
                            const uint8_t v = p[j];
                            d0 += static_cast<float>(v & 0xF) * ar[2 * j];
                            d1 += static_cast<float>(v >> 4) * ar[2 * j + 1];
                        }
                        if (len & 1) d0 += static_cast<float>(p[pairs] & 0xF) * ar[len - 1];
                    } else {
                        for (int64_t j = 0; j < len; ++j) d0 += static_cast<float>(p[j]) * ar[j];
                    }
                    acc[i] += s * (d0 + d1 - zp * aBlockSum[i * l.kBlocks + blk]);
                }
            }
            for (int64_t i = 0; i < rows; ++i) y[i * l.n + col] = acc[i];
        }
    }, l.k * rows + l.k);
}

class IntegerConvKernel final : public Kernel {
public:
    IntegerConvKernel(const KernelInit& init, bool qlinear, bool reference) : m_qlinear(qlinear) {
        if (!reference) m_packed = packConvWeights(init, qlinear);
    }
    void run(KernelContext& ctx) override { integerConv(ctx, m_qlinear, m_packed.get()); }
    std::string_view path() const override { return m_packed ? "onednn" : "reference"; }

private:
    bool m_qlinear;
    std::unique_ptr<PackedConvWeights> m_packed;
};

KernelFactory integerConvFactory(bool qlinear, bool reference) {
    return [qlinear, reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<IntegerConvKernel>(init, qlinear, reference);
    };
}

KernelFactory withOpset(void (*f)(KernelContext&, int64_t)) {
    return [f](const KernelInit& init) -> std::unique_ptr<Kernel> {
        const int64_t opset = init.opset;
        return std::make_unique<FunctionKernel>([f, opset](KernelContext& ctx) { f(ctx, opset); }, "reference");
    };
}

} // namespace

void registerQuantKernels(KernelRegistry& r) {
    r.add({"QuantizeLinear", 10, kLatestOpset, ""}, withOpset(quantizeLinear));
    r.add({"DequantizeLinear", 10, kLatestOpset, ""}, withOpset(dequantizeLinear));
    // ORT's contrib Q/DQ (per-axis before ONNX had it) have opset 13's semantics.
    auto asOpset13 = [](void (*f)(KernelContext&, int64_t)) {
        return fn([f](KernelContext& ctx) { f(ctx, 13); });
    };
    r.add({"QuantizeLinear", 1, kLatestOpset, "com.microsoft"}, asOpset13(quantizeLinear));
    r.add({"DequantizeLinear", 1, kLatestOpset, "com.microsoft"}, asOpset13(dequantizeLinear));
    r.add({"DynamicQuantizeLinear", 11, kLatestOpset, ""}, fn(dynamicQuantizeLinear));
    const std::tuple<const char*, const char*, IntMatMulMode> matmuls[] = {
        {"MatMulInteger", "", IntMatMulMode::Integer},
        {"QLinearMatMul", "", IntMatMulMode::QLinear},
        {"MatMulIntegerToFloat", "com.microsoft", IntMatMulMode::ToFloat},
        {"DynamicQuantizeMatMul", "com.microsoft", IntMatMulMode::DynamicQuantize}};
    for (const auto& [op, domain, mode] : matmuls) {
        const int64_t since = std::string_view(domain).empty() ? 10 : 1;
        r.add({op, since, kLatestOpset, domain}, integerMatMulFactory(mode, false), integerMatMulFactory(mode, true));
    }
    r.add({"MatMulNBits", 1, kLatestOpset, "com.microsoft"},
          [](const KernelInit&) -> std::unique_ptr<Kernel> {
              auto gemm = std::make_shared<NBitsPrefillGemm>();
              return std::make_unique<FunctionKernel>([gemm](KernelContext& ctx) { matMulNBits(ctx, false, gemm.get()); },
                                                      "avx2");
          },
          fn([](KernelContext& ctx) { matMulNBits(ctx, true, nullptr); }));
    r.add({"ConvInteger", 10, kLatestOpset, ""}, integerConvFactory(false, false), integerConvFactory(false, true));
    r.add({"QLinearConv", 10, kLatestOpset, ""}, integerConvFactory(true, false), integerConvFactory(true, true));
}

} // namespace opstudio::rt
