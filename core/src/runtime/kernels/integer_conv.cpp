// Integer convolutions: ConvInteger, QLinearConv. Fast path: im2row + the oneDNN int8 GEMM of
// int8_gemm.h with weights packed once at session build.
#include "runtime/kernels/int8_gemm.h"
#include "runtime/kernels/quant_util.h"

#include <algorithm>
#include <cmath>

namespace opstudio::rt {
namespace {

using namespace quant;

struct ConvGeom {
    int64_t n = 0, c = 0, m = 0, group = 1;
    Shape in, kernel, out, strides, dilations, padBegin;
    Shape outShape;
};

ConvGeom convGeom(const ir::Node& node, const Shape& x, const Shape& w) {
    if (x.size() < 3 || w.size() != x.size())
        kernelFail(node, node.opType +
                             ": expected X (N, C, D...) and W (M, C/group, k...) of the same rank, got " +
                             ir::shapeToString(x) + " and " + ir::shapeToString(w));
    ConvGeom g;
    const size_t sp = x.size() - 2;
    g.n = x[0];
    g.c = x[1];
    g.m = w[0];
    g.group = node.attrInt("group", 1);
    if (g.group <= 0 || g.c % g.group != 0 || g.m % g.group != 0 || w[1] != g.c / g.group)
        kernelFail(node, node.opType + ": channels " + std::to_string(g.c) + " / weights " +
                             ir::shapeToString(w) + " do not match group " + std::to_string(g.group));
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
        if (g.strides[d] <= 0 || g.dilations[d] <= 0)
            kernelFail(node, node.opType + ": strides and dilations must be > 0");
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
void convIntegerReference(const ConvGeom& g, const X* x, const W* w, int32_t xz,
                          const std::vector<int32_t>& wz, int32_t* y) {
    const size_t sp = g.in.size();
    const int64_t cg = g.c / g.group, mg = g.m / g.group;
    const int64_t inPlane = ir::shapeNumel(g.in), outPlane = ir::shapeNumel(g.out),
                  kPlane = ir::shapeNumel(g.kernel);
    // Kernel offsets per spatial dim, unrolled once.
    std::vector<Shape> kIdx(static_cast<size_t>(kPlane), Shape(sp));
    for (int64_t k = 0; k < kPlane; ++k) {
        int64_t r = k;
        for (size_t d = sp; d-- > 0;) {
            kIdx[k][d] = r % g.kernel[d];
            r /= g.kernel[d];
        }
    }
    parallelFor(
        g.n * g.m,
        [&](int64_t begin, int64_t end) {
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
                                const int64_t pos =
                                    o[d] * g.strides[d] - g.padBegin[d] + kIdx[k][d] * g.dilations[d];
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
        },
        outPlane * kPlane * cg);
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
    const int64_t inPlane = ir::shapeNumel(g.in), outPlane = ir::shapeNumel(g.out),
                  kPlane = ir::shapeNumel(g.kernel);
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
            parallelFor(
                outPlane,
                [&](int64_t begin, int64_t end) {
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
                                const int64_t pos =
                                    o[d] * g.strides[d] - g.padBegin[d] + kIdx[k][d] * g.dilations[d];
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
                },
                patch);
            const std::vector<int32_t> zb(pw.wzShifted.begin() + grp * mg,
                                          pw.wzShifted.begin() + (grp + 1) * mg);
            pw.groups[static_cast<size_t>(grp)]->run<X>(rows.data(), outPlane, za, zb, tmp.data());
            for (int64_t m = 0; m < mg; ++m) {
                int32_t* yp = y + (b * g.m + grp * mg + m) * outPlane;
                for (int64_t p = 0; p < outPlane; ++p)
                    yp[p] = tmp[p * mg + m];
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
    for (int64_t oc = 0; oc < m; ++oc)
        pw->wzShifted.push_back((wzv.size() == 1 ? wzv[0] : wzv[oc]) - shift);
    const int64_t mg = m / group, patch = w->numel() / std::max<int64_t>(m, 1);
    for (int64_t grp = 0; grp < group; ++grp) {
        // W_g^T: K = patch rows, N = mg columns.
        std::vector<int8_t> t(static_cast<size_t>(patch * mg));
        for (int64_t j = 0; j < mg; ++j)
            for (int64_t kk = 0; kk < patch; ++kk)
                t[kk * mg + j] = ws[(grp * mg + j) * patch + kk];
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
    if (xzT && xzT->dtype() != x.dtype())
        kernelFail(node, node.opType + ": x zero point dtype differs from x");
    if (wzT && wzT->dtype() != w.dtype())
        kernelFail(node, node.opType + ": w zero point dtype differs from w");
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
        if (b.dtype() != DType::I32 || b.numel() != g.m)
            kernelFail(node, "QLinearConv: B must be int32 with M elements");
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
                y[at] = static_cast<Q>(roundSaturate(
                    static_cast<float>(acc[at] + bm) * mult + static_cast<float>(yz[0]), range.lo, range.hi));
            }
        }
    });
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

} // namespace

void registerIntegerConvKernels(KernelRegistry& r) {
    r.add({"ConvInteger", 10, kLatestOpset, ""}, integerConvFactory(false, false),
          integerConvFactory(false, true));
    r.add({"QLinearConv", 10, kLatestOpset, ""}, integerConvFactory(true, false),
          integerConvFactory(true, true));
}

} // namespace opstudio::rt
