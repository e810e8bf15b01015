// quantize-dynamic-int8: MatMul / Gemm with a constant 2-D weight -> com.microsoft DynamicQuantizeMatMul
// (what ONNX Runtime's quantize_dynamic writes for MatMul): int8 weights, symmetric per output column
// (or per tensor), activations quantized to uint8 per tensor at run time; our runtime runs it as one
// oneDNN u8s8 GEMM with the weights packed at session build and the rescale + bias fused.
#include "passes/fusion/fusion_util.h"
#include "passes/quantize/quantize_dynamic_int8.h"
#include "passes/quantize/weight_quant_util.h"

#include "opstudio/profile/latency.h"
#include "opstudio/runtime/session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace opstudio::passes::quantize {

namespace {

/// A one-node model x -> node -> y with the node's constant inputs as initializers.
std::shared_ptr<const ir::Model> singleNodeModel(const ir::Node& node, const std::vector<int64_t>& xShape,
                                                 const std::map<std::string, ir::Tensor>& constants) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    m->setOpset("com.microsoft", 1);
    ir::Graph& g = *m->graph;
    g.inputs = {"x"};
    ir::Value& x = g.value("x");
    x.dtype = ir::DType::F32;
    x.shape = ir::toValueShape(xShape);
    x.hasType = true;
    for (const auto& [name, t] : constants) g.initializers[name] = t;
    ir::Node n = node;
    n.inputs[0] = "x";
    n.outputs = {"y"};
    g.addNode(std::move(n));
    g.outputs = {"y"};
    g.rebuildIndex();
    return m;
}

/// Median ms of the float node and the int8 node on the layer's input shape (the one timing
/// mechanism, interleaved); nullopt with `why` when it cannot be measured.
std::optional<std::pair<double, double>> guardTimes(const std::shared_ptr<const ir::Model>& fp,
                                                    const std::shared_ptr<const ir::Model>& q,
                                                    const std::vector<int64_t>& xShape, int threads, std::string& why) {
    rt::SessionOptions o;
    o.threads = threads;
    auto a = rt::Session::create(fp, o);
    auto b = rt::Session::create(q, o);
    if (!a.ok() || !b.ok()) {
        why = (a.ok() ? b.error() : a.error()).what();
        return std::nullopt;
    }
    ir::Tensor x(ir::DType::F32, xShape);
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& v : x.span<float>()) v = d(rng);
    const std::map<std::string, ir::Tensor> feeds = {{"x", x}};
    auto t = profile::measureLatency({{a.value().get(), &feeds, "float"}, {b.value().get(), &feeds, "int8"}}, 15, 3);
    if (!t.ok()) {
        why = t.error().what();
        return std::nullopt;
    }
    return std::make_pair(t.value()[0].median, t.value()[1].median);
}

class QuantizeDynamicInt8 final : public Pass {
public:
    void run(PassContext& ctx) override {
        const bool perChannel = ctx.params.getString("granularity") == "per-channel";
        const int64_t minWeights = ctx.params.getInt("min_weights");
        const bool guard = ctx.params.getBool("speed_guard");
        const int guardThreads = static_cast<int>(ctx.params.getInt("guard_threads"));
        const std::vector<std::string> skip = ctx.params.getList("skip");
        ir::Graph& g = *ctx.model.graph;
        g.rebuildIndex();
        int64_t params = 0;
        double errSum = 0;
        g.forEachNode([&](ir::Node& n) {
            if (n.domain.empty() && n.opType == "Conv" && !inSkipList(skip, n))
                ctx.skip(n, "Conv: dynamic quantization covers MatMul/Gemm (CNNs want static int8 with calibrated ranges)");
        });
        for (LinearLayer& layer : linearLayers(ctx, skip, "DynamicQuantizeMatMul")) {
            ir::Node& n = *layer.node;
            const int64_t k = layer.k, cols = layer.n;
            if (k * cols < minWeights) {
                ctx.skip(n, "weight " + std::to_string(k) + "x" + std::to_string(cols) + " is smaller than min_weights=" +
                                std::to_string(minWeights) + " (quantizing A at run time would cost more than it saves)");
                continue;
            }
            const std::vector<float>& bias = layer.bias;
            const ir::Tensor* w = fusion::constF32(g, n.inputs[1]);
            // layer.w is [N, K]; DynamicQuantizeMatMul stores B as [K, N].
            auto at = [&](int64_t kk, int64_t j) { return layer.w[static_cast<size_t>(j * k + kk)]; };
            std::vector<float> scale(static_cast<size_t>(perChannel ? cols : 1), 0.f);
            for (int64_t kk = 0; kk < k; ++kk)
                for (int64_t j = 0; j < cols; ++j) {
                    float& s = scale[static_cast<size_t>(perChannel ? j : 0)];
                    s = std::max(s, std::fabs(at(kk, j)) / 127.f);
                }
            for (float& s : scale)
                if (s == 0.f) s = 1.f; // an all-zero column: any scale, codes 0
            ir::Tensor q(ir::DType::I8, {k, cols});
            double num = 0, den = 0;
            for (int64_t kk = 0; kk < k; ++kk)
                for (int64_t j = 0; j < cols; ++j) {
                    const float s = scale[static_cast<size_t>(perChannel ? j : 0)];
                    const float v = at(kk, j);
                    const float code = std::clamp(std::nearbyint(v / s), -127.f, 127.f);
                    q.data<int8_t>()[kk * cols + j] = static_cast<int8_t>(code);
                    num += (v - code * s) * (v - code * s);
                    den += static_cast<double>(v) * v;
                }
            std::string guardNote;
            if (guard) {
                // Never slower than fp32: time both kernels on this layer's input (unknown dims at 1).
                std::vector<int64_t> xShape;
                const ir::Value* av = g.findValue(n.inputs[0]);
                if (av && av->shape)
                    for (const ir::Dim& dim : *av->shape) xShape.push_back(dim.known() ? dim.value : 1);
                if (xShape.empty() || xShape.back() != k) xShape = {1, k};
                std::map<std::string, ir::Tensor> fpConst = {{n.inputs[1], *w}}, qConst = {{"q", q}};
                ir::Node fpNode = n;
                fpNode.inputs.resize(std::min<size_t>(fpNode.inputs.size(), 3));
                if (fpNode.inputs.size() > 2 && !fpNode.inputs[2].empty()) fpConst[fpNode.inputs[2]] = *fusion::constF32(g, fpNode.inputs[2]);
                ir::Node qNode;
                qNode.name = n.name;
                qNode.opType = "DynamicQuantizeMatMul";
                qNode.domain = fusion::kMsDomain;
                qNode.inputs = {"x", "q", "s"};
                qConst["s"] = ir::Tensor::fromVector<float>({static_cast<int64_t>(scale.size())}, scale);
                if (!bias.empty()) {
                    qNode.inputs.push_back("");
                    qNode.inputs.push_back("bias");
                    qConst["bias"] = ir::Tensor::fromVector<float>({cols}, bias);
                }
                qNode.outputs = {"y"};
                std::string why;
                const auto times = guardTimes(singleNodeModel(fpNode, xShape, fpConst),
                                              singleNodeModel(qNode, xShape, qConst), xShape, guardThreads, why);
                char buf[200];
                if (!times) {
                    ctx.skip(n, "speed guard could not time the layer: " + why);
                    continue;
                }
                if (times->second >= times->first) {
                    std::snprintf(buf, sizeof buf, "speed guard: int8 %.4f ms >= float %.4f ms on input %s (%d thread%s)",
                                  times->second, times->first, ir::shapeToString(xShape).c_str(), guardThreads,
                                  guardThreads == 1 ? "" : "s");
                    ctx.skip(n, buf);
                    continue;
                }
                std::snprintf(buf, sizeof buf, ", int8 %.4f ms vs float %.4f ms", times->second, times->first);
                guardNote = buf;
            }
            const std::string base = n.name.empty() ? n.outputs[0] : n.name;
            const std::string qName = addInitializer(g, base + "_int8", std::move(q));
            const std::string sName = addInitializer(
                g, base + "_scale", ir::Tensor::fromVector<float>({static_cast<int64_t>(scale.size())}, scale));
            std::string bName;
            if (!bias.empty()) bName = addInitializer(g, base + "_bias", ir::Tensor::fromVector<float>({cols}, bias));
            const std::string a = n.inputs[0];
            n.provenance = mergeProvenance(g, {n.id});
            n.opType = "DynamicQuantizeMatMul";
            n.domain = fusion::kMsDomain;
            n.inputs = {a, qName, sName};
            if (!bName.empty()) {
                n.inputs.push_back(""); // b_zero_point: symmetric
                n.inputs.push_back(bName);
            }
            n.attributes.clear();
            const double rel = den > 0 ? std::sqrt(num / den) : 0;
            errSum += rel;
            params += k * cols;
            char line[256];
            std::snprintf(line, sizeof line, "%s: int8 %s, %lldx%lld, weight rel. RMSE %.4f, %.1f KiB -> %.1f KiB%s",
                          n.name.c_str(), perChannel ? "per-channel" : "per-tensor", static_cast<long long>(k),
                          static_cast<long long>(cols), rel, k * cols * 4 / 1024.0,
                          (k * cols + static_cast<int64_t>(scale.size()) * 4) / 1024.0, guardNote.c_str());
            ctx.report.notes.push_back(line);
            ++ctx.report.applied;
        }
        if (ctx.report.applied == 0) {
            ctx.report.notes.push_back("pass does not apply: no MatMul/Gemm with a constant 2-D f32 weight of at least "
                                       "min_weights elements that int8 makes faster (see the skip reasons)");
            return;
        }
        fusion::ensureMsDomain(ctx.model);
        fusion::finishRewrite(g);
        char summary[160];
        std::snprintf(summary, sizeof summary, "%d layers, %lld weights to int8, mean weight rel. RMSE %.4f",
                      ctx.report.applied, static_cast<long long>(params), errSum / ctx.report.applied);
        ctx.report.notes.insert(ctx.report.notes.begin(), summary);
    }
};

} // namespace

PassInfo quantizeDynamicInt8Pass() {
    PassInfo info;
    info.name = "quantize-dynamic-int8";
    info.description = "int8 weights + run-time uint8 activations for MatMul/Gemm (com.microsoft DynamicQuantizeMatMul)";
    info.category = PassCategory::Quantization;
    info.exact = false;
    info.params = {
        enumParam("granularity", "Weight scales per output channel or one per tensor", {"per-channel", "per-tensor"},
                  "per-channel"),
        intParam("min_weights", "Layers with fewer weights stay float (activation quantization overhead)", 0,
                 1LL << 40, 16384),
        boolParam("speed_guard", "Time float and int8 kernels on each layer's input shape; keep float where int8 is not faster", true),
        intParam("guard_threads", "Threads for the speed guard's timing (the deployment thread count)", 1, 256, 1),
        {"skip", ParamSpec::Type::NodeList, "Node names or op types kept float, ';'-separated", 0, 0, {},
         std::vector<std::string>{}},
    };
    info.create = [] { return std::make_unique<QuantizeDynamicInt8>(); };
    return info;
}

} // namespace opstudio::passes::quantize
