#pragma once
// Session: compile a graph once (schedule, kernels, constant weights pre-packed, buffer reuse),
// then run it many times.
#include "opstudio/ir/graph.h"
#include "opstudio/runtime/kernel.h"
#include "opstudio/util/error.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace opstudio::rt {

class GraphPlan;
class TensorPool;

struct SessionOptions {
    /// OpenMP threads (0: all cores).
    int threads = 1;
    /// Values for symbolic input dims ("batch" -> 1). Unset symbolic dims default to 1 for random inputs.
    std::map<std::string, int64_t> dims;
    /// Use every kernel's reference path (plain loops) instead of the fast one.
    bool reference = false;
};

/// A layout reorder the plan runs between nodes (4-D activations kept channels-last between convolutions).
enum class ReorderKind : uint8_t { ToChannelsLast, ToPlain };

/// Hook for profilers, calibration and comparison. Calls come from the thread that calls Session::run.
/// Nodes inside subgraphs report depth > 0 and the enclosing node through `parent`.
/// Attaching an observer never changes the plan: the observed run executes the same kernels in the
/// same layouts as the unobserved one (the profiled plan is the plan that runs).
class ExecutionObserver {
public:
    virtual ~ExecutionObserver() = default;
    virtual void onRunBegin() {}
    virtual void onRunEnd() {}
    virtual void onNodeBegin(const ir::Node& node, int depth) {}
    /// `outputs` hold plain (NCHW) values when wantsPlainOutputs(); otherwise a 4-D output may store its
    /// bytes channels-last (logical shape [N, C, H, W] either way).
    virtual void onNodeEnd(const ir::Node& node, int depth, const std::vector<ir::Tensor>& outputs) {}
    /// True (default): channels-last outputs are handed to onNodeEnd as plain copies, made after the node
    /// ran. Timing-only observers return false so that nothing extra runs inside the measured plan.
    virtual bool wantsPlainOutputs() const { return true; }
    /// A reorder the plan runs for `node`: before it reads a channels-last input as plain (or a plain one
    /// channels-last), or, for a graph output, after `node` produced it. `converted` is the result.
    virtual void onReorderBegin(const ir::Node& node, int depth, ReorderKind kind) {}
    virtual void onReorderEnd(const ir::Node& node, int depth, ReorderKind kind,
                              const ir::Tensor& converted) {}
};

/// How one main-graph node ran in the last run: kernel path, layouts of its input 0 / output 0 and the
/// number of reorders the plan ran for it. Equal with and without an observer attached.
struct ExecutedStep {
    ir::NodeId node = ir::kNoNode;
    std::string kernelPath;
    bool inputChannelsLast = false;
    bool outputChannelsLast = false;
    int reorders = 0;
    bool operator==(const ExecutedStep&) const = default;
};

struct NamedTensor {
    std::string name;
    ir::Tensor tensor;
};

/// Input/output description for callers (symbolic dims resolved where options give them).
struct IoInfo {
    std::string name;
    ir::DType dtype = ir::DType::Undefined;
    ir::ValueShape shape;
};

class Session {
public:
    ~Session();
    /// Builds a session; fails (as a value) when an operator is missing, naming op, domain, opset and node.
    static Result<std::unique_ptr<Session>> create(std::shared_ptr<const ir::Model> model,
                                                   const SessionOptions& options = {});
    /// Runs with feeds by input name. Checks names, dtypes and ranks/known dims of the feeds.
    /// Thread-safe by serialization: runs of one session from several threads take turns (the plan, its
    /// buffers and the per-run records are per session). For parallel runs, create one session per thread.
    /// The thread count is set for the run only; the caller's floating-point environment is not changed.
    Result<std::vector<NamedTensor>> run(const std::map<std::string, ir::Tensor>& feeds);

    const std::vector<IoInfo>& inputs() const { return m_inputs; }
    const std::vector<IoInfo>& outputs() const { return m_outputs; }
    /// Concrete input shape using options.dims for symbols (1 where unknown).
    std::vector<int64_t> resolvedInputShape(const IoInfo& info) const;
    /// Highest bytes of live activations seen during the last run.
    size_t peakActivationBytes() const;
    void setObserver(ExecutionObserver* observer) { m_observer = observer; }
    const ir::Model& model() const { return *m_model; }
    const SessionOptions& options() const { return m_options; }
    /// The kernel path chosen for a node ("onednn", "eigen", "reference").
    std::string_view kernelPath(ir::NodeId id) const;
    /// The main graph's steps as the last run executed them (schedule order).
    const std::vector<ExecutedStep>& lastExecution() const;

private:
    Session() = default;
    std::shared_ptr<const ir::Model> m_model;
    SessionOptions m_options;
    std::unique_ptr<GraphPlan> m_plan;
    std::unique_ptr<TensorPool> m_pool;
    std::vector<IoInfo> m_inputs, m_outputs;
    ExecutionObserver* m_observer = nullptr;
    std::mutex m_runMutex; // serializes run()
};

/// Random feeds for every real input (seeded, deterministic): floats ~ U(-1, 1), ints in [0, 8), bools.
std::map<std::string, ir::Tensor> randomFeeds(const Session& session, uint64_t seed);

} // namespace opstudio::rt
