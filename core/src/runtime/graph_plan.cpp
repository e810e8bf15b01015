#include "opstudio/runtime/graph_plan.h"

#include <algorithm>
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
    std::vector<int> inputs;            // slot per input, -1 when omitted
    std::vector<int> outputs;           // slot per output, -1 when omitted
    std::vector<int> freeAfter;         // slots whose last reader is this step
    bool hasSubgraphs = false;
    int64_t opset = 0;
};

namespace {

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
    for (const auto& in : graph.inputs) m_inputSlots.push_back(slotOf(in));
    m_inputNames = graph.inputs;
    for (const auto& [name, t] : graph.initializers) m_constants.emplace_back(slotOf(name), t);

    // Unsupported operators are collected and reported together, before any run.
    std::string missing;
    std::unordered_set<std::string> reported;
    std::unordered_set<std::string> produced(graph.inputs.begin(), graph.inputs.end());
    for (const auto& [name, t] : graph.initializers) produced.insert(name);
    for (ir::NodeId id : graph.order()) {
        const ir::Node& node = *graph.node(id);
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
                missing += (registry.knowsOp(node.domain, node.opType) ? "operator " + op + " at opset " +
                                                                              std::to_string(opset) + " is not supported"
                                                                        : "unsupported operator " + op + " (domain '" +
                                                                              (node.domain.empty() ? "ai.onnx" : node.domain) +
                                                                              "', opset " + std::to_string(opset) + ")") +
                           " at node '" + node.name + "'";
            }
            for (const auto& o : node.outputs) produced.insert(o);
            continue;
        }
        KernelInit init{node, opset, {}, &model, options.threads, options.reference};
        for (const auto& in : node.inputs) init.constInputs.push_back(in.empty() ? nullptr : graph.constantValue(in));
        const KernelFactory& factory = (options.reference && entry->reference) ? entry->reference : entry->fast;
        try {
            step.kernel = factory(init);
        } catch (Error& e) {
            if (e.context().node.empty()) e.context().node = node.name;
            if (e.context().opType.empty()) e.context().opType = node.opType;
            e.context().domain = node.domain;
            e.context().opset = static_cast<int>(opset);
            throw;
        }
        for (const auto& in : node.inputs) step.inputs.push_back(in.empty() ? -1 : slotOf(in));
        for (const auto& out : node.outputs) step.outputs.push_back(out.empty() ? -1 : slotOf(out));
        for (const auto& o : node.outputs) produced.insert(o);
        m_steps.push_back(std::move(step));
    }
    if (!missing.empty()) throw Error(missing);
    for (const auto& out : graph.outputs) m_outputSlots.push_back(slotOf(out));

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
    for (int o : m_outputSlots) keep[o] = true;
    for (const auto& [slot, t] : m_constants) keep[slot] = true;
    for (int i : m_inputSlots) keep[i] = true;
    for (const auto& [slot, name] : m_outerSlots) keep[slot] = true;
    for (size_t slot = 0; slot < lastUse.size(); ++slot)
        if (!keep[slot] && lastUse[slot] >= 0) m_steps[lastUse[slot]].freeAfter.push_back(static_cast<int>(slot));
}

GraphPlan::~GraphPlan() = default;

std::string_view GraphPlan::kernelPath(ir::NodeId id) const {
    for (const auto& s : m_steps)
        if (s.node->id == id) return s.kernel->path();
    return "constant";
}

std::vector<ir::Tensor> GraphPlan::run(const std::vector<ir::Tensor>& feeds, const Scope* outer, TensorPool* pool,
                                       ExecutionObserver* observer, int depth) const {
    std::vector<ir::Tensor> slots(m_index.size());
    for (const auto& [slot, t] : m_constants) slots[slot] = t;
    for (size_t i = 0; i < m_inputSlots.size() && i < feeds.size(); ++i)
        if (feeds[i].defined()) slots[m_inputSlots[i]] = feeds[i];
    for (const auto& [slot, name] : m_outerSlots) {
        if (slots[slot].defined()) continue;
        if (outer)
            if (const ir::Tensor* t = outer->find(name)) slots[slot] = *t;
    }
    Scope scope(outer, &m_index, &slots);
    std::vector<const ir::Tensor*> ins;
    for (const Step& step : m_steps) {
        const ir::Node& node = *step.node;
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
        KernelContext ctx(node, ins, outs, &scope, pool, m_threads);
        if (step.hasSubgraphs) ctx.setObserver(observer, depth + 1);
        if (observer) observer->onNodeBegin(node, depth);
        try {
            step.kernel->run(ctx);
        } catch (Error& e) {
            ErrorContext& c = e.context();
            if (c.node.empty()) c.node = node.name;
            if (c.opType.empty()) c.opType = node.opType;
            c.domain = node.domain;
            if (c.opset == 0) c.opset = static_cast<int>(step.opset);
            throw;
        } catch (const std::bad_alloc&) {
            throw Error("out of memory", ErrorContext{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)});
        } catch (const std::exception& e) {
            throw Error(e.what(), ErrorContext{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)});
        }
        if (observer) observer->onNodeEnd(node, depth, outs);
        for (size_t o = 0; o < step.outputs.size(); ++o)
            if (step.outputs[o] >= 0) {
                if (!outs[o].defined() && ctx.wantsOutput(o)) {
                    ErrorContext c{"", node.name, node.opType, node.domain, static_cast<int>(step.opset)};
                    throw Error("kernel did not produce output " + std::to_string(o), c);
                }
                slots[step.outputs[o]] = std::move(outs[o]);
            }
        for (int s : step.freeAfter) slots[s] = ir::Tensor();
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
