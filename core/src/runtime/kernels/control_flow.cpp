// If, Loop and Scan: each body is compiled once into a GraphPlan and run with the enclosing
// values visible through the scope chain.
#include "opstudio/runtime/graph_plan.h"
#include "runtime/kernels/kernel_util.h"

#include <cstring>

namespace opstudio::rt {

namespace {

SessionOptions bodyOptions(const KernelInit& init) {
    SessionOptions o;
    o.threads = init.threads;
    o.reference = init.reference;
    return o;
}

const ir::Graph& graphAttr(const ir::Node& node, const char* name) {
    const ir::Attribute* a = node.attr(name);
    if (!a || a->type != ir::AttrType::Graph || !a->g) kernelFail(node, std::string("missing graph attribute '") + name + "'");
    return *a->g;
}

bool truthy(const ir::Node& node, const Tensor& t) {
    if (t.numel() != 1) kernelFail(node, "condition must have exactly one element, got shape " + ir::shapeToString(t.shape()));
    return t.toDoubles()[0] != 0.0;
}

/// Copies element slice `index` along `axis` of `in` into a new tensor with that axis removed.
Tensor sliceAxis(const Tensor& in, int64_t axis, int64_t index) {
    Shape shape = in.shape();
    const size_t es = ir::dtypeSize(in.dtype());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
    for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
    const int64_t len = shape[axis];
    shape.erase(shape.begin() + axis);
    Tensor out(in.dtype(), shape);
    if (in.dtype() == DType::String) {
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) out.strings()[o * inner + i] = in.strings()[(o * len + index) * inner + i];
        return out;
    }
    const auto* src = static_cast<const uint8_t*>(in.raw());
    auto* dst = static_cast<uint8_t*>(out.raw());
    for (int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + o * inner * es, src + ((o * len + index) * inner) * es, inner * es);
    return out;
}

/// Stacks equally shaped tensors along a new `axis`.
Tensor stackAxis(const ir::Node& node, const std::vector<Tensor>& parts, int64_t axis, const Tensor* like) {
    if (parts.empty()) {
        // Zero iterations: an empty tensor with a leading 0 (shape of one element unknown).
        Shape s = like ? like->shape() : Shape{};
        s.insert(s.begin() + std::min<int64_t>(axis, s.size()), 0);
        return Tensor(like ? like->dtype() : DType::F32, s);
    }
    const Shape& ps = parts[0].shape();
    for (const auto& p : parts)
        if (p.shape() != ps || p.dtype() != parts[0].dtype())
            kernelFail(node, "scan output changes shape across iterations: " + ir::shapeToString(ps) + " vs " +
                                 ir::shapeToString(p.shape()));
    Shape shape = ps;
    axis = normalizeAxis(axis, static_cast<int64_t>(ps.size()) + 1);
    shape.insert(shape.begin() + axis, static_cast<int64_t>(parts.size()));
    Tensor out(parts[0].dtype(), shape);
    const size_t es = ir::dtypeSize(out.dtype());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= ps[d];
    for (size_t d = axis; d < ps.size(); ++d) inner *= ps[d];
    const int64_t n = static_cast<int64_t>(parts.size());
    for (int64_t t = 0; t < n; ++t) {
        if (out.dtype() == DType::String) {
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t i = 0; i < inner; ++i) out.strings()[(o * n + t) * inner + i] = parts[t].strings()[o * inner + i];
            continue;
        }
        const auto* src = static_cast<const uint8_t*>(parts[t].raw());
        auto* dst = static_cast<uint8_t*>(out.raw());
        for (int64_t o = 0; o < outer; ++o)
            std::memcpy(dst + ((o * n + t) * inner) * es, src + o * inner * es, inner * es);
    }
    return out;
}

class IfKernel final : public Kernel {
public:
    explicit IfKernel(const KernelInit& init)
        : m_then(graphAttr(init.node, "then_branch"), *init.model, bodyOptions(init)),
          m_else(graphAttr(init.node, "else_branch"), *init.model, bodyOptions(init)) {}
    void run(KernelContext& ctx) override {
        const bool cond = truthy(ctx.node(), ctx.input(0));
        const GraphPlan& plan = cond ? m_then : m_else;
        auto outs = plan.run({}, ctx.scope(), ctx.pool(), ctx.observer(), ctx.depth());
        if (outs.size() != ctx.outputCount())
            kernelFail(ctx.node(), "branch produced " + std::to_string(outs.size()) + " outputs, node has " +
                                       std::to_string(ctx.outputCount()));
        for (size_t i = 0; i < outs.size(); ++i) ctx.setOutput(i, std::move(outs[i]));
    }
    std::string_view path() const override { return "subgraph"; }

private:
    GraphPlan m_then, m_else;
};

class LoopKernel final : public Kernel {
public:
    explicit LoopKernel(const KernelInit& init)
        : m_body(graphAttr(init.node, "body"), *init.model, bodyOptions(init)),
          m_bodyGraph(graphAttr(init.node, "body")) {}
    void run(KernelContext& ctx) override {
        const ir::Node& node = ctx.node();
        const int64_t maxTrips = ctx.hasInput(0) ? ctx.input(0).toInt64s().at(0) : INT64_MAX;
        bool cond = ctx.hasInput(1) ? truthy(node, ctx.input(1)) : true;
        const size_t nCarried = ctx.inputCount() >= 2 ? ctx.inputCount() - 2 : 0;
        std::vector<Tensor> carried;
        for (size_t i = 0; i < nCarried; ++i) carried.push_back(ctx.input(2 + i));
        const size_t bodyOuts = m_bodyGraph.outputs.size();
        if (bodyOuts < 1 + nCarried) kernelFail(node, "Loop body has too few outputs");
        const size_t nScan = bodyOuts - 1 - nCarried;
        std::vector<std::vector<Tensor>> scans(nScan);
        const int64_t kMaxIterations = int64_t{1} << 31;
        int64_t trip = 0;
        for (; trip < maxTrips && cond; ++trip) {
            if (trip >= kMaxIterations) kernelFail(node, "Loop exceeded 2^31 iterations");
            std::vector<Tensor> feeds;
            feeds.push_back(Tensor::scalar<int64_t>(trip));
            feeds.push_back(Tensor::scalar<bool>(cond));
            for (auto& c : carried) feeds.push_back(c);
            auto outs = m_body.run(feeds, ctx.scope(), ctx.pool(), ctx.observer(), ctx.depth());
            cond = truthy(node, outs[0]);
            for (size_t i = 0; i < nCarried; ++i) carried[i] = std::move(outs[1 + i]);
            for (size_t s = 0; s < nScan; ++s) scans[s].push_back(std::move(outs[1 + nCarried + s]));
        }
        for (size_t i = 0; i < nCarried && i < ctx.outputCount(); ++i) ctx.setOutput(i, carried[i]);
        for (size_t s = 0; s < nScan && nCarried + s < ctx.outputCount(); ++s)
            ctx.setOutput(nCarried + s, stackAxis(node, scans[s], 0, nullptr));
    }
    std::string_view path() const override { return "subgraph"; }

private:
    GraphPlan m_body;
    const ir::Graph& m_bodyGraph;
};

class ScanKernel final : public Kernel {
public:
    explicit ScanKernel(const KernelInit& init)
        : m_body(graphAttr(init.node, "body"), *init.model, bodyOptions(init)),
          m_bodyGraph(graphAttr(init.node, "body")) {
        if (init.opset < 9) kernelFail(init.node, "Scan before opset 9 (batched form with sequence_lens) is not supported");
    }
    void run(KernelContext& ctx) override {
        const ir::Node& node = ctx.node();
        const int64_t nScanIn = node.attrInt("num_scan_inputs", 0);
        const int64_t nIn = static_cast<int64_t>(ctx.inputCount());
        if (nScanIn <= 0 || nScanIn > nIn) kernelFail(node, "bad num_scan_inputs");
        const int64_t nState = nIn - nScanIn;
        const auto inAxes = node.attrInts("scan_input_axes", std::vector<int64_t>(nScanIn, 0));
        const auto inDirs = node.attrInts("scan_input_directions", std::vector<int64_t>(nScanIn, 0));
        const int64_t nScanOut = static_cast<int64_t>(m_bodyGraph.outputs.size()) - nState;
        if (nScanOut < 0) kernelFail(node, "Scan body has too few outputs");
        const auto outAxes = node.attrInts("scan_output_axes", std::vector<int64_t>(nScanOut, 0));
        const auto outDirs = node.attrInts("scan_output_directions", std::vector<int64_t>(nScanOut, 0));
        std::vector<Tensor> state;
        for (int64_t i = 0; i < nState; ++i) state.push_back(ctx.input(i));
        int64_t length = -1;
        std::vector<int64_t> axes(nScanIn);
        for (int64_t s = 0; s < nScanIn; ++s) {
            const Tensor& in = ctx.input(nState + s);
            axes[s] = normalizeAxis(s < static_cast<int64_t>(inAxes.size()) ? inAxes[s] : 0, in.rank());
            const int64_t len = in.shape()[axes[s]];
            if (length >= 0 && len != length) kernelFail(node, "scan inputs have different lengths");
            length = len;
        }
        std::vector<std::vector<Tensor>> scans(nScanOut);
        for (int64_t t = 0; t < length; ++t) {
            std::vector<Tensor> feeds = state;
            for (int64_t s = 0; s < nScanIn; ++s) {
                const bool reverse = s < static_cast<int64_t>(inDirs.size()) && inDirs[s] == 1;
                feeds.push_back(sliceAxis(ctx.input(nState + s), axes[s], reverse ? length - 1 - t : t));
            }
            auto outs = m_body.run(feeds, ctx.scope(), ctx.pool(), ctx.observer(), ctx.depth());
            for (int64_t i = 0; i < nState; ++i) state[i] = std::move(outs[i]);
            for (int64_t s = 0; s < nScanOut; ++s) scans[s].push_back(std::move(outs[nState + s]));
        }
        for (int64_t i = 0; i < nState; ++i) ctx.setOutput(i, state[i]);
        for (int64_t s = 0; s < nScanOut; ++s) {
            auto& parts = scans[s];
            if (s < static_cast<int64_t>(outDirs.size()) && outDirs[s] == 1) std::reverse(parts.begin(), parts.end());
            const int64_t axis = s < static_cast<int64_t>(outAxes.size()) ? outAxes[s] : 0;
            ctx.setOutput(nState + s, stackAxis(node, parts, axis < 0 ? axis + (parts.empty() ? 1 : parts[0].rank() + 1) : axis, nullptr));
        }
    }
    std::string_view path() const override { return "subgraph"; }

private:
    GraphPlan m_body;
    const ir::Graph& m_bodyGraph;
};

template <typename K> KernelFactory make() {
    return [](const KernelInit& init) -> std::unique_ptr<Kernel> { return std::make_unique<K>(init); };
}

} // namespace

void registerControlFlowKernels(KernelRegistry& r) {
    r.add({"If", 1, kLatestOpset}, make<IfKernel>());
    r.add({"Loop", 1, kLatestOpset}, make<LoopKernel>());
    r.add({"Scan", 8, kLatestOpset}, make<ScanKernel>());
}

} // namespace opstudio::rt
