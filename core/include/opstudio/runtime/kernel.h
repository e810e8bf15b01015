#pragma once
// Kernel interface. A kernel is created once per node when a session is built (it may parse
// attributes and pre-pack constant weights then) and run many times. Kernels compute their
// output shapes from the actual input shapes, so data-dependent shapes just work.
#include "opstudio/ir/graph.h"
#include "opstudio/util/error.h"

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace opstudio::rt {

class Scope;
class TensorPool;
class ExecutionObserver;

/// What a kernel factory sees when the session is built.
struct KernelInit {
    const ir::Node& node;
    int64_t opset = 0;
    /// Constant inputs (initializers, Constant nodes); nullptr where an input is computed or absent.
    std::vector<const ir::Tensor*> constInputs;
    /// Opsets of the model (subgraph kernels build nested plans with them).
    const ir::Model* model = nullptr;
    int threads = 1;
    /// True when the reference (plain loops) path is requested.
    bool reference = false;
};

/// What a kernel sees on each run.
class KernelContext {
public:
    KernelContext(const ir::Node& node, std::vector<const ir::Tensor*> inputs, std::vector<ir::Tensor>& outputs,
                  const Scope* scope, TensorPool* pool, int threads)
        : m_node(node), m_inputs(std::move(inputs)), m_outputs(outputs), m_scope(scope), m_pool(pool),
          m_threads(threads) {}
    const ir::Node& node() const { return m_node; }
    size_t inputCount() const { return m_inputs.size(); }
    /// True when input i is given (optional inputs may be absent).
    bool hasInput(size_t i) const { return i < m_inputs.size() && m_inputs[i] != nullptr; }
    const ir::Tensor& input(size_t i) const;
    size_t outputCount() const { return m_outputs.size(); }
    /// True when the graph uses output i (optional outputs may be absent).
    bool wantsOutput(size_t i) const { return i < m_node.outputs.size() && !m_node.outputs[i].empty(); }
    /// Allocates output i (pooled memory, uninitialised).
    ir::Tensor& allocate(size_t i, ir::DType dtype, std::vector<int64_t> shape);
    /// Sets output i to an existing tensor (e.g. a reshaped view of an input).
    void setOutput(size_t i, ir::Tensor t) { m_outputs.at(i) = std::move(t); }
    ir::Tensor& output(size_t i) { return m_outputs.at(i); }
    /// Values visible to subgraphs (for If/Loop/Scan).
    const Scope* scope() const { return m_scope; }
    TensorPool* pool() const { return m_pool; }
    int threads() const { return m_threads; }
    /// Observer and nesting depth, passed on by control-flow kernels to their bodies.
    ExecutionObserver* observer() const { return m_observer; }
    int depth() const { return m_depth; }
    void setObserver(ExecutionObserver* observer, int depth) {
        m_observer = observer;
        m_depth = depth;
    }

private:
    const ir::Node& m_node;
    std::vector<const ir::Tensor*> m_inputs;
    std::vector<ir::Tensor>& m_outputs;
    const Scope* m_scope;
    TensorPool* m_pool;
    int m_threads;
    ExecutionObserver* m_observer = nullptr;
    int m_depth = 0;
};

class Kernel {
public:
    virtual ~Kernel() = default;
    /// Computes the outputs. Throws opstudio::Error on bad inputs (wrong shapes, dtypes).
    virtual void run(KernelContext& ctx) = 0;
    /// Short name of the path taken ("onednn", "eigen", "reference") for profiles.
    virtual std::string_view path() const { return "reference"; }
};

/// A kernel made of one function; most kernels are this.
class FunctionKernel final : public Kernel {
public:
    using Fn = std::function<void(KernelContext&)>;
    FunctionKernel(Fn fn, std::string_view path = "reference") : m_fn(std::move(fn)), m_path(path) {}
    void run(KernelContext& ctx) override { m_fn(ctx); }
    std::string_view path() const override { return m_path; }

private:
    Fn m_fn;
    std::string_view m_path;
};

/// Builds a kernel for a node; throws opstudio::Error when the node cannot be supported
/// (e.g. an attribute value the kernel does not implement).
using KernelFactory = std::function<std::unique_ptr<Kernel>(const KernelInit&)>;

inline constexpr int64_t kLatestOpset = 1000;

struct KernelKey {
    std::string opType;
    int64_t sinceVersion = 1;
    int64_t untilVersion = kLatestOpset; // inclusive
    std::string domain;                  // "" = ai.onnx
};

/// All kernels, keyed by (domain, op type, opset range). A key may have a fast and a reference factory.
class KernelRegistry {
public:
    void add(KernelKey key, KernelFactory fast, KernelFactory reference = {});
    struct Entry {
        KernelKey key;
        KernelFactory fast;
        KernelFactory reference;
    };
    /// The entry for an op at an opset, or nullptr.
    const Entry* find(const std::string& domain, const std::string& opType, int64_t opset) const;
    /// True when any opset of the op is known (to tell "unknown op" from "unsupported opset").
    bool knowsOp(const std::string& domain, const std::string& opType) const;
    const std::vector<Entry>& entries() const { return m_entries; }
    /// The registry with every kernel of OpStudio (built once).
    static const KernelRegistry& global();

private:
    std::vector<Entry> m_entries;
};

/// Shorthand for registering a stateless function kernel.
KernelFactory fn(std::function<void(KernelContext&)> f, std::string_view path = "reference");

} // namespace opstudio::rt
