// One observer, one pass over the calibration sets: every requested value is folded into its
// statistics the moment it exists (graph inputs and constants at run begin, node outputs in
// onNodeEnd), so no activation is kept after the node that consumes it ran.
#include "opstudio/calibrate/collector.h"

#include "opstudio/runtime/session.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace opstudio::calibrate {

double Histogram::binCenter(size_t i) const {
    const double width = 2 * range / static_cast<double>(counts.size());
    return -range + (static_cast<double>(i) + 0.5) * width;
}

double Histogram::quantile(double fraction) const {
    uint64_t total = 0;
    for (uint64_t c : counts)
        total += c;
    if (total == 0 || counts.empty()) return 0;
    const double target = std::clamp(fraction, 0.0, 1.0) * static_cast<double>(total);
    const double width = 2 * range / static_cast<double>(counts.size());
    double seen = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        const double next = seen + static_cast<double>(counts[i]);
        if (next >= target && counts[i] > 0)
            return -range + (static_cast<double>(i) + (target - seen) / static_cast<double>(counts[i])) * width;
        seen = next;
    }
    return range;
}

namespace {

/// Floats of a numeric tensor (a copy only when it is not f32).
const float* floatsOf(const ir::Tensor& t, std::vector<float>& scratch) {
    if (t.dtype() == ir::DType::F32) return t.data<float>();
    const std::vector<double> d = t.toDoubles();
    scratch.assign(d.begin(), d.end());
    return scratch.data();
}

class HistogramAccumulator {
public:
    explicit HistogramAccumulator(Histogram& h, int bins) : m_h(h) {
        m_h.counts.assign(static_cast<size_t>(std::max(2, bins + (bins & 1))), 0);
    }
    void add(const float* x, int64_t n) {
        float amax = 0;
        for (int64_t i = 0; i < n; ++i)
            if (std::isfinite(x[i])) amax = std::max(amax, std::fabs(x[i]));
        if (amax > 0 && m_h.range == 0) m_h.range = amax;
        // Doubling keeps old bin edges on new bin edges: the old range becomes the middle half,
        // each new bin there the sum of two old ones.
        while (amax > m_h.range) grow();
        if (m_h.range == 0) { // all zeros so far: they sit in the middle bins
            m_h.counts[m_h.counts.size() / 2] += static_cast<uint64_t>(n);
            return;
        }
        const size_t bins = m_h.counts.size();
        const double scale = static_cast<double>(bins) / (2 * m_h.range);
        for (int64_t i = 0; i < n; ++i) {
            if (!std::isfinite(x[i])) continue;
            auto b = static_cast<int64_t>((static_cast<double>(x[i]) + m_h.range) * scale);
            b = std::clamp<int64_t>(b, 0, static_cast<int64_t>(bins) - 1);
            ++m_h.counts[static_cast<size_t>(b)];
        }
    }

private:
    void grow() {
        const size_t bins = m_h.counts.size();
        std::vector<uint64_t> next(bins, 0);
        for (size_t i = 0; i < bins; ++i)
            next[bins / 4 + i / 2] += m_h.counts[i];
        m_h.counts = std::move(next);
        m_h.range *= 2;
    }
    Histogram& m_h;
};

struct TensorSink {
    TensorStats* stats = nullptr;
    HistogramAccumulator hist;
    int axis = -1;
    float nearZero = 1e-3f;
    TensorSink(TensorStats& s, const CollectOptions& o)
        : stats(&s), hist(s.histogram, o.histogramBins), axis(o.channelAxis), nearZero(static_cast<float>(o.nearZero)) {}

    void add(const ir::Tensor& t) {
        const int64_t n = t.numel();
        TensorStats& s = *stats;
        if (n == 0) return;
        // Channel c of element i: (i / inner) % channels, inner = product of the dims after the axis.
        int64_t channels = 1, inner = 1;
        if (t.rank() > 0) {
            const int a = axis < 0 ? axis + t.rank() : axis;
            if (a < 0 || a >= t.rank())
                throw Error("calibration: channel axis " + std::to_string(axis) + " is outside '" + s.name +
                            "' of rank " + std::to_string(t.rank()));
            channels = t.dim(a);
            for (int d = a + 1; d < t.rank(); ++d)
                inner *= t.dim(d);
        }
        if (s.channelSumSq.empty()) {
            s.channelSumSq.assign(static_cast<size_t>(channels), 0.0);
            s.channelAbsMax.assign(static_cast<size_t>(channels), 0.f);
            s.channelZeros.assign(static_cast<size_t>(channels), 0);
            s.channelNearZeros.assign(static_cast<size_t>(channels), 0);
        } else if (static_cast<int64_t>(s.channelSumSq.size()) != channels) {
            throw Error("calibration: '" + s.name + "' changed its channel count from " +
                        std::to_string(s.channelSumSq.size()) + " to " + std::to_string(channels) +
                        " between sets (per-channel statistics need a fixed channel count)");
        }
        std::vector<float> scratch;
        const float* x = floatsOf(t, scratch);
        if (s.count == 0) {
            s.min = std::numeric_limits<double>::infinity();
            s.max = -std::numeric_limits<double>::infinity();
        }
        for (int64_t i = 0; i < n; ++i) {
            const float v = x[i];
            s.min = std::min(s.min, static_cast<double>(v));
            s.max = std::max(s.max, static_cast<double>(v));
            const auto ch = static_cast<size_t>((i / inner) % channels);
            if (v == 0.f) {
                ++s.zeros;
                ++s.channelZeros[ch];
            }
            if (std::fabs(v) < nearZero) {
                ++s.nearZeros;
                ++s.channelNearZeros[ch];
            }
            s.channelSumSq[ch] += static_cast<double>(v) * v;
            s.channelAbsMax[ch] = std::max(s.channelAbsMax[ch], std::fabs(v));
        }
        s.count += n;
        hist.add(x, n);
    }
};

/// A 2-D convolution seen as a GEMM: one row per output position (n, oh, ow), features (tap, channel) with
/// the channel fastest — the reduction order of the pruning passes' Conv weight rows.
struct ConvGeometry {
    int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
    int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
    std::string autoPad = "NOTSET";
};

/// Rejects what the im2col view does not cover (grouped, non-2-D, unknown kernel); fills the geometry.
std::string convGeometry(const ir::Graph& g, const ir::Node& n, ConvGeometry& c) {
    if (n.attrInt("group", 1) != 1) return "grouped Conv (group " + std::to_string(n.attrInt("group", 1)) + ")";
    std::vector<int64_t> kernel = n.attrInts("kernel_shape");
    if (kernel.empty() && n.inputs.size() > 1) {
        if (const ir::Tensor* w = g.constantValue(n.inputs[1]); w && w->rank() == 4)
            kernel = {w->dim(2), w->dim(3)};
        else if (const ir::Value* v = g.findValue(n.inputs[1]); v && v->shape && v->shape->size() == 4 &&
                                                                 (*v->shape)[2].known() && (*v->shape)[3].known())
            kernel = {(*v->shape)[2].value, (*v->shape)[3].value};
    }
    if (kernel.size() != 2) return "only 2-D Conv inputs are collected";
    c.kh = kernel[0];
    c.kw = kernel[1];
    const auto strides = n.attrInts("strides", {1, 1}), dil = n.attrInts("dilations", {1, 1});
    const auto pads = n.attrInts("pads", {0, 0, 0, 0});
    if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) return "Conv attributes of another rank";
    c.sh = strides[0];
    c.sw = strides[1];
    c.dh = dil[0];
    c.dw = dil[1];
    c.padTop = pads[0];
    c.padLeft = pads[1];
    c.padBottom = pads[2];
    c.padRight = pads[3];
    c.autoPad = n.attrString("auto_pad", "NOTSET");
    return {};
}

struct LayerSink {
    LayerInputStats* stats = nullptr;
    bool transA = false; // Gemm transA=1: A is [k, rows]
    bool gram = true;
    bool conv = false;
    ConvGeometry geometry;

    void add(const ir::Tensor& t) {
        LayerInputStats& s = *stats;
        if (t.numel() == 0) return;
        if (conv) return addConv(t);
        const int64_t lastDim = t.rank() == 0 ? 1 : t.dim(-1);
        int64_t k = lastDim, rows = t.numel() / std::max<int64_t>(1, lastDim);
        if (transA) {
            if (t.rank() != 2)
                throw Error("calibration: Gemm '" + s.node + "' input A has rank " + std::to_string(t.rank()));
            k = t.dim(0);
            rows = t.dim(1);
        }
        ensureFeatures(k);
        std::vector<float> scratch;
        const float* x = floatsOf(t, scratch);
        std::vector<float> transposed;
        if (transA) {
            transposed.resize(static_cast<size_t>(rows * k));
            for (int64_t i = 0; i < k; ++i)
                for (int64_t r = 0; r < rows; ++r)
                    transposed[static_cast<size_t>(r * k + i)] = x[i * rows + r];
            x = transposed.data();
        }
        addRows(x, rows, k);
    }

    void ensureFeatures(int64_t k) {
        LayerInputStats& s = *stats;
        if (s.k == 0) {
            s.k = k;
            s.sumSq.assign(static_cast<size_t>(k), 0.0);
            s.absMax.assign(static_cast<size_t>(k), 0.f);
            if (gram) s.gram = GramMatrix(k);
        } else if (s.k != k) {
            throw Error("calibration: input of '" + s.node + "' changed its reduction length from " +
                        std::to_string(s.k) + " to " + std::to_string(k) + " between sets");
        }
    }

    void addRows(const float* x, int64_t rows, int64_t k) {
        LayerInputStats& s = *stats;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < k; ++i) {
                const float v = x[r * k + i];
                s.sumSq[static_cast<size_t>(i)] += static_cast<double>(v) * v;
                s.absMax[static_cast<size_t>(i)] = std::max(s.absMax[static_cast<size_t>(i)], std::fabs(v));
            }
        if (gram) s.gram.addRows(x, rows);
        s.rows += rows;
    }

    /// im2col of x [N, C, H, W]: row (n, oh, ow), feature (ki·kw + kj)·C + c; zero padding counts as input.
    void addConv(const ir::Tensor& t) {
        if (t.rank() != 4)
            throw Error("calibration: Conv '" + stats->node + "' input has rank " + std::to_string(t.rank()));
        const ConvGeometry& g = geometry;
        const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
        const int64_t extH = (g.kh - 1) * g.dh + 1, extW = (g.kw - 1) * g.dw + 1;
        int64_t pt = g.padTop, pl = g.padLeft, pb = g.padBottom, pr = g.padRight;
        if (g.autoPad == "SAME_UPPER" || g.autoPad == "SAME_LOWER") {
            // Output ceil(in / stride); the odd pad goes to the end (UPPER) or the start (LOWER).
            auto split = [&](int64_t in, int64_t stride, int64_t ext, int64_t& lo, int64_t& hi) {
                const int64_t out = (in + stride - 1) / stride;
                const int64_t total = std::max<int64_t>(0, (out - 1) * stride + ext - in);
                lo = g.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                hi = total - lo;
            };
            split(h, g.sh, extH, pt, pb);
            split(w, g.sw, extW, pl, pr);
        } else if (g.autoPad == "VALID") {
            pt = pl = pb = pr = 0;
        }
        const int64_t oh = (h + pt + pb - extH) / g.sh + 1, ow = (w + pl + pr - extW) / g.sw + 1;
        if (oh <= 0 || ow <= 0) return;
        const int64_t k = c * g.kh * g.kw;
        ensureFeatures(k);
        std::vector<float> scratch;
        const float* x = floatsOf(t, scratch);
        // Rows in strips so the im2col buffer stays small whatever the image size.
        constexpr int64_t kStripRows = 256;
        std::vector<float> strip(static_cast<size_t>(kStripRows * k));
        int64_t filled = 0;
        for (int64_t b = 0; b < n; ++b)
            for (int64_t y = 0; y < oh; ++y)
                for (int64_t xo = 0; xo < ow; ++xo) {
                    float* row = strip.data() + filled * k;
                    for (int64_t ki = 0; ki < g.kh; ++ki)
                        for (int64_t kj = 0; kj < g.kw; ++kj) {
                            const int64_t iy = y * g.sh - pt + ki * g.dh, ix = xo * g.sw - pl + kj * g.dw;
                            const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                            float* f = row + (ki * g.kw + kj) * c;
                            for (int64_t ci = 0; ci < c; ++ci)
                                f[ci] = inside ? x[((b * c + ci) * h + iy) * w + ix] : 0.f;
                        }
                    if (++filled == kStripRows) {
                        addRows(strip.data(), filled, k);
                        filled = 0;
                    }
                }
        if (filled > 0) addRows(strip.data(), filled, k);
    }
};

class CollectingObserver final : public rt::ExecutionObserver {
public:
    std::map<std::string, std::vector<TensorSink*>> tensorSinks;
    std::map<std::string, std::vector<LayerSink*>> layerSinks;

    void consume(const std::string& name, const ir::Tensor& t) {
        if (auto it = tensorSinks.find(name); it != tensorSinks.end())
            for (TensorSink* s : it->second)
                s->add(t);
        if (auto it = layerSinks.find(name); it != layerSinks.end())
            for (LayerSink* s : it->second)
                s->add(t);
    }
    void onNodeEnd(const ir::Node& node, int depth, const std::vector<ir::Tensor>& outputs) override {
        if (depth != 0) return; // subgraph values shadow nothing of the main graph we collect
        for (size_t i = 0; i < outputs.size() && i < node.outputs.size(); ++i)
            if (!node.outputs[i].empty() && outputs[i].defined()) consume(node.outputs[i], outputs[i]);
    }
};

bool numeric(ir::DType d) {
    return d != ir::DType::Undefined && d != ir::DType::String && d != ir::DType::Bool;
}

} // namespace

Result<CalibrationStats> collect(const ir::Model& model, const passes::CalibrationData& data,
                                 const CollectRequest& request, const CollectOptions& options) {
    if (data.feeds.empty()) return Error("calibration: no calibration sets");
    const ir::Graph& g = *model.graph;
    CalibrationStats out;
    // Reserve map entries first: sinks keep pointers into them.
    for (const auto& name : request.tensors) {
        if (!g.findValue(name)) return Error("calibration: the model has no value '" + name + "'");
        out.tensors[name].name = name;
    }
    std::map<std::string, const ir::Node*> byName;
    g.forEachNode([&](const ir::Node& n) { byName.emplace(n.name, &n); });
    for (const auto& name : request.layers) {
        auto it = byName.find(name);
        if (it == byName.end()) return Error("calibration: the model has no node '" + name + "'");
        const ir::Node& n = *it->second;
        if (!n.domain.empty() || (n.opType != "MatMul" && n.opType != "Gemm" && n.opType != "Conv"))
            return Error("calibration: layer inputs are collected for MatMul/Gemm/Conv, '" + name + "' is " +
                         n.opType);
        if (n.opType == "Conv") {
            ConvGeometry geometry;
            if (const std::string why = convGeometry(g, n, geometry); !why.empty())
                return Error("calibration: Conv '" + name + "': " + why);
        }
        if (n.inputs.empty() || n.inputs[0].empty()) return Error("calibration: '" + name + "' has no input A");
        LayerInputStats& s = out.layers[name];
        s.node = name;
        s.input = n.inputs[0];
    }
    std::vector<std::unique_ptr<TensorSink>> tensorSinks;
    std::vector<std::unique_ptr<LayerSink>> layerSinks;
    CollectingObserver observer;
    for (auto& [name, s] : out.tensors) {
        tensorSinks.push_back(std::make_unique<TensorSink>(s, options));
        observer.tensorSinks[name].push_back(tensorSinks.back().get());
    }
    for (const auto& name : request.layers) {
        LayerInputStats& s = out.layers.at(name);
        auto sink = std::make_unique<LayerSink>();
        sink->stats = &s;
        sink->gram = options.gram;
        const ir::Node& node = *byName.at(name);
        sink->transA = node.opType == "Gemm" && node.attrInt("transA", 0) != 0;
        if (node.opType == "Conv") {
            sink->conv = true;
            convGeometry(g, node, sink->geometry);
        }
        observer.layerSinks[s.input].push_back(sink.get());
        layerSinks.push_back(std::move(sink));
    }
    // Values no node produces: graph inputs come from the feeds, constants from the model.
    std::set<std::string> fromFeeds, constants;
    auto classify = [&](const std::string& name) {
        const ir::Value* v = g.findValue(name);
        if (v && v->producer != ir::kNoNode) return;
        if (g.constantValue(name))
            constants.insert(name);
        else
            fromFeeds.insert(name);
    };
    for (const auto& [name, sinks] : observer.tensorSinks)
        classify(name);
    for (const auto& [name, sinks] : observer.layerSinks)
        classify(name);

    rt::SessionOptions so;
    so.threads = options.threads > 0 ? options.threads : std::max(1, data.threads);
    // The caller owns the model for the whole call: a non-owning pointer avoids copying the weights.
    auto session = rt::Session::create(std::shared_ptr<const ir::Model>(&model, [](const ir::Model*) {}), so);
    if (!session.ok()) return session.error();
    rt::Session& s = *session.value();
    s.setObserver(&observer);
    const auto total = static_cast<int64_t>(data.feeds.size());
    try {
        for (int64_t i = 0; i < total; ++i) {
            if (options.cancelled && options.cancelled()) return Error("calibration cancelled");
            const auto& feeds = data.feeds[static_cast<size_t>(i)];
            for (const auto& name : fromFeeds) {
                auto it = feeds.find(name);
                if (it == feeds.end())
                    return Error("calibration: set " + std::to_string(i) + " has no feed for input '" + name + "'");
                if (!numeric(it->second.dtype()))
                    return Error("calibration: input '" + name + "' is not numeric");
                observer.consume(name, it->second);
            }
            for (const auto& name : constants)
                observer.consume(name, *g.constantValue(name));
            auto run = s.run(feeds);
            if (!run.ok()) {
                Error e = run.error();
                return Error("calibration set " + std::to_string(i) + ": " + e.what(), e.context());
            }
            ++out.sets;
            if (options.progress) options.progress(i + 1, total);
        }
    } catch (const Error& e) {
        s.setObserver(nullptr);
        return e;
    }
    s.setObserver(nullptr);
    return out;
}

Result<std::map<std::string, LayerInputStats>> collectLayerInputs(const ir::Model& model,
                                                                  const passes::CalibrationData& data,
                                                                  const std::vector<std::string>& nodeNames,
                                                                  const CollectOptions& options) {
    CollectRequest request;
    request.layers = nodeNames;
    auto r = collect(model, data, request, options);
    if (!r.ok()) return r.error();
    return std::move(r.value().layers);
}

Result<std::map<std::string, TensorStats>> collectTensorStats(const ir::Model& model,
                                                              const passes::CalibrationData& data,
                                                              const std::vector<std::string>& tensorNames,
                                                              const CollectOptions& options) {
    CollectRequest request;
    request.tensors = tensorNames;
    auto r = collect(model, data, request, options);
    if (!r.ok()) return r.error();
    return std::move(r.value().tensors);
}

} // namespace opstudio::calibrate
