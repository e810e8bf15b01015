// Integer matmuls: MatMulInteger, QLinearMatMul, com.microsoft MatMulIntegerToFloat and
// DynamicQuantizeMatMul. Fast path: the oneDNN int8 GEMM of int8_gemm.h.
#include "runtime/kernels/int8_gemm.h"
#include "runtime/kernels/quant_util.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace opstudio::rt {
namespace {

using namespace quant;

/// numpy matmul shapes: 1-D A gets a leading 1, 1-D B a trailing 1, batch dims broadcast.
struct MatMulGeom {
    int64_t m = 0, k = 0, n = 0;
    Shape batch;                // broadcast batch shape
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
        kernelFail(node, node.opType + ": inner dims differ: " + ir::shapeToString(a0) + " x " +
                             ir::shapeToString(b0));
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
    forEachBroadcast(g.batch, g.aBatchStr, g.bBatchStr,
                     [&](int64_t, int64_t oa, int64_t ob) { out.emplace_back(oa, ob); });
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

MatZeroPoints matZeroPoints(const ir::Node& node, const Tensor* zp, int64_t rows, int64_t matrices,
                            const char* what) {
    MatZeroPoints z;
    if (!zp) return z;
    z.values = zeroPoints(node, zp);
    const int64_t count = static_cast<int64_t>(z.values.size());
    if (count == 1) return z;
    if (count != rows && count != rows * matrices)
        kernelFail(node, node.opType + ": " + what + " has " + std::to_string(count) +
                             " elements, expected 1 or " + std::to_string(rows));
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
                    acc += (static_cast<int32_t>(ap[i * g.k + kk]) - zai) *
                           (static_cast<int32_t>(bp[kk * g.n + j]) - zbj);
                yp[i * g.n + j] = acc;
            }
    }
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
    case IntMatMulMode::Integer:
        return {0, 1, -1, 2, -1, 3, -1, -1, -1};
    case IntMatMulMode::QLinear:
        return {0, 3, 1, 2, 4, 5, 6, 7, -1};
    case IntMatMulMode::ToFloat:
        return {0, 1, 2, 4, 3, 5, -1, -1, 6};
    case IntMatMulMode::DynamicQuantize:
        return {0, 1, -1, -1, 2, 3, -1, -1, 4};
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
        for (auto& z : m_bzShifted)
            z -= shift;
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
        if (az && az->dtype() != a.dtype())
            kernelFail(node, node.opType + ": a zero point dtype differs from A");
        if (bz && bz->dtype() != b.dtype())
            kernelFail(node, node.opType + ": b zero point dtype differs from B");
        const int64_t aMats = a.rank() > 2 ? a.numel() / std::max<int64_t>(g.m * g.k, 1) : 1;
        const int64_t bMats = b.rank() > 2 ? b.numel() / std::max<int64_t>(g.k * g.n, 1) : 1;
        const MatZeroPoints za = matZeroPoints(node, az, g.m, aMats, "a_zero_point");
        const MatZeroPoints zb = matZeroPoints(node, bz, g.n, bMats, "b_zero_point");

        // MatMulInteger writes int32 straight to the output; the others to scratch.
        Tensor accT = m_mode == IntMatMulMode::Integer ? ctx.allocate(0, DType::I32, g.outShape)
                                                       : Tensor(DType::I32, g.outShape);
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
                    for (int64_t row = 0; row < rows; ++row)
                        zaRows[row] = za.at(row / g.m, row % g.m);
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
        sc.rowScale =
            m_mode == IntMatMulMode::DynamicQuantize
                ? std::vector<float>{dynScale}
                : scales(node, requireInput(ctx, static_cast<size_t>(m_in.aScale), "a_scale"), "a_scale");
        sc.colScale = scales(node, requireInput(ctx, static_cast<size_t>(m_in.bScale), "b_scale"), "b_scale");
        if (sc.rowScale.size() != 1 && static_cast<int64_t>(sc.rowScale.size()) != g.m)
            kernelFail(node, node.opType + ": a_scale must be a scalar or have M elements");
        if (sc.colScale.size() != 1 && static_cast<int64_t>(sc.colScale.size()) != g.n)
            kernelFail(node, node.opType + ": b_scale must be a scalar or have N elements");
        const int64_t rows = g.batchCount * g.m;

        if (m_mode == IntMatMulMode::QLinear) {
            const std::vector<float> ys =
                scales(node, requireInput(ctx, static_cast<size_t>(m_in.yScale), "y_scale"), "y_scale");
            const Tensor* yzT = optional(m_in.yZero);
            const DType outType = yzT ? yzT->dtype() : DType::U8;
            const std::vector<int32_t> yz = zeroPoints(node, yzT);
            if (ys.size() != 1 || yz.size() != 1)
                kernelFail(node, "QLinearMatMul: y_scale and y_zero_point must be scalars");
            const QRange range = rangeOf(node, outType);
            // y = saturate(round(acc * a_scale * b_scale / y_scale) + y_zp)
            for (float& v : sc.colScale)
                v /= ys[0];
            dispatchQuant(node, outType, [&](auto tq) {
                using Q = decltype(tq);
                Q* y = ctx.allocate(0, outType, g.outShape).template data<Q>();
                parallelFor(
                    rows,
                    [&](int64_t begin, int64_t end) {
                        for (int64_t i = begin; i < end; ++i)
                            for (int64_t j = 0; j < g.n; ++j)
                                y[i * g.n + j] = static_cast<Q>(
                                    roundSaturate(static_cast<float>(acc[i * g.n + j]) * sc.at(i, j) +
                                                      static_cast<float>(yz[0]),
                                                  range.lo, range.hi));
                    },
                    g.n * 2);
            });
            return;
        }
        // Float output: y = acc * a_scale * b_scale (+ bias)
        const float* bias = nullptr;
        if (const Tensor* bt = optional(m_in.bias)) {
            if (bt->dtype() != DType::F32 || bt->numel() != g.n)
                kernelFail(node, node.opType + ": bias must be float with N elements");
            bias = bt->data<float>();
        }
        float* y = ctx.allocate(0, DType::F32, g.outShape).data<float>();
        parallelFor(
            rows,
            [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i)
                    for (int64_t j = 0; j < g.n; ++j)
                        y[i * g.n + j] =
                            static_cast<float>(acc[i * g.n + j]) * sc.at(i, j) + (bias ? bias[j] : 0.f);
            },
            g.n * 2);
    }

private:
    IntMatMulMode m_mode;
    IntMatMulInputs m_in;
    std::unique_ptr<Int8MatMul> m_int8;
    std::vector<int32_t> m_bzShifted;
    DType m_bType = DType::Undefined;
};

KernelFactory integerMatMulFactory(IntMatMulMode mode, bool reference) {
    return [mode, reference](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<IntegerMatMulKernel>(init, mode, reference);
    };
}

} // namespace

void registerIntegerMatMulKernels(KernelRegistry& r) {
    const std::tuple<const char*, const char*, IntMatMulMode> matmuls[] = {
        {"MatMulInteger", "", IntMatMulMode::Integer},
        {"QLinearMatMul", "", IntMatMulMode::QLinear},
        {"MatMulIntegerToFloat", "com.microsoft", IntMatMulMode::ToFloat},
        {"DynamicQuantizeMatMul", "com.microsoft", IntMatMulMode::DynamicQuantize}};
    for (const auto& [op, domain, mode] : matmuls) {
        const int64_t since = std::string_view(domain).empty() ? 10 : 1;
        r.add({op, since, kLatestOpset, domain}, integerMatMulFactory(mode, false),
              integerMatMulFactory(mode, true));
    }
}

} // namespace opstudio::rt
