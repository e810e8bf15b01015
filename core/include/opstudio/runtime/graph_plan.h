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

/// Values visible by name, with a parent scope (outer graphs for subgraphs).
class Scope {
public:
    explicit Scope(const Scope* parent = nullptr) : m_parent(parent) {}
    const ir::Tensor* find(const std::string& name) const;
    void set(const std::string& name, const ir::Tensor* t) { m_values[name] = t; }

private:
    const Scope* m_parent;
    std::unordered_map<std::string, const ir::Tensor*> m_values;
};

/// Recycles activation buffers by size; tracks live and peak bytes.
class TensorPool {
public:
    std::shared_ptr<ir::Buffer> acquire(size_t bytes);
    size_t liveBytes() const { return m_live; }
    size_t peakBytes() const { return m_peak; }
    void resetPeak() { m_peak = m_live; }
    void release(size_t bytes);
    void trim();

private:
    friend class PooledBuffer;
    std::multimap<size_t, std::unique_ptr<ir::Buffer>> m_free;
    size_t m_live = 0, m_peak = 0;
    std::mutex m_mutex;
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

private:
    struct Step;
    const ir::Graph& m_graph;
    int m_threads;
    std::vector<Step> m_steps;
    std::vector<std::string> m_inputNames;
};

} // namespace opstudio::rt
