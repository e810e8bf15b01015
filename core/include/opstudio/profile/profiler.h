#pragma once
// Profiler: runs a session with an ExecutionObserver attached (warm-up runs, then N timed runs)
// and turns the per-node timings into statistics, costs and roofline positions. The observer does
// not change the plan, and the reported total is the latency of unobserved runs interleaved with
// the observed ones (profile/latency.h: the same mechanism as compare and report).
#include "opstudio/profile/cost_model.h"
#include "opstudio/profile/latency.h"
#include "opstudio/profile/machine.h"
#include "opstudio/profile/statistics.h"
#include "opstudio/runtime/session.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace opstudio::profile {

struct ProfileOptions {
    int runs = 20;
    int warmup = 3;
    /// Keep per-call events of the timed runs for the Chrome trace (capped).
    bool recordTrace = true;
    size_t maxTraceEvents = 500'000;
    Clock clock; // empty: steadyClock()
    /// Ceilings for the roofline; std::nullopt skips roofline placement.
    std::optional<MachineInfo> machine;
};

/// One node (of the main graph or of a subgraph body) and its measurements, or one layout reorder
/// the plan runs for a node (opType "Reorder", id kNoNode, `reorderFor` names that node).
struct NodeProfile {
    std::string name;
    std::string opType;
    std::string reorderFor; // reorder rows: the node that needs the reorder (or produced a graph output)
    std::string domain;
    ir::NodeId id = ir::kNoNode;
    int depth = 0;       // 0: main graph; > 0: inside that many If/Loop/Scan bodies
    int parent = -1;     // index in Profile::nodes of the enclosing If/Loop/Scan node, or -1
    std::vector<int> children; // indices of nodes of its bodies
    std::string kernelPath;
    /// Wall time per run in ms (all calls of the run summed; inclusive of children).
    Summary time;
    double selfMedianMs = 0; // median minus the children's medians (>= 0)
    double callsPerRun = 0;
    double share = 0;        // time.median / total median
    std::vector<std::vector<int64_t>> inputShapes;  // first call of the recorded run
    std::vector<std::vector<int64_t>> outputShapes;
    /// Cost per run (all calls summed; an If/Loop/Scan node's own cost excludes its children).
    OpCost cost;
    double gflops = 0; // cost.flops / median time
    double gbps = 0;   // cost.bytes() / median time
    std::string bound; // "compute", "memory" or "" (no roofline or nothing computed)
    double rooflinePercent = 0;
    double attainableGflops = 0;
    /// Where the roof's bytes come from (MemoryRoof::tier): "L2", "L3", "DRAM", "L3+DRAM"; "" unplaced.
    std::string memoryTier;
    /// Set when the node measured above its roof: what the profiler suspects (the roof's level, the
    /// byte or FLOP count, or a ceiling) and what it did. rooflinePercent is then at most 100 and
    /// measuredRooflinePercent keeps the figure against the first roof.
    std::string rooflineNote;
    double measuredRooflinePercent = 0;
    double idealMs = 0; // time at the attainable ceiling (flops / attainable, or bytes / bandwidth)
};

/// Nodes of one op type added up (self times, so nested nodes are not counted twice).
struct OpTypeProfile {
    std::string opType;
    int count = 0;          // nodes
    double callsPerRun = 0;
    double totalMs = 0;     // sum of self median times
    double share = 0;
    double flops = 0;
    double bytes = 0;
    double gflops = 0;
    std::string bound;
    double rooflinePercent = 0;
};

/// One If/Loop/Scan node with its bodies' nodes.
struct SubgraphProfile {
    int node = -1;          // index in Profile::nodes
    std::string name;
    std::string opType;
    int nodeCount = 0;      // nodes inside (recursively)
    double totalMs = 0;     // inclusive median
    double share = 0;
    double flops = 0;       // inside, per run
};

/// One call, for the Chrome trace.
struct TraceEvent {
    int node = -1;   // index in Profile::nodes; -1 marks a whole run
    int run = 0;
    int64_t startNs = 0; // relative to the first timed run's start
    int64_t durNs = 0;
    int depth = 0;
};

struct Profile {
    std::string model;
    int runs = 0;
    int warmup = 0;
    int threads = 1;
    /// ms: unobserved Session::run calls interleaved with the observed ones (measureLatency's mechanism):
    /// the latency `run`, `compare` and `report` report for this plan.
    Summary total;
    /// ms: the observed runs the per-node rows come from (rows, reorders included, add up to about this).
    Summary observedTotal;
    std::vector<NodeProfile> nodes; // pre-order: every parent precedes its children
    std::vector<OpTypeProfile> opTypes; // by total time, descending
    std::vector<SubgraphProfile> subgraphs;
    double totalFlops = 0;
    double totalBytes = 0;
    int64_t weightBytes = 0;
    int64_t parameterCount = 0;
    size_t peakActivationBytes = 0;
    int64_t peakRssBytes = 0; // peak resident set during the profile (see resetPeakRss)
    std::optional<MachineInfo> machine;
    Ceilings ceilings; // for `threads` (zero when no machine)
    std::vector<TraceEvent> trace;
    bool traceTruncated = false;
};

/// Runs and measures a session. Not thread-safe; one profile at a time per session.
class Profiler {
public:
    explicit Profiler(rt::Session& session, ProfileOptions options = {});
    /// Warm-up runs, then options.runs timed runs with `feeds`. The observer is detached afterwards.
    Result<Profile> run(const std::map<std::string, ir::Tensor>& feeds);

private:
    rt::Session& m_session;
    ProfileOptions m_options;
};

/// Process peak resident set size in bytes (/proc/self/status VmHWM, else getrusage).
int64_t peakRssBytes();
/// Rewinds the peak RSS to the current RSS where the kernel allows it; false otherwise.
bool resetPeakRss();

} // namespace opstudio::profile
