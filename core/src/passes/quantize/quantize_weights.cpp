// quantize-weights: weight-only block quantization of MatMul / Gemm weights into com.microsoft
// MatMulNBits (what ONNX Runtime and our runtime run for LLM decode): int4 or int8 codes per block of
// K, float scales, optional zero points; round-to-nearest (with a per-block clip search) or GPTQ
// (error compensation through the calibration inputs' Hessian).
#include "passes/fusion/fusion_util.h"
#include "passes/quantize/weight_quant_util.h"

#include "opstudio/calibrate/collector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace opstudio::passes::quantize {

namespace {


int quantizeGathers(PassContext& ctx, const BlockQuantConfig& cfg, const std::vector<std::string>& skip,
                    int64_t& params, int64_t& bytesBefore, int64_t& bytesAfter) {
    ir::Graph& g = *ctx.model.graph;
    g.rebuildIndex();
    int done = 0;
    std::vector<ir::NodeId> ids = g.order();
    for (ir::NodeId id : ids) {
        ir::Node& n = *g.node(id);
        if (!n.domain.empty() || n.opType != "Gather" || n.inputs.size() < 2) continue;
        const ir::Tensor* w = fusion::constF32(g, n.inputs[0]);
        if (!w) continue; // gathers of activations and shapes are not weights: not candidates
        if (inSkipList(skip, n)) {
            ctx.skip(n, "in the skip list");
            continue;
        }
        if (w->rank() != 2 || n.attrInt("axis", 0) != 0) {
            ctx.skip(n, "table of rank " + std::to_string(w->rank()) + " gathered on axis " +
                            std::to_string(n.attrInt("axis", 0)) + " (GatherBlockQuantized here: 2-D, axis 0)");
            continue;
        }
        if (useCount(g, n.inputs[0]) != 1) {
            ctx.skip(n, "table '" + n.inputs[0] + "' is also read by other nodes (tied embedding)");
            continue;
        }
        const int64_t rows = w->dim(0), cols = w->dim(1);
        if (cols % cfg.blockSize != 0) {
            ctx.skip(n, "row length " + std::to_string(cols) + " is not a multiple of the block size " +
                            std::to_string(cfg.blockSize));
            continue;
        }
        const std::vector<float> v(w->data<float>(), w->data<float>() + w->numel());
        const QuantizedMatrix q = quantizeRtn(v, rows, cols, cfg);
        const std::string base = n.name.empty() ? n.outputs[0] : n.name;
        const std::string dName = addInitializer(g, base + "_q" + std::to_string(cfg.bits),
                                                 ir::Tensor::fromVector<uint8_t>({rows, q.kBlocks * q.blobSize}, q.packed));
        const std::string sName =
            addInitializer(g, base + "_scales", ir::Tensor::fromVector<float>({rows, q.kBlocks}, q.scales));
        std::string zName;
        if (!cfg.symmetric)
            zName = addInitializer(g, base + "_zero_points", ir::Tensor::fromVector<uint8_t>({rows, q.zpPerRow}, q.zeros));
        const std::string indices = n.inputs[1];
        n.provenance = mergeProvenance(g, {n.id});
        n.opType = "GatherBlockQuantized";
        n.domain = fusion::kMsDomain;
        n.inputs = {dName, indices, sName};
        if (!zName.empty()) n.inputs.push_back(zName);
        n.attributes = {fusion::intAttr("gather_axis", 0), fusion::intAttr("quantize_axis", 1),
                        fusion::intAttr("block_size", cfg.blockSize), fusion::intAttr("bits", cfg.bits)};
        const int64_t before = rows * cols * 4, after = q.storageBytes();
        params += rows * cols;
        bytesBefore += before;
        bytesAfter += after;
        char line[256];
        std::snprintf(line, sizeof line, "%s: embedding %lldx%lld -> GatherBlockQuantized int%d block %lld, weight rel. RMSE %.4f, %.1f KiB -> %.1f KiB",
                      n.name.c_str(), static_cast<long long>(rows), static_cast<long long>(cols), cfg.bits,
                      static_cast<long long>(cfg.blockSize), relativeRmse(v, q.dequantize()), before / 1024.0,
                      after / 1024.0);
        ctx.report.notes.push_back(line);
        ++ctx.report.applied;
        ++done;
    }
    return done;
}

class QuantizeWeights final : public Pass {
public:
    void run(PassContext& ctx) override {
        BlockQuantConfig cfg;
        cfg.bits = std::stoi(ctx.params.getString("bits"));
        cfg.blockSize = std::stoll(ctx.params.getString("block_size"));
        cfg.symmetric = ctx.params.getBool("symmetric");
        cfg.searchClip = ctx.params.getBool("clip_search");
        const std::string method = ctx.params.getString("method");
        const int64_t accuracyLevel = ctx.params.getInt("accuracy_level");
        std::vector<LinearLayer> layers = linearLayers(ctx, ctx.params.getList("skip"), "MatMulNBits");
        if (layers.empty() && !ctx.params.getBool("gather")) {
            ctx.report.notes.push_back("pass does not apply: no MatMul/Gemm with a constant 2-D f32 weight");
            return;
        }
        std::map<std::string, calibrate::LayerInputStats> grams;
        if (method != "rtn") {
            if (!ctx.calibration || ctx.calibration->feeds.empty())
                throw Error("quantize-weights: method=" + method + " needs calibration data (--calibration DIR, "
                            "--calibration-text FILE or --calibration-random N)");
            std::vector<std::string> names;
            for (const LinearLayer& c : layers)
                names.push_back(c.node->name);
            calibrate::CollectOptions opts;
            opts.cancelled = ctx.cancelled;
            auto collected = calibrate::collectLayerInputs(ctx.model, *ctx.calibration, names, opts);
            if (!collected) throw collected.error();
            grams = std::move(collected.value());
        }
        ir::Graph& g = *ctx.model.graph;
        int64_t params = 0, bytesBefore = 0, bytesAfter = 0;
        for (LinearLayer& c : layers) {
            if (ctx.cancelled()) throw Error("quantize-weights: cancelled");
            ir::Node& n = *c.node;
            QuantizedMatrix q;
            double outErr = -1, alpha = 0;
            std::vector<float> awqScales;
            std::string awqNote;
            std::vector<float> wq;
            if (method != "rtn") {
                auto it = grams.find(n.name);
                if (it == grams.end() || it->second.gram.rows == 0) {
                    ctx.skip(n, "no calibration rows reached this layer");
                    continue;
                }
                const calibrate::GramMatrix& gram = it->second.gram;
                if (method == "gptq") {
                    q = quantizeGptq(c.w, c.n, c.k, cfg, gram);
                    wq = q.dequantize();
                } else {
                    AwqResult a = quantizeAwq(c.w, c.n, c.k, cfg, gram, it->second.sumSq);
                    q = std::move(a.q);
                    alpha = a.alpha;
                    wq = q.dequantize();
                    if (alpha > 0) {
                        awqScales = std::move(a.scales);
                        for (int64_t r = 0; r < c.n; ++r)
                            for (int64_t j = 0; j < c.k; ++j) wq[static_cast<size_t>(r * c.k + j)] /= awqScales[static_cast<size_t>(j)];
                    }
                }
                outErr = relativeOutputError(c.w, wq, c.n, gram);
            } else {
                q = quantizeRtn(c.w, c.n, c.k, cfg);
                wq = q.dequantize();
            }
            const std::string base = n.name.empty() ? n.outputs[0] : n.name;
            const std::string bName = addInitializer(
                g, base + "_q" + std::to_string(cfg.bits),
                ir::Tensor::fromVector<uint8_t>({c.n, q.kBlocks, q.blobSize}, q.packed));
            const std::string sName =
                addInitializer(g, base + "_scales", ir::Tensor::fromVector<float>({c.n * q.kBlocks}, q.scales));
            std::string zName;
            if (!cfg.symmetric)
                zName = addInitializer(g, base + "_zero_points",
                                       ir::Tensor::fromVector<uint8_t>({c.n * q.zpPerRow}, q.zeros));
            std::string biasName;
            if (!c.bias.empty())
                biasName = addInitializer(g, base + "_bias", ir::Tensor::fromVector<float>({c.n}, c.bias));
            const int64_t before = c.n * c.k * 4 + static_cast<int64_t>(c.bias.size()) * 4;
            const int64_t after = q.storageBytes() + static_cast<int64_t>(c.bias.size()) * 4;
            params += c.n * c.k;
            bytesBefore += before;
            bytesAfter += after;

            std::string a = n.inputs[0];
            if (!awqScales.empty()) {
                // AWQ: the weight was scaled by s per input channel, so the input is divided by s.
                std::vector<float> inv(awqScales.size());
                for (size_t j = 0; j < inv.size(); ++j) inv[j] = 1.f / awqScales[j];
                const std::string invName = addInitializer(g, base + "_awq_inv_scale",
                                                           ir::Tensor::fromVector<float>({c.k}, inv));
                ir::Node mul;
                mul.name = uniqueName(g, base + "_awq_scale");
                mul.opType = "Mul";
                mul.inputs = {a, invName};
                mul.outputs = {uniqueName(g, a + "_awq")};
                mul.provenance = mergeProvenance(g, {n.id});
                a = mul.outputs[0];
                g.addNode(std::move(mul));
                char extra[96];
                std::snprintf(extra, sizeof extra, " (AWQ alpha %.1f)", alpha);
                awqNote = extra;
            }
            n.provenance = mergeProvenance(g, {n.id});
            n.opType = "MatMulNBits";
            n.domain = fusion::kMsDomain;
            n.inputs = {a, bName, sName, zName};
            if (!biasName.empty()) {
                n.inputs.push_back(""); // g_idx
                n.inputs.push_back(biasName);
            }
            while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
            n.attributes = {fusion::intAttr("K", c.k), fusion::intAttr("N", c.n), fusion::intAttr("bits", cfg.bits),
                            fusion::intAttr("block_size", cfg.blockSize),
                            fusion::intAttr("accuracy_level", accuracyLevel)};
            char outPart[64] = "";
            if (outErr >= 0) std::snprintf(outPart, sizeof outPart, ", output rel. error %.2e", outErr);
            char line[320];
            std::snprintf(line, sizeof line, "%s: int%d block %lld %s %s, %lldx%lld, weight rel. RMSE %.4f%s, %.1f KiB -> %.1f KiB%s",
                          n.name.c_str(), cfg.bits, static_cast<long long>(cfg.blockSize),
                          cfg.symmetric ? "sym" : "zero points", method.c_str(), static_cast<long long>(c.k),
                          static_cast<long long>(c.n), relativeRmse(c.w, wq), outPart, before / 1024.0, after / 1024.0,
                          awqNote.c_str());
            ctx.report.notes.push_back(line);
            ++ctx.report.applied;
        }
        if (ctx.params.getBool("gather")) {
            // Embeddings are looked up, not multiplied: plain rounding (no calibration method applies).
            quantizeGathers(ctx, cfg, ctx.params.getList("skip"), params, bytesBefore, bytesAfter);
        }
        if (ctx.report.applied == 0) {
            ctx.report.notes.push_back("pass does not apply: no MatMul/Gemm weight or embedding Gather could be quantized");
            return;
        }
        fusion::ensureMsDomain(ctx.model);
        fusion::finishRewrite(g);
        char summary[256];
        std::snprintf(summary, sizeof summary,
                      "%d tensors, %lld weights: %.2f bits/weight (codes + scales%s), %.2f MiB -> %.2f MiB",
                      ctx.report.applied, static_cast<long long>(params), 8.0 * bytesAfter / std::max<int64_t>(1, params),
                      cfg.symmetric ? "" : " + zero points", bytesBefore / 1048576.0, bytesAfter / 1048576.0);
        ctx.report.notes.insert(ctx.report.notes.begin(), summary);
    }
};

} // namespace

PassInfo quantizeWeightsPass() {
    PassInfo info;
    info.name = "quantize-weights";
    info.description = "Weight-only int4/int8 block quantization of MatMul/Gemm weights (com.microsoft MatMulNBits)";
    info.category = PassCategory::Quantization;
    info.exact = false;
    info.params = {
        enumParam("bits", "Bits per weight", {"4", "8"}, "4"),
        enumParam("block_size", "Weights per scale along K", {"16", "32", "64", "128", "256"}, "32"),
        boolParam("symmetric", "No zero points (codes centred on 2^(bits-1)); false stores a zero point per block", true),
        boolParam("clip_search", "Pick each block's clipping (1.0 .. 0.8 of its extreme) by weight squared error (lowers weight error, raised perplexity on the trained LLM)", false),
        enumParam("method",
                  "rtn: round to nearest; gptq: error compensation (calibration); awq: activation-aware channel scaling (calibration)",
                  {"rtn", "gptq", "awq"}, "rtn"),
        boolParam("gather", "Also quantize constant tables read by Gather on axis 0 (embeddings; also rotary cos/sin tables, which int4 hurts: skip them by name) into GatherBlockQuantized", false),
        intParam("accuracy_level", "MatMulNBits accuracy_level (ONNX Runtime: 0 unset, 1 fp32, 4 int8 compute)", 0, 4, 0),
        {"skip", ParamSpec::Type::NodeList, "Node names or op types kept float, ';'-separated (e.g. the LM head)", 0, 0,
         {}, std::vector<std::string>{}},
    };
    info.create = [] { return std::make_unique<QuantizeWeights>(); };
    return info;
}

} // namespace opstudio::passes::quantize
