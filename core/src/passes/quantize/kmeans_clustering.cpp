// cluster-weights-kmeans: palettization of MatMul/Gemm/Conv weights. Each constant f32 weight is
// replaced by 2^bits centroids (one codebook per tensor or per group of output channels) and one
// index per weight, exported as portable ONNX that any runtime runs:
//   indices (uint8, the weight's shape) -> Cast(int32) [-> Add(group offset)] -> Gather(codebook) -> consumer
// The codebook of group g holds entries [g * 2^bits, (g + 1) * 2^bits) of one flat float tensor, so
// the per-group case only adds g * 2^bits to the indices (an int32 offset per output channel).
// Our runtime recognizes the pattern in front of MatMul and runs a lookup-table GEMM on the indices.
#include "passes/quantize/kmeans_clustering.h"

#include "opstudio/calibrate/collector.h"
#include "opstudio/passes/graph_edit.h"
#include "passes/param_spec_util.h"
#include "passes/quantize/kmeans_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace opstudio::passes::quantize {

namespace {

/// A weight to cluster and the axis of its output channels.
struct Candidate {
    ir::Node* node = nullptr;
    std::string weight;
    int channelAxis = 0; // 0 (Conv, Gemm transB) or rank-1 (MatMul, Gemm)
};

ir::Attribute intAttr(const std::string& name, int64_t v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Int;
    a.i = v;
    return a;
}

bool listed(const std::vector<std::string>& skip, const ir::Node& n) {
    return std::find(skip.begin(), skip.end(), n.name) != skip.end() ||
           std::find(skip.begin(), skip.end(), n.opType) != skip.end();
}

std::vector<Candidate> candidates(PassContext& ctx, const std::vector<std::string>& skip, int64_t minWeights,
                                  int64_t centroids) {
    ir::Graph& g = *ctx.model.graph;
    g.rebuildIndex();
    std::vector<Candidate> out;
    for (ir::NodeId id : g.order()) {
        ir::Node& n = *g.node(id);
        if (!n.domain.empty() || (n.opType != "MatMul" && n.opType != "Gemm" && n.opType != "Conv")) continue;
        if (listed(skip, n)) {
            ctx.skip(n, "in the skip list");
            continue;
        }
        if (n.inputs.size() < 2 || n.inputs[1].empty()) continue;
        const std::string& wn = n.inputs[1];
        auto it = g.initializers.find(wn);
        if (it == g.initializers.end() || it->second.dtype() != ir::DType::F32 ||
            std::find(g.inputs.begin(), g.inputs.end(), wn) != g.inputs.end()) {
            ctx.skip(n, "weight input '" + wn + "' is not a constant f32 initializer");
            continue;
        }
        const ir::Tensor& w = it->second;
        if (useCount(g, wn) != 1) {
            ctx.skip(n, "weight '" + wn + "' is shared with other nodes (clustering it would change them too)");
            continue;
        }
        if (w.rank() < 2 || (n.opType == "Conv" && w.rank() < 3)) {
            ctx.skip(n, n.opType + " weight of rank " + std::to_string(w.rank()));
            continue;
        }
        if (w.numel() < minWeights) {
            ctx.skip(n, "weight has " + std::to_string(w.numel()) + " elements, below min_weights=" +
                            std::to_string(minWeights) + " (the codebook would cost more than it saves)");
            continue;
        }
        if (w.numel() <= centroids) {
            ctx.skip(n, "weight has " + std::to_string(w.numel()) + " elements, not more than the " +
                            std::to_string(centroids) + " centroids");
            continue;
        }
        Candidate c{&n, wn, 0};
        if (n.opType == "MatMul" || (n.opType == "Gemm" && n.attrInt("transB", 0) == 0))
            c.channelAxis = w.rank() - 1;
        out.push_back(c);
    }
    return out;
}

class KMeansWeightClustering final : public Pass {
public:
    void run(PassContext& ctx) override {
        const int bits = static_cast<int>(ctx.params.getInt("bits"));
        const int64_t groupChannels = ctx.params.getInt("group_channels");
        const auto seed = static_cast<uint64_t>(ctx.params.getInt("seed"));
        const int iterations = static_cast<int>(ctx.params.getInt("iterations"));
        const bool packIndices = ctx.params.getBool("pack_indices");
        const int64_t k = int64_t{1} << bits;
        auto layers = candidates(ctx, ctx.params.getList("skip"), ctx.params.getInt("min_weights"), k);
        if (layers.empty()) {
            ctx.report.notes.push_back(
                "pass does not apply: no MatMul/Gemm/Conv with an unshared constant f32 weight large enough to "
                "cluster (see the skipped nodes)");
            return;
        }
        // Sensitivity: weight w[., k] by the energy sum(x_k^2) of input feature k on the calibration data, so
        // k-means minimizes sum_k E[x_k^2] (w - w')^2, the diagonal of the output error ||X (W - W')||^2
        // (SqueezeLLM weights by a diagonal Fisher; activation energy needs no gradients).
        std::map<std::string, calibrate::LayerInputStats> inputs;
        const ir::Graph& g0 = *ctx.model.graph;
        const bool weighted = ctx.params.getString("sensitivity") == "activation";
        if (weighted) {
            if (!ctx.calibration || ctx.calibration->feeds.empty())
                throw Error("cluster-weights-kmeans: sensitivity=activation needs calibration data (--calibration "
                            "DIR, --calibration-text FILE or --calibration-random N)");
            std::vector<std::string> names;
            for (const Candidate& c : layers)
                if (collectable(*c.node, g0)) names.push_back(c.node->name);
            calibrate::CollectOptions opts;
            opts.gram = false;
            opts.cancelled = ctx.cancelled;
            auto collected = calibrate::collectLayerInputs(ctx.model, *ctx.calibration, names, opts);
            if (!collected) throw collected.error();
            inputs = std::move(collected.value());
        }
        ir::Graph& g = *ctx.model.graph;
        for (const Candidate& c : layers) {
            if (ctx.cancelled()) break;
            const std::vector<double>* energy = nullptr;
            if (weighted && !collectable(*c.node, g)) {
                ctx.report.notes.push_back(c.node->name + ": clustered unweighted (the calibration collector "
                                                          "reads 2-D group-1 Conv inputs only)");
            } else if (weighted) {
                auto it = inputs.find(c.node->name);
                if (it == inputs.end() || it->second.rows == 0) {
                    ctx.skip(*c.node, "no calibration rows reached this layer");
                    continue;
                }
                energy = &it->second.sumSq;
            }
            clusterLayer(ctx, g, c, bits, k, groupChannels, seed, iterations, energy, packIndices);
        }
        removeUnusedInitializers(g);
        g.topologicalSort();
        g.rebuildIndex();
    }

private:
    /// Two 4-bit indices per byte in portable ONNX (BitShift: opset 11): element e < P is the low nibble of
    /// byte e, element e >= P the high nibble of byte e - P (P = ceil(numel / 2)), so unpacking is
    ///   hi = BitShift(p, 4, RIGHT);  lo = p - BitShift(hi, 4, LEFT);  Reshape([Slice](Concat(lo, hi)), shape).
    /// Returns the name of the unpacked uint8 indices; adds the stored bytes to `bytes`.
    static std::string emitNibbleUnpack(ir::Graph& g, const std::string& weight, const std::string& base,
                                        const ir::Tensor& indices, const std::vector<ir::NodeId>& from,
                                        int64_t& bytes) {
        const int64_t numel = indices.numel(), half = (numel + 1) / 2;
        const uint8_t* idx = indices.data<uint8_t>();
        ir::Tensor packed(ir::DType::U8, {half});
        for (int64_t i = 0; i < half; ++i)
            packed.data<uint8_t>()[i] =
                static_cast<uint8_t>(idx[i] | (i + half < numel ? idx[i + half] << 4 : 0));
        const std::string p = addInitializer(g, weight + "_kmeans_indices_4bit", std::move(packed));
        const std::string four = addInitializer(g, weight + "_kmeans_4", ir::Tensor::scalar<uint8_t>(4));
        const std::string shape = addInitializer(g, weight + "_kmeans_shape", ir::Tensor::fromVector<int64_t>(
                                                                                  {indices.rank()}, indices.shape()));
        bytes += half + 1 + 8 * indices.rank();
        auto node = [&](const std::string& op, const std::string& suffix, std::vector<std::string> inputs,
                        std::vector<ir::Attribute> attrs = {}) {
            ir::Node n;
            n.name = uniqueName(g, base + "/kmeans_" + suffix);
            n.opType = op;
            n.inputs = std::move(inputs);
            n.outputs = {uniqueName(g, weight + "_kmeans_" + suffix)};
            n.attributes = std::move(attrs);
            n.provenance = from;
            return g.addNode(std::move(n)).outputs[0];
        };
        auto direction = [](const char* d) {
            ir::Attribute a;
            a.name = "direction";
            a.type = ir::AttrType::String;
            a.s = d;
            return a;
        };
        const std::string hi = node("BitShift", "high_nibbles", {p, four}, {direction("RIGHT")});
        const std::string shl = node("BitShift", "high_shifted", {hi, four}, {direction("LEFT")});
        const std::string lo = node("Sub", "low_nibbles", {p, shl});
        std::string all = node("Concat", "nibbles", {lo, hi}, {intAttr("axis", 0)});
        if (2 * half != numel) {
            const std::string zero = addInitializer(g, weight + "_kmeans_slice_start",
                                                    ir::Tensor::fromVector<int64_t>({1}, {0}));
            const std::string end = addInitializer(g, weight + "_kmeans_slice_end",
                                                   ir::Tensor::fromVector<int64_t>({1}, {numel}));
            bytes += 16;
            all = node("Slice", "nibbles_cut", {all, zero, end, zero});
        }
        return node("Reshape", "indices", {all, shape});
    }

    /// Layers whose input rows the calibration collector can gather (MatMul/Gemm; Conv 2-D with group 1).
    static bool collectable(const ir::Node& n, const ir::Graph& g) {
        if (n.opType != "Conv") return true;
        const ir::Tensor* w = g.constantValue(n.inputs[1]);
        return n.attrInt("group", 1) == 1 && w && w->rank() == 4;
    }

    /// Importance of element e of the weight: the energy of the input feature it multiplies (feature order
    /// of calibrate::LayerInputStats: MatMul/Gemm the reduction index, Conv (tap, channel) with the channel fastest).
    static std::vector<float> importance(const ir::Node& node, const ir::Tensor& w, const std::vector<double>& energy) {
        const int64_t numel = w.numel();
        std::vector<float> imp(static_cast<size_t>(numel));
        double mean = 0;
        for (double v : energy)
            mean += v;
        mean = energy.empty() ? 1.0 : mean / static_cast<double>(energy.size());
        // A floor keeps features that were never active (zero energy) in the fit at all.
        const double floor = 1e-3 * mean + 1e-30;
        auto feature = [&](int64_t e) -> int64_t {
            if (node.opType == "Conv") {
                const int64_t c = w.dim(1), sp = numel / (w.dim(0) * c);
                const int64_t rest = e % (c * sp), ci = rest / sp, s = rest % sp;
                return s * c + ci;
            }
            if (node.opType == "Gemm" && node.attrInt("transB", 0) != 0) return e % w.dim(1);
            return (e / w.dim(-1)) % w.dim(-2); // MatMul / Gemm: W[..., K, N], feature = row k
        };
        for (int64_t e = 0; e < numel; ++e) {
            const auto f = static_cast<size_t>(feature(e));
            imp[static_cast<size_t>(e)] = static_cast<float>((f < energy.size() ? energy[f] : mean) + floor);
        }
        return imp;
    }

    static void clusterLayer(PassContext& ctx, ir::Graph& g, const Candidate& c, int bits, int64_t k,
                             int64_t groupChannels, uint64_t seed, int iterations,
                             const std::vector<double>* energy, bool packIndices) {
        const ir::Tensor w = g.initializers.at(c.weight);
        const float* wv = w.data<float>();
        const int64_t numel = w.numel();
        const int64_t channels = w.dim(c.channelAxis);
        // Element e belongs to output channel e / inner (axis 0) or e % channels (last axis).
        const int64_t inner = numel / channels;
        auto channelOf = [&](int64_t e) { return c.channelAxis == 0 ? e / inner : e % channels; };
        const int64_t perGroup = groupChannels <= 0 ? channels : std::min(groupChannels, channels);
        const int64_t groups = (channels + perGroup - 1) / perGroup;

        std::vector<std::vector<float>> members(static_cast<size_t>(groups)), memberWeights(members.size());
        for (auto& m : members)
            m.reserve(static_cast<size_t>(numel / groups + 1));
        const std::vector<float> imp = energy ? importance(*c.node, w, *energy) : std::vector<float>{};
        for (int64_t e = 0; e < numel; ++e) {
            const auto gi = static_cast<size_t>(channelOf(e) / perGroup);
            members[gi].push_back(wv[e]);
            if (energy) memberWeights[gi].push_back(imp[static_cast<size_t>(e)]);
        }

        ir::Tensor codebook(ir::DType::F32, {groups * k});
        float* cb = codebook.data<float>();
        std::vector<std::vector<float>> centroids(static_cast<size_t>(groups));
        for (int64_t gi = 0; gi < groups; ++gi) {
            // Each group its own seed stream, so results do not depend on the group order.
            auto r = kmeans1d(members[gi], static_cast<int>(k), seed + 0x9E3779B97F4A7C15ull * gi, iterations,
                              memberWeights[gi]);
            centroids[gi] = std::move(r.centroids);
            for (int64_t j = 0; j < k; ++j) // unused slots repeat the last centroid
                cb[gi * k + j] = centroids[gi][std::min<size_t>(j, centroids[gi].size() - 1)];
        }
        ir::Tensor indices(ir::DType::U8, w.shape());
        uint8_t* idx = indices.data<uint8_t>();
        double err2 = 0, ref2 = 0;
        for (int64_t e = 0; e < numel; ++e) {
            const int64_t gi = channelOf(e) / perGroup;
            const int j = nearestCentroid(centroids[gi], wv[e]);
            idx[e] = static_cast<uint8_t>(j);
            const double d = static_cast<double>(wv[e]) - centroids[gi][j];
            err2 += d * d;
            ref2 += static_cast<double>(wv[e]) * wv[e];
        }

        // Cast(indices) [-> Add(offsets)] -> Gather(codebook) -> the consumer's weight input.
        ir::Node& consumer = *c.node;
        const std::string base = consumer.name.empty() ? c.weight : consumer.name;
        const std::vector<ir::NodeId> from = {consumer.id};
        int64_t bytesAfter = groups * k * 4;
        const bool pack = packIndices && bits <= 4 && ctx.model.opsetFor("") >= 11;
        const std::string idxName = pack ? emitNibbleUnpack(g, c.weight, base, indices, from, bytesAfter)
                                         : addInitializer(g, c.weight + "_kmeans_indices", std::move(indices));
        if (!pack) bytesAfter += numel;
        const std::string cbName = addInitializer(g, c.weight + "_kmeans_codebook", std::move(codebook));
        ir::Node cast;
        cast.name = uniqueName(g, base + "/kmeans_cast");
        cast.opType = "Cast";
        cast.inputs = {idxName};
        cast.outputs = {uniqueName(g, c.weight + "_kmeans_indices_i32")};
        cast.attributes = {intAttr("to", 6)}; // TensorProto.INT32: Gather takes int32/int64 indices only
        std::string gatherIndices = cast.outputs[0];
        cast.provenance = from;
        g.addNode(std::move(cast));
        if (groups > 1) {
            // offsets[channel] = group(channel) * 2^bits, shaped to broadcast along the channel axis.
            std::vector<int64_t> offShape(static_cast<size_t>(w.rank()), 1);
            if (c.channelAxis == 0)
                offShape[0] = channels;
            else
                offShape.assign(1, channels);
            ir::Tensor offsets(ir::DType::I32, offShape);
            for (int64_t ch = 0; ch < channels; ++ch)
                offsets.data<int32_t>()[ch] = static_cast<int32_t>(ch / perGroup * k);
            bytesAfter += channels * 4;
            const std::string offName = addInitializer(g, c.weight + "_kmeans_offsets", std::move(offsets));
            ir::Node add;
            add.name = uniqueName(g, base + "/kmeans_offset");
            add.opType = "Add";
            add.inputs = {gatherIndices, offName};
            add.outputs = {uniqueName(g, c.weight + "_kmeans_indices_grouped")};
            add.provenance = from;
            gatherIndices = add.outputs[0];
            g.addNode(std::move(add));
        }
        ir::Node gather;
        gather.name = uniqueName(g, base + "/kmeans_gather");
        gather.opType = "Gather";
        gather.inputs = {cbName, gatherIndices};
        gather.outputs = {uniqueName(g, c.weight + "_kmeans")};
        gather.attributes = {intAttr("axis", 0)};
        gather.provenance = from;
        const std::string weightOut = gather.outputs[0];
        g.addNode(std::move(gather));
        ir::Value& v = g.value(weightOut);
        v.dtype = ir::DType::F32;
        v.shape = ir::toValueShape(w.shape());
        v.hasType = true;
        consumer.inputs[1] = weightOut;

        const double relRmse = ref2 > 0 ? std::sqrt(err2 / ref2) : 0.0;
        const double bitsPerWeight = 8.0 * static_cast<double>(bytesAfter) / static_cast<double>(numel);
        char line[320];
        std::snprintf(line, sizeof line,
                      "%s: %d-bit indices%s%s, %lld codebook(s) of %lld, %.2f bits/weight stored, rel. RMSE %.4f, "
                      "%lld -> %lld bytes",
                      base.c_str(), bits, pack ? " (2 per byte)" : "", energy ? " (activation-weighted)" : "", static_cast<long long>(groups), static_cast<long long>(k),
                      bitsPerWeight, relRmse, static_cast<long long>(numel * 4),
                      static_cast<long long>(bytesAfter));
        ctx.report.notes.push_back(line);
        ++ctx.report.applied;
    }
};

} // namespace

PassInfo kmeansClusteringPass() {
    PassInfo info;
    info.name = "cluster-weights-kmeans";
    info.description = "Palettize MatMul/Gemm/Conv weights: 2^bits k-means centroids per tensor or per group of "
                       "output channels, uint8 indices + float codebook -> Gather (portable ONNX)";
    info.category = PassCategory::Quantization;
    info.exact = false;
    info.params = {
        intParam("bits", "Index bits: 2^bits centroids per codebook", 2, 8, 4),
        intParam("group_channels", "Output channels sharing one codebook (0: one codebook per tensor)", 0,
                 1 << 20, 0),
        intParam("min_weights", "Weights with fewer elements are left alone", 0, int64_t{1} << 40, 1024),
        intParam("iterations", "Lloyd iterations at most (k-means++ init first)", 1, 1000, 100),
        intParam("seed", "Seed of the k-means++ initialisation", 0, int64_t{1} << 40, 1),
        boolParam("pack_indices",
                  "Store two 4-bit indices per byte (bits <= 4, opset >= 11), unpacked by BitShift/Sub/Concat/Reshape",
                  false),
        enumParam("sensitivity",
                  "Weight each weight by its input feature's activation energy on calibration data (needs "
                  "calibration) or not",
                  {"none", "activation"}, "none"),
        {"skip", ParamSpec::Type::NodeList, "Node names or op types never clustered (e.g. the LM head), ';'-separated",
         0, 0, {}, std::vector<std::string>{}}};
    info.create = [] { return std::make_unique<KMeansWeightClustering>(); };
    return info;
}

} // namespace opstudio::passes::quantize
