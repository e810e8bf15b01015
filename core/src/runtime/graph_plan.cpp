#include "opstudio/runtime/graph_plan.h"

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/lut_matmul.h"
#include "runtime/kernels/onednn_util.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <unordered_set>

namespace opstudio::rt {

const ir::Tensor* Scope::find(const std::string& name) const {
    if (m_index) {
        auto it = m_index->find(name);
        if (it != m_index->end() && (*m_slots)[it->second].defined()) return &(*m_slots)[it->second];
    }
    auto it = m_values.find(name);
    if (it != m_values.end()) return it->second;
    return m_parent ? m_parent->find(name) : nullptr;
}

struct GraphPlan::Step {
    const ir::Node* node = nullptr;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> inputs;    // slot per input, -1 when omitted
    std::vector<int> outputs;   // slot per output, -1 when omitted
    std::vector<int> freeAfter; // slots whose last reader is this step
    bool hasSubgraphs = false;
    int64_t opset = 0;
    // Channels-last activations (see planChannelsLast).
    enum class LayoutRole : uint8_t { None, Conv, Elementwise };
    LayoutRole layoutRole = LayoutRole::None;
    ChannelsLastKernel* channelsLastKernel = nullptr; // Conv: the kernel's layout entry point
    bool channelsLastOut = false;                     // Conv: every reader of output 0 takes channels-last
    bool mayKeepChannelsLast = false;                 // Elementwise: output 0 may stay channels-last
};

namespace {

/// Ops that apply one function per element with numpy broadcasting and keep the dtype: on
/// channels-last operands they run unchanged on NHWC views (every operand's axes permuted alike).
bool isLayoutFreeElementwise(const ir::Node& n) {
    static const std::unordered_set<std::string> kOps = {
        "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu",
        "Selu", "Add",       "Sub",  "Mul",     "Div",  "Sum",         "Max",       "Min"};
    return n.domain.empty() && n.outputs.size() == 1 && kOps.count(n.opType) > 0;
}

/// Shape right-aligned to rank 4 ([C, 1, 1] -> [1, C, 1, 1]); empty when the rank is above 4.
Shape alignedTo4(const Shape& s) {
    if (s.size() > 4) return {};
    Shape a(4 - s.size(), 1);
    a.insert(a.end(), s.begin(), s.end());
    return a;
}

/// Names a node reads, including those read by nodes inside its subgraphs (implicit inputs).
void collectReads(const ir::Node& n, std::vector<std::string>& out) {
    for (const auto& in : n.inputs)
        if (!in.empty()) out.push_back(in);
    for (ir::Graph* g : n.subgraphs())
        g->forEachNode([&](const ir::Node& inner) { collectReads(inner, out); });
}

} // namespace

GraphPlan::GraphPlan(const ir::Graph& graph, const ir::Model& model, const SessionOptions& options,
                     const std::vector<std::string>& outerNames)
    : m_graph(graph), m_threads(options.threads) {
    const KernelRegistry& registry = KernelRegistry::global();
    // Slots: every value produced or consumed in this graph gets an index.
    auto slotOf = [&](const std::string& name) {
        auto [it, inserted] = m_index.try_emplace(name, static_cast<int>(m_index.size()));
        return it->second;
    };
    for (const auto& in : graph.inputs)
        m_inputSlots.push_back(slotOf(in));
    m_inputNames = graph.inputs;
    for (const auto& [name, t] : graph.initializers)
        m_constants.emplace_back(slotOf(name), t);

    // Unsupported operators are collected and reported together, before any run.
    std::string missing;
    std::unordered_set<std::string> reported;
    std::unordered_set<std::string> produced(graph.inputs.begin(), graph.inputs.end());
    for (const auto& [name, t] : graph.initializers)
        produced.insert(name);
    // Palettized MatMuls (Gather of a constant codebook by constant indices) run as one lookup-table
    // kernel that reads the indices, never a dequantized weight (runtime/kernels/lut_matmul.h). The
    // reference plan runs the graph as written.
    std::unordered_map<ir::NodeId, const ir::Node*> substitutes;
    std::unordered_set<ir::NodeId> absorbed;
    if (!options.reference)
        for (LutMatMulRewrite& r : findLutMatMuls(graph)) {
            substitutes[r.matmul] = r.fused.get();
            absorbed.insert(r.absorbed.begin(), r.absorbed.end());
            m_internalNodes.push_back(std::move(r.fused));
        }
    for (ir::NodeId id : graph.order()) {
        if (absorbed.count(id)) {
            for (const auto& o : graph.node(id)->outputs)
                produced.insert(o);
            continue;
        }
        const auto sub = substitutes.find(id);
        const ir::Node& node = sub != substitutes.end() ? *sub->second : *graph.node(id);
        const int64_t opset = model.opsetFor(node.domain);
        // Constant nodes with a tensor value become constants of the plan (no kernel run).
        if (node.opType == "Constant" && node.domain.empty() && node.outputs.size() == 1) {
            if (const ir::Attribute* a = node.attr("value"); a && a->type == ir::AttrType::Tensor) {
                m_constants.emplace_back(slotOf(node.outputs[0]), a->t);
                produced.insert(node.outputs[0]);
                continue;
            }
        }
        Step step;
        step.node = &node;
        step.opset = opset;
        step.hasSubgraphs = !node.subgraphs().empty();
        const KernelRegistry::Entry* entry = registry.find(node.domain, node.opType, opset);
        if (!entry) {
            const std::string key = node.domain + "::" + node.opType + "@" + std::to_string(opset);
            if (reported.insert(key).second) {
                if (!missing.empty()) missing += "; ";
                const std::string op = node.domain.empty() ? node.opType : node.domain + "." + node.opType;
                missing +=
                    (registry.knowsOp(node.domain, node.opType)
                         ? "operator " + op + " at opset " + std::to_string(opset) + " is not supported"
                         : "unsupported operator " + op + " (domain '" +
                               (node.domain.empty() ? "ai.onnx" : node.domain) + "', opset " +
                               std::to_string(opset) + ")") +
                    " at node '" + node.name + "'";
            }
            for (const auto& o : node.outputs)
                produced.insert(o);
            continue;
        }
        KernelInit init{node, opset, {}, &model, options.threads, options.reference};
        for (const auto& in : node.inputs)
            init.constInputs.push_back(in.empty() ? nullptr : graph.constantValue(in));
        const KernelFactory& factory =
            (options.reference && entry->reference) ? entry->reference : entry->fast;
        try {
            step.kernel = factory(init);
        } catch (Error& e) {
            if (e.context().node.empty()) e.context().node = node.name;
            if (e.context().opType.empty()) e.context().opType = node.opType;
            e.context().domain = node.domain;
            e.context().opset = static_cast<int>(opset);
            throw;
        }
        for (const auto& in : node.inputs)
            step.inputs.push_back(in.empty() ? -1 : slotOf(in));
        for (const auto& out : node.outputs)
            step.outputs.push_back(out.empty() ? -1 : slotOf(out));
        for (const auto& o : node.outputs)
            produced.insert(o);
        m_steps.push_back(std::move(step));
    }
    if (!missing.empty()) throw Error(missing);
    for (const auto& out : graph.outputs)
        m_outputSlots.push_back(slotOf(out));

    // Values neither produced here nor graph inputs come from the enclosing scope at run time.
    for (const auto& [name, slot] : m_index)
        if (!produced.count(name)) m_outerSlots.emplace_back(slot, name);
    (void)outerNames;

    // Lifetimes: free a slot after its last reader unless it is a graph output or a constant.
    std::vector<int> lastUse(m_index.size(), -1);
    for (size_t s = 0; s < m_steps.size(); ++s) {
        std::vector<std::string> reads;
        collectReads(*m_steps[s].node, reads);
        for (const auto& r : reads) {
            auto it = m_index.find(r);
            if (it != m_index.end()) lastUse[it->second] = static_cast<int>(s);
        }
        // Outputs nobody reads die right after they are made.
        for (int o : m_steps[s].outputs)
            if (o >= 0 && lastUse[o] < static_cast<int>(s)) lastUse[o] = static_cast<int>(s);
    }
    std::vector<bool> keep(m_index.size(), false);
    for (int o : m_outputSlots)
        keep[o] = true;
    for (const auto& [slot, t] : m_constants)
        keep[slot] = true;
    for (int i : m_inputSlots)
        keep[i] = true;
    for (const auto& [slot, name] : m_outerSlots)
        keep[slot] = true;
    for (size_t slot = 0; slot < lastUse.size(); ++slot)
        if (!keep[slot] && lastUse[slot] >= 0)
            m_steps[lastUse[slot]].freeAfter.push_back(static_cast<int>(slot));

    const char* env = std::getenv("OPSTUDIO_CHANNELS_LAST");
    m_channelsLast = !options.reference && !(env && std::string(env) == "0");
    if (m_channelsLast) planChannelsLast(graph);
}

/// oneDNN's fp32 convolutions run NHWC here; with plain NCHW activations every Conv paid an
/// nchw -> nhwc reorder of its input and an nhwc -> nchw reorder of its output (as much time as
/// the convolutions themselves in MobileNetV2). A Conv writes channels-last when every reader of
/// its output, looking through layout-free elementwise ops, is another Conv's data input. Values
/// the outside sees (graph outputs, subgraph reads) always stay plain; anything else that meets a
/// channels-last input converts it back first (GraphPlan::run), so correctness never depends on
/// this analysis.
void GraphPlan::planChannelsLast(const ir::Graph& graph) {
    std::vector<bool> pinned(m_index.size(), false);
    for (int o : m_outputSlots)
        pinned[o] = true;
    for (const auto& [slot, name] : m_outerSlots)
        pinned[slot] = true;
    std::vector<std::vector<std::pair<int, int>>> readers(m_index.size()); // slot -> (step, input)
    for (size_t s = 0; s < m_steps.size(); ++s) {
        Step& step = m_steps[s];
        if (step.hasSubgraphs) {
            std::vector<std::string> reads;
            collectReads(*step.node, reads);
            for (const auto& r : reads)
                if (auto it = m_index.find(r); it != m_index.end()) pinned[it->second] = true;
        }
        for (size_t i = 0; i < step.inputs.size(); ++i)
            if (step.inputs[i] >= 0)
                readers[step.inputs[i]].emplace_back(static_cast<int>(s), static_cast<int>(i));
        if (auto* cl = dynamic_cast<ChannelsLastKernel*>(step.kernel.get()); cl && !step.outputs.empty()) {
            step.layoutRole = Step::LayoutRole::Conv;
            step.channelsLastKernel = cl;
        } else if (isLayoutFreeElementwise(*step.node) && !step.hasSubgraphs) {
            step.layoutRole = Step::LayoutRole::Elementwise;
        }
    }
    // takesChannelsLast(slot): every reader is a Conv data input or an elementwise op whose output does too.
    std::vector<int8_t> memo(m_index.size(), -1);
    std::function<bool(int)> takesChannelsLast = [&](int slot) -> bool {
        if (memo[slot] >= 0) return memo[slot] != 0;
        memo[slot] = 0; // cycles cannot occur in a valid graph; be safe anyway
        bool ok = !pinned[slot] && !readers[slot].empty();
        for (const auto& [s, i] : readers[slot]) {
            if (!ok) break;
            const Step& r = m_steps[s];
            if (r.layoutRole == Step::LayoutRole::Conv)
                ok = i == 0;
            else if (r.layoutRole == Step::LayoutRole::Elementwise)
                ok = r.outputs[0] >= 0 && takesChannelsLast(r.outputs[0]);
            else
                ok = false;
        }
        memo[slot] = ok ? 1 : 0;
        return ok;
    };
    // A pointwise Conv (1x1, stride 1, no pads, one group) runs on plain nchw without reorders, so
    // it only writes channels-last when its input arrives channels-last; otherwise it would add a
    // reorder of its input (SqueezeNet's squeeze convs after Concat/MaxPool: 13% slower measured).
    auto pointwise = [&graph](const ir::Node& n) {
        const auto isOne = [](int64_t v) { return v == 1; };
        const auto isZero = [](int64_t v) { return v == 0; };
        Shape k = n.attrInts("kernel_shape");
        const Shape st = n.attrInts("strides"), pads = n.attrInts("pads");
        if (k.empty() && n.inputs.size() > 1)
            if (const ir::Tensor* w = graph.constantValue(n.inputs[1]); w && w->rank() > 2)
                k.assign(w->shape().begin() + 2, w->shape().end());
        const std::string autoPad = n.attrString("auto_pad", "NOTSET");
        return !k.empty() && std::all_of(k.begin(), k.end(), isOne) &&
               std::all_of(st.begin(), st.end(), isOne) && std::all_of(pads.begin(), pads.end(), isZero) &&
               n.attrInt("group", 1) == 1 && (autoPad == "NOTSET" || autoPad == "VALID" || autoPad.empty());
    };
    std::vector<bool> likelyChannelsLast(m_index.size(), false); // in schedule order
    for (Step& step : m_steps) {
        const int out = step.outputs.empty() ? -1 : step.outputs[0];
        if (step.layoutRole == Step::LayoutRole::Conv) {
            const bool inputChannelsLast =
                !step.inputs.empty() && step.inputs[0] >= 0 && likelyChannelsLast[step.inputs[0]];
            step.channelsLastOut =
                out >= 0 && step.channelsLastKernel->writesChannelsLast() && takesChannelsLast(out) &&
                (inputChannelsLast || step.node->opType == "ConvTranspose" || !pointwise(*step.node));
            if (step.channelsLastOut) likelyChannelsLast[out] = true;
        } else if (step.layoutRole == Step::LayoutRole::Elementwise) {
            step.mayKeepChannelsLast = out >= 0 && !pinned[out];
            for (int in : step.inputs)
                if (in >= 0 && likelyChannelsLast[in] && step.mayKeepChannelsLast)
                    likelyChannelsLast[out] = true;
        }
    }
}

GraphPlan::~GraphPlan() = default;

std::string_view GraphPlan::kernelPath(ir::NodeId id) const {
    for (const auto& s : m_steps)
        if (s.node->id == id) return s.kernel->path();
    return "constant";
}

std::vector<ir::Tensor> GraphPlan::run(const std::vector<ir::Tensor>& feeds, const Scope* outer,
                                       TensorPool* pool, ExecutionObserver* observer, int depth) const {
    std::vector<ir::Tensor> slots(m_index.size());
    for (const auto& [slot, t] : m_constants)
        slots[slot] = t;
    for (size_t i = 0; i < m_inputSlots.size() && i < feeds.size(); ++i)
        if (feeds[i].defined()) slots[m_inputSlots[i]] = feeds[i];
    for (const auto& [slot, name] : m_outerSlots) {
        if (slots[slot].defined()) continue;
        if (outer)
            if (const ir::Tensor* t = outer->find(name)) slots[slot] = *t;
    }
    Scope scope(outer, &m_index, &slots);
    std::vector<const ir::Tensor*> ins;
    // Layout of each slot's tensor; channels-last in top-level runs, observed or not: an observer
    // sees the plan that runs (observers that read values get plain copies, see onNodeEnd below).
    const bool channelsLast = m_channelsLast && depth == 0;
    const bool plainForObserver = observer && observer->wantsPlainOutputs();
    std::vector<ActivationLayout> layouts(channelsLast ? slots.size() : 0, ActivationLayout::Plain);
    std::vector<ir::Tensor> temps;
    const bool record = depth == 0;
    if (record) {
        m_lastExecution.clear();
        m_lastExecution.reserve(m_steps.size());
    }
    // A reorder the plan inserts is work of its own: observers see it as its own row.
    int reorders = 0;
    auto reorder = [&](const ir::Node& forNode, const ir::Tensor& t, ActivationLayout from,
                       ActivationLayout to) {
        const ReorderKind kind =
            to == ActivationLayout::ChannelsLast ? ReorderKind::ToChannelsLast : ReorderKind::ToPlain;
        if (observer) observer->onReorderBegin(forNode, depth, kind);
        ir::Tensor converted = onednn::convertLayout(t, from, to, pool);
        if (observer) observer->onReorderEnd(forNode, depth, kind, converted);
        ++reorders;
        return converted;
    };
    for (const Step& step : m_steps) {
        const ir::Node& node = *step.node;
        reorders = 0;
        ins.clear();
        for (size_t i = 0; i < step.inputs.size(); ++i) {
            const int s = step.inputs[i];
            if (s < 0) {
                ins.push_back(nullptr);
                continue;
            }
            if (!slots[s].defined()) {
                ErrorContext ctx{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)};
                throw Error("input '" + node.inputs[i] + "' has no value at run time", ctx);
            }
            ins.push_back(&slots[s]);
        }
        std::vector<ir::Tensor> outs(step.outputs.size());
        ActivationLayout convIn = ActivationLayout::Plain, convOut = ActivationLayout::Plain;
        bool nhwcView = false;
        Shape viewOutShape;
        if (channelsLast) {
            bool anyChannelsLast = false;
            for (int s : step.inputs)
                anyChannelsLast = anyChannelsLast || (s >= 0 && layouts[s] == ActivationLayout::ChannelsLast);
            std::vector<ActivationLayout> wanted(step.inputs.size(), ActivationLayout::Plain);
            if (step.layoutRole == Step::LayoutRole::Conv && (anyChannelsLast || step.channelsLastOut)) {
                KernelContext probe(node, ins, outs, &scope, pool, m_threads);
                if (step.channelsLastKernel->supportsChannelsLast(probe)) {
                    convIn = layouts[step.inputs[0]];
                    convOut = step.channelsLastOut ? ActivationLayout::ChannelsLast : ActivationLayout::Plain;
                    wanted[0] = convIn;
                    if (wanted.size() > 3) wanted[3] = convOut; // FusedConv's sum input Z
                }
            } else if (step.layoutRole == Step::LayoutRole::Elementwise && anyChannelsLast &&
                       step.mayKeepChannelsLast) {
                // Every operand must read the same in NHWC order: channels-last ones, and plain ones
                // whose bytes do not change under the permutation (C == 1 or H * W == 1, e.g. [N, C, 1, 1]).
                nhwcView = true;
                for (size_t i = 0; i < step.inputs.size() && nhwcView; ++i) {
                    if (step.inputs[i] < 0) continue;
                    const Shape a = alignedTo4(ins[i]->shape());
                    if (layouts[step.inputs[i]] == ActivationLayout::ChannelsLast)
                        wanted[i] = ActivationLayout::ChannelsLast;
                    else
                        nhwcView = !a.empty() && (a[1] == 1 || a[2] * a[3] == 1);
                }
                if (!nhwcView) std::fill(wanted.begin(), wanted.end(), ActivationLayout::Plain);
            }
            temps.reserve(2 * ins.size()); // ins point into temps: no reallocation below
            for (size_t i = 0; i < step.inputs.size(); ++i) {
                const int s = step.inputs[i];
                if (s < 0 || layouts[s] == wanted[i]) continue;
                if (wanted[i] == ActivationLayout::Plain) {
                    // Back to plain for good: later readers of the slot need no conversion.
                    slots[s] = reorder(node, slots[s], layouts[s], ActivationLayout::Plain);
                    layouts[s] = ActivationLayout::Plain;
                } else {
                    // A plain value (maybe seen from outside) stays plain; this step reads a copy.
                    temps.push_back(reorder(node, slots[s], layouts[s], wanted[i]));
                    ins[i] = &temps.back();
                }
            }
            if (nhwcView) {
                // Operands as NHWC-ordered views of the same bytes; numel-1 operands broadcast as they are.
                for (size_t i = 0; i < ins.size(); ++i) {
                    if (!ins[i] || ins[i]->numel() == 1) continue;
                    const Shape a = alignedTo4(ins[i]->shape());
                    temps.push_back(ir::Tensor::view(ins[i]->dtype(), {a[0], a[2], a[3], a[1]},
                                                     ins[i]->buffer(), ins[i]->offset()));
                    ins[i] = &temps.back();
                }
            }
        }
        KernelContext ctx(node, ins, outs, &scope, pool, m_threads);
        if (step.hasSubgraphs) ctx.setObserver(observer, depth + 1);
        if (observer) observer->onNodeBegin(node, depth);
        try {
            if (convIn != ActivationLayout::Plain || convOut != ActivationLayout::Plain)
                step.channelsLastKernel->runWithLayout(ctx, convIn, convOut);
            else
                step.kernel->run(ctx);
            if (nhwcView) {
                // The result came out in NHWC order: view it back with its logical NCHW shape.
                const ir::Tensor& o = outs[0];
                if (o.rank() != 4)
                    throw Error("internal: channels-last elementwise result has rank " +
                                std::to_string(o.rank()));
                outs[0] = ir::Tensor::view(o.dtype(), {o.dim(0), o.dim(3), o.dim(1), o.dim(2)}, o.buffer(),
                                           o.offset());
            }
        } catch (Error& e) {
            ErrorContext& c = e.context();
            if (c.node.empty()) c.node = node.name;
            if (c.opType.empty()) c.opType = node.opType;
            c.domain = node.domain;
            if (c.opset == 0) c.opset = static_cast<int>(step.opset);
            throw;
        } catch (const std::bad_alloc&) {
            throw Error("out of memory",
                        ErrorContext{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)});
        } catch (const std::exception& e) {
            throw Error(e.what(),
                        ErrorContext{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)});
        }
        const bool outChannelsLast = convOut == ActivationLayout::ChannelsLast || nhwcView;
        if (record)
            m_lastExecution.push_back({node.id, std::string(step.kernel->path()),
                                       convIn == ActivationLayout::ChannelsLast || nhwcView, outChannelsLast,
                                       reorders});
        if (observer) {
            if (outChannelsLast && plainForObserver && outs[0].defined()) {
                std::vector<ir::Tensor> plain = outs;
                plain[0] = onednn::convertLayout(outs[0], ActivationLayout::ChannelsLast,
                                                 ActivationLayout::Plain, pool);
                observer->onNodeEnd(node, depth, plain);
            } else {
                observer->onNodeEnd(node, depth, outs);
            }
        }
        for (size_t o = 0; o < step.outputs.size(); ++o)
            if (step.outputs[o] >= 0) {
                if (!outs[o].defined() && ctx.wantsOutput(o)) {
                    ErrorContext c{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)};
                    throw Error("kernel did not produce output " + std::to_string(o), c);
                }
                slots[step.outputs[o]] = std::move(outs[o]);
                if (channelsLast)
                    layouts[step.outputs[o]] =
                        o == 0 && (convOut == ActivationLayout::ChannelsLast || nhwcView)
                            ? ActivationLayout::ChannelsLast
                            : ActivationLayout::Plain;
            }
        for (int s : step.freeAfter)
            slots[s] = ir::Tensor();
        temps.clear();
    }
    if (channelsLast)
        for (size_t i = 0; i < m_outputSlots.size(); ++i) {
            const int o = m_outputSlots[i];
            if (layouts[o] != ActivationLayout::ChannelsLast || !slots[o].defined()) continue;
            // Attached to the node that produced the output (a channels-last value always has one).
            const ir::Value* v = m_graph.findValue(m_graph.outputs[i]);
            const ir::Node* producer = v ? m_graph.node(v->producer) : nullptr;
            reorders = 0;
            slots[o] = producer ? reorder(*producer, slots[o], layouts[o], ActivationLayout::Plain)
                                : onednn::convertLayout(slots[o], layouts[o], ActivationLayout::Plain, pool);
            layouts[o] = ActivationLayout::Plain;
            if (record && producer)
                for (ExecutedStep& e : m_lastExecution)
                    if (e.node == producer->id) e.reorders += reorders;
        }
    std::vector<ir::Tensor> result;
    result.reserve(m_outputSlots.size());
    for (size_t i = 0; i < m_outputSlots.size(); ++i) {
        const ir::Tensor& t = slots[m_outputSlots[i]];
        if (!t.defined()) {
            // An output may be an outer-scope value or an input passed through.
            const ir::Tensor* o = outer ? outer->find(m_graph.outputs[i]) : nullptr;
            if (!o) throw Error("graph output '" + m_graph.outputs[i] + "' was not computed");
            result.push_back(*o);
        } else {
            result.push_back(t);
        }
    }
    return result;
}

} // namespace opstudio::rt
