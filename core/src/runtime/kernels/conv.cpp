// Convolutions: Conv, ConvTranspose, com.microsoft FusedConv (Conv + optional sum input Z + activation).
// Reference paths are plain loops over 1-, 2- and 3-D spatial dims (1-D and 2-D are 3-D with
// leading unit dims). The fast path (fp32) is a oneDNN convolution/deconvolution: formats
// "any" let oneDNN pick blocked layouts; activations are reordered per call, constant weights
// once. When the graph plan keeps activations channels-last (ChannelsLastKernel), 2-D
// convolutions run on NHWC directly, the layout oneDNN's brgconv/brdgmm kernels use here.
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/onednn_util.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

namespace opstudio::rt {

namespace {

using onednn::FusedActivation;

constexpr int kMaxSpatial = 3;

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

AutoPad parseAutoPad(const ir::Node& node) {
    const std::string s = node.attrString("auto_pad", "NOTSET");
    if (s == "NOTSET" || s.empty()) return AutoPad::NotSet;
    if (s == "SAME_UPPER") return AutoPad::SameUpper;
    if (s == "SAME_LOWER") return AutoPad::SameLower;
    if (s == "VALID") return AutoPad::Valid;
    kernelFail(node, "unknown auto_pad '" + s + "'");
}

/// Attributes shared by Conv and ConvTranspose, as written on the node.
struct ConvAttrs {
    AutoPad autoPad = AutoPad::NotSet;
    int64_t group = 1;
    Shape kernelShape, strides, dilations, pads, outputPadding, outputShape;

    static ConvAttrs fromNode(const ir::Node& node) {
        ConvAttrs a;
        a.autoPad = parseAutoPad(node);
        a.group = node.attrInt("group", 1);
        a.kernelShape = node.attrInts("kernel_shape");
        a.strides = node.attrInts("strides");
        a.dilations = node.attrInts("dilations");
        a.pads = node.attrInts("pads");
        a.outputPadding = node.attrInts("output_padding");
        a.outputShape = node.attrInts("output_shape");
        if (a.group < 1) kernelFail(node, "group must be >= 1");
        return a;
    }
};

/// Geometry of one convolution for concrete shapes. Spatial arrays hold `rank` entries.
struct ConvGeometry {
    int rank = 0; // spatial rank
    int64_t batch = 0, inChannels = 0, outChannels = 0, group = 1;
    Shape in, out, kernel, strides, dilations, padBegin, padEnd, outputPadding;
    Shape outShape() const {
        Shape s{batch, outChannels};
        s.insert(s.end(), out.begin(), out.end());
        return s;
    }
};

Shape spatialAttr(const ir::Node& node, const Shape& v, int rank, int64_t fallback, const char* name) {
    if (v.empty()) return Shape(rank, fallback);
    if (static_cast<int>(v.size()) != rank)
        kernelFail(node, std::string(name) + " has " + std::to_string(v.size()) + " values for " +
                             std::to_string(rank) + " spatial dims");
    return v;
}

void checkInputs(const ir::Node& node, const Tensor& x, const Tensor& w) {
    if (x.rank() < 3)
        kernelFail(node, "input must have rank >= 3 (N, C, spatial...), got " + ir::shapeToString(x.shape()));
    if (w.rank() != x.rank())
        kernelFail(node, "weights rank " + std::to_string(w.rank()) + " differs from input rank " +
                             std::to_string(x.rank()));
    if (x.rank() - 2 > kMaxSpatial) kernelFail(node, "more than 3 spatial dims are not supported");
    if (x.dtype() != w.dtype()) kernelFail(node, "input and weights have different dtypes");
}

/// Conv: out = floor((in + padBegin + padEnd - ((k - 1) * d + 1)) / s) + 1, with SAME_* choosing
/// pads so that out = ceil(in / s) (the odd pad going to the end for UPPER, the start for LOWER).
ConvGeometry convGeometry(const ir::Node& node, const ConvAttrs& a, const Shape& x, const Shape& w) {
    ConvGeometry g;
    g.rank = static_cast<int>(x.size()) - 2;
    g.batch = x[0];
    g.inChannels = x[1];
    g.outChannels = w[0];
    g.group = a.group;
    g.in.assign(x.begin() + 2, x.end());
    g.kernel.assign(w.begin() + 2, w.end());
    if (!a.kernelShape.empty() && a.kernelShape != g.kernel)
        kernelFail(node, "kernel_shape does not match the weights " + ir::shapeToString(w));
    if (w[1] * a.group != x[1])
        kernelFail(node, "weights expect " + std::to_string(w[1] * a.group) + " input channels (group " +
                             std::to_string(a.group) + "), input has " + std::to_string(x[1]));
    if (g.outChannels % a.group != 0) kernelFail(node, "output channels are not divisible by group");
    g.strides = spatialAttr(node, a.strides, g.rank, 1, "strides");
    g.dilations = spatialAttr(node, a.dilations, g.rank, 1, "dilations");
    const Shape pads = spatialAttr(node, a.pads, 2 * g.rank, 0, "pads");
    g.padBegin.assign(pads.begin(), pads.begin() + g.rank);
    g.padEnd.assign(pads.begin() + g.rank, pads.end());
    g.out.resize(g.rank);
    for (int i = 0; i < g.rank; ++i) {
        if (g.strides[i] < 1 || g.dilations[i] < 1) kernelFail(node, "strides and dilations must be >= 1");
        const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
        switch (a.autoPad) {
        case AutoPad::NotSet:
            break;
        case AutoPad::Valid:
            g.padBegin[i] = g.padEnd[i] = 0;
            break;
        case AutoPad::SameUpper:
        case AutoPad::SameLower: {
            const int64_t out = (g.in[i] + g.strides[i] - 1) / g.strides[i];
            const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + span - g.in[i]);
            const int64_t small = total / 2;
            g.padBegin[i] = a.autoPad == AutoPad::SameUpper ? small : total - small;
            g.padEnd[i] = total - g.padBegin[i];
            break;
        }
        }
        const int64_t padded = g.in[i] + g.padBegin[i] + g.padEnd[i];
        if (padded < span)
            kernelFail(node, "kernel (extent " + std::to_string(span) +
                                 ") is larger than the padded input (" + std::to_string(padded) + ")");
        g.out[i] = (padded - span) / g.strides[i] + 1;
    }
    return g;
}

/// ConvTranspose: out = s * (in - 1) + output_padding + ((k - 1) * d + 1) - padBegin - padEnd.
/// With output_shape (or SAME_*), pads are derived from the wanted size instead.
ConvGeometry convTransposeGeometry(const ir::Node& node, const ConvAttrs& a, const Shape& x, const Shape& w) {
    ConvGeometry g;
    g.rank = static_cast<int>(x.size()) - 2;
    g.batch = x[0];
    g.inChannels = x[1];
    g.group = a.group;
    if (w[0] != x[1])
        kernelFail(node, "weights " + ir::shapeToString(w) + " expect " + std::to_string(w[0]) +
                             " input channels, input has " + std::to_string(x[1]));
    if (x[1] % a.group != 0) kernelFail(node, "input channels are not divisible by group");
    g.outChannels = w[1] * a.group;
    g.in.assign(x.begin() + 2, x.end());
    g.kernel.assign(w.begin() + 2, w.end());
    if (!a.kernelShape.empty() && a.kernelShape != g.kernel)
        kernelFail(node, "kernel_shape does not match the weights " + ir::shapeToString(w));
    g.strides = spatialAttr(node, a.strides, g.rank, 1, "strides");
    g.dilations = spatialAttr(node, a.dilations, g.rank, 1, "dilations");
    g.outputPadding = spatialAttr(node, a.outputPadding, g.rank, 0, "output_padding");
    const Shape pads = spatialAttr(node, a.pads, 2 * g.rank, 0, "pads");
    g.padBegin.assign(pads.begin(), pads.begin() + g.rank);
    g.padEnd.assign(pads.begin() + g.rank, pads.end());
    Shape wanted = a.outputShape;
    if (static_cast<int>(wanted.size()) == g.rank + 2) wanted.erase(wanted.begin(), wanted.begin() + 2);
    if (!wanted.empty() && static_cast<int>(wanted.size()) != g.rank)
        kernelFail(node, "output_shape has " + std::to_string(wanted.size()) + " values for " +
                             std::to_string(g.rank) + " spatial dims");
    g.out.resize(g.rank);
    for (int i = 0; i < g.rank; ++i) {
        if (g.strides[i] < 1 || g.dilations[i] < 1) kernelFail(node, "strides and dilations must be >= 1");
        const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
        const int64_t full = g.strides[i] * (g.in[i] - 1) + g.outputPadding[i] + span;
        const bool same = a.autoPad == AutoPad::SameUpper || a.autoPad == AutoPad::SameLower;
        if (!wanted.empty() || same) {
            const int64_t out = !wanted.empty() ? wanted[i] : g.in[i] * g.strides[i];
            const int64_t total = full - out;
            // The spec: SAME_UPPER puts the smaller half first, everything else the larger half first.
            // Halves use floor division (Python's //): a wanted size one past the natural one gives
            // total = -1, i.e. pads (0, -1) and an extra zero row at the end.
            const int64_t small = total >= 0 ? total / 2 : -((-total + 1) / 2);
            g.padBegin[i] = a.autoPad == AutoPad::SameUpper ? small : total - small;
            g.padEnd[i] = total - g.padBegin[i];
        } else if (a.autoPad == AutoPad::Valid) {
            g.padBegin[i] = g.padEnd[i] = 0;
        }
        g.out[i] = full - g.padBegin[i] - g.padEnd[i];
        if (g.out[i] < 0) kernelFail(node, "ConvTranspose output size is negative");
    }
    return g;
}

/// Spatial arrays padded to 3 dims with unit extents in front, so one loop nest serves 1/2/3-D.
struct Geometry3 {
    std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1}, pad{0, 0, 0};
    explicit Geometry3(const ConvGeometry& g) {
        const int off = kMaxSpatial - g.rank;
        for (int i = 0; i < g.rank; ++i) {
            in[off + i] = g.in[i];
            out[off + i] = g.out[i];
            k[off + i] = g.kernel[i];
            s[off + i] = g.strides[i];
            d[off + i] = g.dilations[i];
            pad[off + i] = g.padBegin[i];
        }
    }
    int64_t inSize() const { return in[0] * in[1] * in[2]; }
    int64_t outSize() const { return out[0] * out[1] * out[2]; }
    int64_t kSize() const { return k[0] * k[1] * k[2]; }
};

/// y[n, oc, o] = b[oc] + sum_{ic in group, kk} x[n, ic, o * s - pad + kk * d] * w[oc, ic, kk]
template <typename T>
void referenceConv(const ConvGeometry& geo, const T* x, const T* w, const T* bias, T* y) {
    const Geometry3 g(geo);
    const int64_t icPerGroup = geo.inChannels / geo.group, ocPerGroup = geo.outChannels / geo.group;
    using Acc = double;
    for (int64_t n = 0; n < geo.batch; ++n)
        for (int64_t oc = 0; oc < geo.outChannels; ++oc) {
            const int64_t grp = oc / ocPerGroup;
            T* yo = y + (n * geo.outChannels + oc) * g.outSize();
            for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
                for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                    for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                        Acc acc = bias ? static_cast<Acc>(bias[oc]) : 0;
                        for (int64_t ic = 0; ic < icPerGroup; ++ic) {
                            const T* xi = x + (n * geo.inChannels + grp * icPerGroup + ic) * g.inSize();
                            const T* wi = w + (oc * icPerGroup + ic) * g.kSize();
                            for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
                                const int64_t i0 = o0 * g.s[0] - g.pad[0] + k0 * g.d[0];
                                if (i0 < 0 || i0 >= g.in[0]) continue;
                                for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                                    const int64_t i1 = o1 * g.s[1] - g.pad[1] + k1 * g.d[1];
                                    if (i1 < 0 || i1 >= g.in[1]) continue;
                                    for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                                        const int64_t i2 = o2 * g.s[2] - g.pad[2] + k2 * g.d[2];
                                        if (i2 < 0 || i2 >= g.in[2]) continue;
                                        acc += static_cast<Acc>(xi[(i0 * g.in[1] + i1) * g.in[2] + i2]) *
                                               static_cast<Acc>(wi[(k0 * g.k[1] + k1) * g.k[2] + k2]);
                                    }
                                }
                            }
                        }
                        yo[(o0 * g.out[1] + o1) * g.out[2] + o2] = static_cast<T>(acc);
                    }
        }
}

/// Scatter form of the transposed convolution:
/// y[n, oc, i * s - pad + kk * d] += x[n, ic, i] * w[ic, oc % ocPerGroup, kk], then + b[oc].
template <typename T>
void referenceConvTranspose(const ConvGeometry& geo, const T* x, const T* w, const T* bias, T* y) {
    const Geometry3 g(geo);
    const int64_t icPerGroup = geo.inChannels / geo.group, ocPerGroup = geo.outChannels / geo.group;
    const int64_t outSize = g.outSize();
    std::vector<double> acc(static_cast<size_t>(outSize));
    for (int64_t n = 0; n < geo.batch; ++n)
        for (int64_t oc = 0; oc < geo.outChannels; ++oc) {
            const int64_t grp = oc / ocPerGroup, ocg = oc % ocPerGroup;
            std::fill(acc.begin(), acc.end(), bias ? static_cast<double>(bias[oc]) : 0.0);
            for (int64_t ic = 0; ic < icPerGroup; ++ic) {
                const int64_t c = grp * icPerGroup + ic;
                const T* xi = x + (n * geo.inChannels + c) * g.inSize();
                const T* wi = w + (c * ocPerGroup + ocg) * g.kSize();
                for (int64_t i0 = 0; i0 < g.in[0]; ++i0)
                    for (int64_t i1 = 0; i1 < g.in[1]; ++i1)
                        for (int64_t i2 = 0; i2 < g.in[2]; ++i2) {
                            const double xv = static_cast<double>(xi[(i0 * g.in[1] + i1) * g.in[2] + i2]);
                            for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
                                const int64_t o0 = i0 * g.s[0] - g.pad[0] + k0 * g.d[0];
                                if (o0 < 0 || o0 >= g.out[0]) continue;
                                for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                                    const int64_t o1 = i1 * g.s[1] - g.pad[1] + k1 * g.d[1];
                                    if (o1 < 0 || o1 >= g.out[1]) continue;
                                    for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                                        const int64_t o2 = i2 * g.s[2] - g.pad[2] + k2 * g.d[2];
                                        if (o2 < 0 || o2 >= g.out[2]) continue;
                                        acc[(o0 * g.out[1] + o1) * g.out[2] + o2] +=
                                            xv * static_cast<double>(wi[(k0 * g.k[1] + k1) * g.k[2] + k2]);
                                    }
                                }
                            }
                        }
            }
            T* yo = y + (n * geo.outChannels + oc) * outSize;
            for (int64_t i = 0; i < outSize; ++i)
                yo[i] = static_cast<T>(acc[i]);
        }
}

// ---------------------------------------------------------------------------------------------
// oneDNN

dnnl::memory::dims spatialDims(const Shape& v, int64_t minus = 0) {
    dnnl::memory::dims d;
    for (int64_t x : v)
        d.push_back(x - minus);
    return d;
}

/// oneDNN's weight dims: [M, C/g, k...] or, grouped, [g, M/g, C/g, k...]. ONNX's Conv weights
/// [M, C/g, k...] are exactly the plain (goihw) bytes of the grouped form.
Shape onednnWeightDims(const ConvGeometry& g, bool transposed) {
    const int64_t icg = g.inChannels / g.group, ocg = g.outChannels / g.group;
    Shape d;
    if (g.group > 1) d.push_back(g.group);
    d.push_back(ocg);
    d.push_back(icg);
    d.insert(d.end(), g.kernel.begin(), g.kernel.end());
    return d;
}

/// Plain descriptor of ONNX weights in oneDNN's (g)oi<spatial> dims. ConvTranspose weights are
/// stored [C, M/g, k...] = (g, i, o, k...): a strided view with o and i swapped.
dnnl::memory::desc onnxWeightsDesc(const ConvGeometry& g, bool transposed) {
    const Shape dims = onednnWeightDims(g, transposed);
    if (!transposed) return onednn::plainDesc(dims, DType::F32);
    const int64_t icg = g.inChannels / g.group, ocg = g.outChannels / g.group;
    int64_t ks = 1;
    for (int64_t k : g.kernel)
        ks *= k;
    dnnl::memory::dims strides;
    if (g.group > 1) strides.push_back(icg * ocg * ks);
    strides.push_back(ks);       // o
    strides.push_back(ocg * ks); // i
    // Spatial strides: row-major within one kernel.
    Shape kstr(g.kernel.size());
    int64_t s = 1;
    for (size_t i = g.kernel.size(); i-- > 0;) {
        kstr[i] = s;
        s *= g.kernel[i];
    }
    strides.insert(strides.end(), kstr.begin(), kstr.end());
    return dnnl::memory::desc(onednn::toDims(dims), dnnl::memory::data_type::f32, strides);
}

struct ConvPrimitive {
    dnnl::primitive prim;
    dnnl::memory::desc src, weights, dst;
    dnnl::memory srcScratch, dstScratch; // blocked copies when the primitive wants them
    bool activationAfter = false;        // apply the fused activation on dst after the primitive
};

/// User-side descriptor of a 4-D activation in the given layout (logical dims stay NCHW).
dnnl::memory::desc activationDesc(const Shape& shape, ActivationLayout layout) {
    if (layout == ActivationLayout::ChannelsLast)
        return dnnl::memory::desc(onednn::toDims(shape), dnnl::memory::data_type::f32,
                                  dnnl::memory::format_tag::acdb);
    return onednn::plainDesc(shape, DType::F32);
}

class ConvKernel final : public Kernel, public ChannelsLastKernel {
public:
    ConvKernel(const KernelInit& init, bool transposed, bool fused)
        : m_transposed(transposed), m_fast(!init.reference && onednn::mayBeF32(init, 0)),
          m_attrs(ConvAttrs::fromNode(init.node)) {
        if (fused) m_act = FusedActivation::fromNode(init.node);
        const ir::Tensor* w = init.constInputs.size() > 1 ? init.constInputs[1] : nullptr;
        if (m_fast && w && w->dtype() == DType::F32 && w->rank() >= 3 && w->rank() <= 5)
            m_constW = *w; // a copy shares (and keeps alive) the bytes
        // Build the primitive (and pack the weights) now when the model knows the input shape.
        if (m_constW.defined()) {
            if (auto xs = onednn::knownShape(init, 0); xs && xs->size() == static_cast<size_t>(w->rank())) {
                try {
                    const ConvGeometry g = geometry(init.node, *xs, w->shape());
                    const bool withBias = init.node.presentInput(2);
                    auto entry =
                        primitive(g, withBias, false, *xs, ActivationLayout::Plain, ActivationLayout::Plain);
                    weightsFor(*entry, g, *w);
                } catch (const std::exception&) {
                    // Shape information may be stale; the first run reports real errors.
                }
            }
        }
    }

    std::string_view path() const override { return m_fast ? "onednn" : "reference"; }

    void run(KernelContext& ctx) override {
        runWithLayout(ctx, ActivationLayout::Plain, ActivationLayout::Plain);
    }

    bool supportsChannelsLast(const KernelContext& ctx) const override {
        if (!m_fast || m_transposed || !ctx.hasInput(0) || !ctx.hasInput(1)) return false;
        const Tensor& x = ctx.input(0);
        const Tensor& w = ctx.input(1);
        return x.dtype() == DType::F32 && w.dtype() == DType::F32 && x.rank() == 4 && w.rank() == 4 &&
               x.numel() > 0 && w.numel() > 0;
    }

    void runWithLayout(KernelContext& ctx, ActivationLayout inLayout, ActivationLayout outLayout) override {
        const ir::Node& node = ctx.node();
        const Tensor& x = ctx.input(0);
        const Tensor& w = ctx.input(1);
        checkInputs(node, x, w);
        const ConvGeometry g = geometry(node, x.shape(), w.shape());
        const Tensor* b = ctx.hasInput(2) ? &ctx.input(2) : nullptr;
        if (b && (b->numel() != g.outChannels || b->dtype() != x.dtype()))
            kernelFail(node,
                       "bias must hold " + std::to_string(g.outChannels) + " values of the input dtype");
        const Tensor* z = ctx.hasInput(3) ? &ctx.input(3) : nullptr;
        const Shape outShape = g.outShape();
        if (z && (z->shape() != outShape || z->dtype() != x.dtype()))
            kernelFail(node, "FusedConv Z must have the output shape " + ir::shapeToString(outShape));
        Tensor& y = ctx.allocate(0, x.dtype(), outShape);
        if (y.numel() == 0) return;
        const bool channelsLast =
            inLayout == ActivationLayout::ChannelsLast || outLayout == ActivationLayout::ChannelsLast;
        if (m_fast && x.dtype() == DType::F32 && x.numel() > 0 && w.numel() > 0) {
            try {
                runFast(g, x, w, b, z, y, inLayout, outLayout);
                return;
            } catch (const dnnl::error&) {
                // A geometry oneDNN rejects (e.g. negative pads from output_shape): use the loops.
            }
        }
        if (!channelsLast) {
            runReference(g, x, w, b, z, y);
            return;
        }
        // The loops read and write plain layouts: convert around them.
        const Tensor xPlain = onednn::convertLayout(x, inLayout, ActivationLayout::Plain);
        const Tensor zPlain = z ? onednn::convertLayout(*z, outLayout, ActivationLayout::Plain) : Tensor();
        Tensor yPlain(y.dtype(), y.shape());
        runReference(g, xPlain, w, b, z ? &zPlain : nullptr, yPlain);
        y = onednn::convertLayout(yPlain, ActivationLayout::Plain, outLayout);
    }

private:
    ConvGeometry geometry(const ir::Node& node, const Shape& x, const Shape& w) const {
        return m_transposed ? convTransposeGeometry(node, m_attrs, x, w) : convGeometry(node, m_attrs, x, w);
    }

    /// Plain loops on plain layouts (also the fallback for geometries oneDNN rejects).
    void runReference(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* b,
                      const Tensor* z, Tensor& y) const {
        dispatchFloat(x.dtype(), [&](auto tag) {
            using T = decltype(tag);
            const T* bias = b ? b->data<T>() : nullptr;
            if (x.numel() == 0 || w.numel() == 0) {
                // Empty reduction: the output is the bias (or zero).
                T* yd = y.data<T>();
                const int64_t per = y.numel() / (g.batch * g.outChannels);
                for (int64_t i = 0; i < y.numel(); ++i)
                    yd[i] = bias ? bias[(i / per) % g.outChannels] : T(0);
            } else if (m_transposed) {
                referenceConvTranspose<T>(g, x.data<T>(), w.data<T>(), bias, y.data<T>());
            } else {
                referenceConv<T>(g, x.data<T>(), w.data<T>(), bias, y.data<T>());
            }
            T* yd = y.data<T>();
            if (z) {
                const T* zd = z->data<T>();
                for (int64_t i = 0; i < y.numel(); ++i)
                    yd[i] += zd[i];
            }
            m_act.apply(yd, y.numel());
        });
    }

    std::shared_ptr<ConvPrimitive> primitive(const ConvGeometry& g, bool withBias, bool withSum,
                                             const Shape& xShape, ActivationLayout inLayout,
                                             ActivationLayout outLayout) {
        const std::vector<Shape> key{
            xShape, g.kernel, {g.outChannels, withBias, withSum, int64_t(inLayout), int64_t(outLayout)}};
        return m_cache.get(key, [&] {
            using tag = dnnl::memory::format_tag;
            const auto f32 = dnnl::memory::data_type::f32;
            // A pointwise conv (1x1, stride 1, no pads, one group) on nchw is a plain GEMM
            // W[M, C] x X[C, HW]: measured 130-150 GFLOP/s there against 60-70 with blocked
            // layouts plus per-call reorders. Everything else gains from oneDNN's blocked layouts
            // (3x3: 130 vs 33 GFLOP/s; depthwise: 9 vs 1), so the choice is left to oneDNN.
            const bool pointwise =
                !m_transposed && g.group == 1 &&
                std::all_of(g.kernel.begin(), g.kernel.end(), [](int64_t k) { return k == 1; }) &&
                std::all_of(g.strides.begin(), g.strides.end(), [](int64_t v) { return v == 1; }) &&
                std::all_of(g.padBegin.begin(), g.padBegin.end(), [](int64_t v) { return v == 0; }) &&
                std::all_of(g.padEnd.begin(), g.padEnd.end(), [](int64_t v) { return v == 0; });
            // Channels-last activations (kept so by the graph plan): NHWC in and out, which
            // oneDNN's brgconv (also 1x1) and brdgmm depthwise kernels run on without reorders.
            const bool channelsLast =
                inLayout == ActivationLayout::ChannelsLast || outLayout == ActivationLayout::ChannelsLast;
            const tag ioTag = channelsLast ? tag::acdb
                              : pointwise  ? onednn::plainTag(static_cast<int>(xShape.size()))
                                           : tag::any;
            const dnnl::memory::desc srcMd(onednn::toDims(xShape), f32, ioTag);
            const dnnl::memory::desc dstMd(onednn::toDims(g.outShape()), f32, ioTag);
            const dnnl::memory::desc wMd(onednn::toDims(onednnWeightDims(g, m_transposed)), f32, tag::any);
            const dnnl::memory::desc biasMd =
                withBias ? dnnl::memory::desc({g.outChannels}, f32, tag::a) : dnnl::memory::desc();
            // oneDNN counts dilation from 0 (a dense kernel has dilation 0).
            const auto strides = spatialDims(g.strides), dil = spatialDims(g.dilations, 1);
            const auto pl = spatialDims(g.padBegin), pr = spatialDims(g.padEnd);
            dnnl::primitive_attr attr;
            dnnl::post_ops ops;
            if (withSum) ops.append_sum(1.f);
            ConvPrimitive p;
            // oneDNN 2.6 runs a pointwise conv on plain layouts as gemm:jit, whose eltwise post-op is
            // a slow per-element pass: 1x16x23x23 -> 64 1x1 + Relu took 0.106 ms fused vs 0.020 ms for
            // the conv alone (SqueezeNet 1.1, 1 thread). Apply cheap activations ourselves instead.
            p.activationAfter = pointwise && !channelsLast && m_act.cheap();
            if (!p.activationAfter) m_act.appendTo(ops);
            attr.set_post_ops(ops);
            auto finish = [&](const auto& pd) {
                p.src = pd.src_desc();
                p.weights = pd.weights_desc();
                p.dst = pd.dst_desc();
                if (p.src != activationDesc(xShape, inLayout))
                    p.srcScratch = dnnl::memory(p.src, onednn::engine());
                if (p.dst != activationDesc(g.outShape(), outLayout))
                    p.dstScratch = dnnl::memory(p.dst, onednn::engine());
            };
            if (m_transposed) {
                // output_padding (< stride) adds rows past the last input tap; oneDNN's shape check
                // (out - span + pads) / s + 1 == in floors them away, and it computes them (bias only).
                dnnl::deconvolution_forward::primitive_desc pd(
                    dnnl::deconvolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::deconvolution_direct, srcMd, wMd,
                                                      biasMd, dstMd, strides, dil, pl, pr),
                    attr, onednn::engine());
                p.prim = dnnl::deconvolution_forward(pd);
                finish(pd);
            } else {
                dnnl::convolution_forward::primitive_desc pd(
                    dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                    dnnl::algorithm::convolution_direct, srcMd, wMd, biasMd,
                                                    dstMd, strides, dil, pl, pr),
                    attr, onednn::engine());
                p.prim = dnnl::convolution_forward(pd);
                finish(pd);
            }
            return p;
        });
    }

    dnnl::memory weightsFor(const ConvPrimitive& p, const ConvGeometry& g, const Tensor& w) {
        if (m_constW.defined() && w.raw() == m_constW.raw()) {
            if (!m_packed)
                m_packed = std::make_unique<onednn::PackedWeights>(onnxWeightsDesc(g, m_transposed), w.raw());
            return m_packed->get(p.weights);
        }
        return onednn::reorderedTo(onednn::wrap(onnxWeightsDesc(g, m_transposed), w.raw()), p.weights);
    }

    void runFast(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor* z,
                 Tensor& y, ActivationLayout inLayout, ActivationLayout outLayout) {
        auto entry = primitive(g, b != nullptr, z != nullptr, x.shape(), inLayout, outLayout);
        auto& s = onednn::stream();
        dnnl::memory wts = weightsFor(*entry, g, w);
        dnnl::memory userSrc = onednn::wrap(activationDesc(x.shape(), inLayout), x.raw());
        dnnl::memory userDst = onednn::wrap(activationDesc(y.shape(), outLayout), y.raw());
        dnnl::memory src = userSrc, dst = userDst;
        if (entry->srcScratch) {
            src = entry->srcScratch;
            dnnl::reorder(userSrc, src).execute(s, userSrc, src);
        }
        if (entry->dstScratch) dst = entry->dstScratch;
        if (z) {
            // The sum post-op accumulates into dst: seed it with Z.
            dnnl::memory userZ = onednn::wrap(activationDesc(z->shape(), outLayout), z->raw());
            dnnl::reorder(userZ, dst).execute(s, userZ, dst);
        }
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}};
        if (b)
            args[DNNL_ARG_BIAS] =
                onednn::wrap(dnnl::memory::desc({g.outChannels}, dnnl::memory::data_type::f32,
                                                dnnl::memory::format_tag::a),
                             b->raw());
        entry->prim.execute(s, args);
        if (entry->dstScratch) dnnl::reorder(dst, userDst).execute(s, dst, userDst);
        s.wait();
        if (entry->activationAfter) m_act.apply(y.data<float>(), y.numel());
    }

    bool m_transposed;
    bool m_fast;
    ConvAttrs m_attrs;
    FusedActivation m_act;
    ir::Tensor m_constW; // the constant weights (undefined when computed)
    std::unique_ptr<onednn::PackedWeights> m_packed;
    onednn::ShapeCache<ConvPrimitive> m_cache;
};

/// float16/bfloat16 convolutions compute in fp32 (halfAsFloat).
KernelFactory convFactory(bool transposed, bool fused) {
    return onednn::halfAsFloat([transposed, fused](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<ConvKernel>(init, transposed, fused);
    });
}

} // namespace

void registerConvKernels(KernelRegistry& r) {
    // Fast and reference share one class; KernelInit::reference picks the path.
    r.add({"Conv", 1, kLatestOpset, ""}, convFactory(false, false), convFactory(false, false));
    r.add({"ConvTranspose", 1, kLatestOpset, ""}, convFactory(true, false), convFactory(true, false));
    r.add({"FusedConv", 1, kLatestOpset, "com.microsoft"}, convFactory(false, true),
          convFactory(false, true));
}

} // namespace opstudio::rt
