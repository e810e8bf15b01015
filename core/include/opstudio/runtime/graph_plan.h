#pragma once
// A compiled graph: node schedule, bound kernels and value lifetimes. Used for the main graph
// and, by the control-flow kernels, for If/Loop/Scan bodies.
#include "opstudio/ir/graph.h"
#include "opstudio/runtime/kernel.h"
#include "opstudio/runtime/session.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace opstudio::rt {

/// Values visible by name, with a parent scope (outer graphs for subgraphs). A scope either
/// holds explicit name -> tensor entries or looks names up in a running plan's value table.
class Scope {
public:
    explicit Scope(const Scope* parent = nullptr) : m_parent(parent) {}
    Scope(const Scope* parent, const std::unordered_map<std::string, int>* index, const std::vector<ir::Tensor>* slots)
        : m_parent(parent), m_index(index), m_slots(slots) {}
    const ir::Tensor* find(const std::string& name) const;
    void set(const std::string& name, const ir::Tensor* t) { m_values[name] = t; }

private:
    const Scope* m_parent;
    const std::unordered_map<std::string, int>* m_index = nullptr;
    const std::vector<ir::Tensor>* m_slots = nullptr;
    std::unordered_map<std::string, const ir::Tensor*> m_values;
};

/// Recycles activation buffers by size; tracks live and peak bytes. Buffers handed out return
/// to the pool when the last tensor using them goes away (even after the pool is gone).
class TensorPool {
public:
    TensorPool();
    ~TensorPool();
    std::shared_ptr<ir::Buffer> acquire(size_t bytes);
    size_t liveBytes() const;
    size_t peakBytes() const;
    void resetPeak();
    /// Frees every cached buffer.
    void trim();
    struct State;

private:
    std::shared_ptr<State> m_state;
};

class GraphPlan {
public:
    /// Compiles `graph`. `outerNames` are names visible from enclosing graphs.
    GraphPlan(const ir::Graph& graph, const ir::Model& model, const SessionOptions& options,
              const std::vector<std::string>& outerNames = {});
    ~GraphPlan();
    /// Runs with `feeds` bound to the graph inputs in order (missing trailing feeds allowed when
    /// an initializer provides a default). Returns the graph outputs in order.
    std::vector<ir::Tensor> run(const std::vector<ir::Tensor>& feeds, const Scope* outer, TensorPool* pool,
                                ExecutionObserver* observer, int depth) const;
    const ir::Graph& graph() const { return m_graph; }
    std::string_view kernelPath(ir::NodeId id) const;
    /// Steps of the last top-level run (depth 0), see Session::lastExecution.
    const std::vector<ExecutedStep>& lastExecution() const { return m_lastExecution; }

private:
    struct Step;
    const ir::Graph& m_graph;
    int m_threads;
    std::vector<Step> m_steps;
    std::vector<std::string> m_inputNames;
    std::unordered_map<std::string, int> m_index; // value name -> slot
    std::vector<int> m_inputSlots, m_outputSlots;
    std::vector<std::pair<int, ir::Tensor>> m_constants;
    std::vector<std::pair<int, std::string>> m_outerSlots;
    /// Internal nodes the plan runs in place of graph nodes (e.g. ai.opstudio.LutMatMul for a
    /// palettized MatMul); steps point into them.
    std::vector<std::unique_ptr<ir::Node>> m_internalNodes;
    mutable std::vector<ExecutedStep> m_lastExecution;
    /// Keep 4-D activations channels-last between oneDNN convolutions (top-level runs, observed or
    /// not; OPSTUDIO_CHANNELS_LAST=0 turns it off). Decided per value at build, see graph_plan.cpp.
    bool m_channelsLast = false;
    void planChannelsLast(const ir::Graph& graph);
};

} // namespace opstudio::rt
