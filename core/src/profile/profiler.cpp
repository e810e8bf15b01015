// The profiling observer keeps a stack of open nodes: a node that begins while an If/Loop/Scan
// node is open (depth > 0) belongs to that node's body, so body nodes get one record per
// (enclosing record, node) and their time is summed over all iterations of a run.
#include "opstudio/profile/profiler.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace opstudio::profile {

int64_t peakRssBytes() {
    // VmHWM: the high-water mark that resetPeakRss() can rewind (getrusage's cannot be reset).
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024; // "VmHWM:  1234 kB"
    rusage u{};
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return static_cast<int64_t>(u.ru_maxrss) * 1024; // Linux reports kilobytes
}

bool resetPeakRss() {
    // Linux >= 4.0: writing 5 to clear_refs sets VmHWM to the current RSS.
    std::ofstream clear("/proc/self/clear_refs");
    if (!clear) return false;
    clear << "5";
    clear.flush();
    return static_cast<bool>(clear);
}

namespace {

// kind: 0 the node itself, 1 + ReorderKind for a reorder the plan runs for it.
struct NodeKey {
    int parent;
    const ir::Node* node;
    int kind = 0;
    bool operator==(const NodeKey&) const = default;
};
struct NodeKeyHash {
    size_t operator()(const NodeKey& k) const {
        return (std::hash<const void*>()(k.node) * 31u + static_cast<size_t>(k.parent + 1)) * 3u +
               static_cast<size_t>(k.kind);
    }
};

TensorInfo infoOf(const ir::Tensor& t, bool constant) {
    TensorInfo i;
    i.dtype = t.dtype();
    i.shape = t.shape();
    i.known = t.defined();
    i.constant = constant;
    return i;
}

class ProfilingObserver final : public rt::ExecutionObserver {
public:
    struct Record {
        const ir::Node* node = nullptr;
        int kind = 0; // NodeKey::kind
        int parent = -1;
        int depth = 0;
        std::vector<double> samplesNs; // one per timed run
        int64_t accumNs = 0;           // current run
        int64_t totalCalls = 0;        // over timed runs
        OpCost cost;                   // over the recorded run
        bool shapesSet = false;
        std::vector<std::vector<int64_t>> inputShapes, outputShapes;
    };

    ProfilingObserver(const ir::Model& model, Clock clock) : m_clock(std::move(clock)) {
        indexGraph(*model.graph);
    }

    // Phase switches, set by the profiler between runs.
    bool recordCosts = false;
    bool timed = false;
    bool recordTrace = false;
    size_t maxTraceEvents = 0;
    int timedRun = 0;
    int64_t traceOrigin = 0;
    bool traceTruncated = false;

    std::vector<Record> records;
    std::vector<TraceEvent> trace;

    void setFeeds(const std::map<std::string, ir::Tensor>& feeds) {
        for (const auto& [name, t] : feeds)
            m_values[name] = infoOf(t, false);
    }

    void onRunBegin() override { m_stack.clear(); }

    void onRunEnd() override {
        for (Record& r : records) {
            if (timed) r.samplesNs.push_back(static_cast<double>(r.accumNs));
            r.accumNs = 0;
        }
        if (timed) ++m_timedRunsDone;
    }

    // Timing only: output values are never read, so the plan hands over whatever layout it keeps.
    bool wantsPlainOutputs() const override { return false; }

    void onNodeBegin(const ir::Node& node, int depth) override { begin(node, depth, 0); }

    void onNodeEnd(const ir::Node& node, int depth, const std::vector<ir::Tensor>& outputs) override {
        if (Record* r = end(depth); r && recordCosts) recordCall(*r, node, outputs);
    }

    void onReorderBegin(const ir::Node& node, int depth, rt::ReorderKind kind) override {
        begin(node, depth, 1 + static_cast<int>(kind));
    }

    void onReorderEnd(const ir::Node&, int depth, rt::ReorderKind, const ir::Tensor& converted) override {
        // A reorder reads the tensor once and writes it once.
        if (Record* r = end(depth); r && recordCosts) {
            const double bytes = static_cast<double>(converted.byteSize());
            r->cost.bytesRead += bytes;
            r->cost.bytesWritten += bytes;
            if (!r->shapesSet) {
                r->shapesSet = true;
                r->inputShapes.push_back(converted.shape());
                r->outputShapes.push_back(converted.shape());
            }
        }
    }

private:
    struct Frame {
        int record;
        int64_t start;
    };

    void begin(const ir::Node& node, int depth, int kind) {
        const int parent = depth > 0 && !m_stack.empty() ? m_stack.back().record : -1;
        int rec;
        auto it = m_index.find(NodeKey{parent, &node, kind});
        if (it != m_index.end()) {
            rec = it->second;
        } else {
            rec = static_cast<int>(records.size());
            Record r;
            r.node = &node;
            r.kind = kind;
            r.parent = parent;
            r.depth = depth;
            // A node first seen late (an If branch taken only now) ran zero time in earlier runs.
            r.samplesNs.assign(static_cast<size_t>(m_timedRunsDone), 0.0);
            records.push_back(std::move(r));
            m_index.emplace(NodeKey{parent, &node, kind}, rec);
        }
        m_stack.push_back({rec, m_clock()});
    }

    Record* end(int depth) {
        const int64_t end = m_clock();
        if (m_stack.empty()) return nullptr;
        const Frame f = m_stack.back();
        m_stack.pop_back();
        Record& r = records[static_cast<size_t>(f.record)];
        r.accumNs += end - f.start;
        if (timed) {
            ++r.totalCalls;
            if (recordTrace) {
                if (trace.size() < maxTraceEvents)
                    trace.push_back({f.record, timedRun, f.start - traceOrigin, end - f.start, depth});
                else
                    traceTruncated = true;
            }
        }
        return &r;
    }

    void indexGraph(const ir::Graph& g) {
        for (const auto& [name, t] : g.initializers)
            m_constants[name] = infoOf(t, true);
        g.forEachNode([&](const ir::Node& n) {
            m_owner[&n] = &g;
            if (n.opType == "Constant")
                for (const auto& out : n.outputs)
                    if (const ir::Tensor* t = g.constantValue(out)) m_constants[out] = infoOf(*t, true);
            for (const ir::Graph* sub : n.subgraphs())
                indexGraph(*sub);
        });
    }

    // Input shapes are not passed to onNodeBegin: they come from what earlier nodes produced
    // (by value name), the feeds, the constants, or finally the owning graph's declared shape
    // (subgraph inputs such as a Loop's iteration counter are never produced by a node).
    TensorInfo lookup(const std::string& name, const ir::Node& node) const {
        if (auto c = m_constants.find(name); c != m_constants.end()) return c->second;
        if (auto v = m_values.find(name); v != m_values.end()) return v->second;
        TensorInfo info;
        auto o = m_owner.find(&node);
        if (o != m_owner.end())
            if (const ir::Value* v = o->second->findValue(name))
                if (auto shape = ir::concreteShape(v->shape)) {
                    info.dtype = v->dtype;
                    info.shape = *shape;
                    info.known = v->dtype != ir::DType::Undefined;
                }
        return info;
    }

    void recordCall(Record& r, const ir::Node& node, const std::vector<ir::Tensor>& outputs) {
        std::vector<TensorInfo> ins, outs;
        ins.reserve(node.inputs.size());
        for (const auto& name : node.inputs)
            ins.push_back(name.empty() ? TensorInfo{} : lookup(name, node));
        for (const auto& t : outputs)
            outs.push_back(infoOf(t, false));
        r.cost += estimateCost(node, ins, outs);
        if (!r.shapesSet) {
            r.shapesSet = true;
            for (const auto& i : ins)
                r.inputShapes.push_back(i.known ? i.shape : std::vector<int64_t>{-1});
            for (const auto& o : outs)
                r.outputShapes.push_back(o.known ? o.shape : std::vector<int64_t>{-1});
        }
        for (size_t i = 0; i < outputs.size() && i < node.outputs.size(); ++i)
            if (!node.outputs[i].empty()) m_values[node.outputs[i]] = outs[i];
    }

    Clock m_clock;
    std::vector<Frame> m_stack;
    std::unordered_map<NodeKey, int, NodeKeyHash> m_index;
    std::unordered_map<std::string, TensorInfo> m_values;
    std::unordered_map<std::string, TensorInfo> m_constants;
    std::unordered_map<const ir::Node*, const ir::Graph*> m_owner;
    int m_timedRunsDone = 0;
};

// Detaches the observer however the profile ends.
struct ObserverGuard {
    rt::Session& session;
    ObserverGuard(rt::Session& s, rt::ExecutionObserver* o) : session(s) { session.setObserver(o); }
    ~ObserverGuard() { session.setObserver(nullptr); }
};

constexpr double kNsPerMs = 1e6;

// Throughput in G-units per second from a count per run and a time in ms.
double perSecondG(double count, double ms) {
    return ms > 0 ? count / (ms * 1e6) : 0;
}

// Where one node sits against one roof.
struct Placement {
    std::string bound;
    std::string tier;
    double percent = 0;
    double attainableGflops = 0;
    double idealMs = 0; // time at the attainable ceiling
    double gbps = 0;    // the memory roof's bandwidth
    bool placed = false;
};

Placement placeAt(const Ceilings& c, const NodeProfile& n, const Traffic& traffic) {
    const OpCost& cost = n.cost;
    Placement out;
    if (c.fp32Gflops <= 0) return out;
    if (cost.flops > 0) {
        const RooflinePoint p = placeOnRoofline(c, cost.intensity(), n.gflops, cost.integer, traffic);
        if (p.attainableGflops <= 0) return out;
        out.bound = p.computeBound ? "compute" : "memory";
        out.percent = p.percentOfRoofline;
        out.attainableGflops = p.attainableGflops;
        out.tier = p.memory.tier;
        out.gbps = p.memory.gbps;
        out.idealMs = cost.flops / (p.attainableGflops * 1e6);
        out.placed = true;
        return out;
    }
    const MemoryRoof roof = memoryRoofFor(c, traffic);
    if (cost.bytes() > 0 && roof.gbps > 0) {
        // Pure data movement: its only ceiling is the bandwidth.
        out.bound = "memory";
        out.percent = 100.0 * n.gbps / roof.gbps;
        out.tier = roof.tier;
        out.gbps = roof.gbps;
        out.idealMs = cost.bytes() / (roof.gbps * 1e6);
        out.placed = true;
    }
    return out;
}

std::string megabytes(double bytes) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(bytes < 10e6 ? 2 : 0);
    s << bytes / 1e6 << " MB";
    return s.str();
}

std::string percentText(double pct) { return std::to_string(static_cast<int>(std::lround(pct))) + " %"; }

// Places one node (n.gflops and n.gbps set); returns the time in ms it would take at its attainable
// ceiling (0 when unknown). `runBytes` is the whole run's working set (weights + peak activations):
// it decides whether weights are still cached from the previous run or stream from DRAM.
//
// A node can only beat its roof when the roof is wrong for it: its bytes came from a faster level,
// its byte or FLOP count is too high, or a ceiling was measured low. So a node above 100 % is never
// printed as such. First the roof is raised where that is plausible: weights placed in DRAM because
// the run does not fit the L3 can partly stay in the L3 between runs (its replacement keeps part of
// a working set it cannot hold), so the node is placed against the level its own traffic fits. If it
// is still above, the figure is capped at 100 % and the note says what is suspect.
double placeNode(const Ceilings& c, double runBytes, NodeProfile& n) {
    const Traffic traffic{n.cost.bytes(), static_cast<double>(n.cost.paramBytes), runBytes};
    Placement p = placeAt(c, n, traffic);
    if (!p.placed) return 0;
    if (p.percent > 100) {
        n.measuredRooflinePercent = p.percent;
        const std::string first = "above the " + (p.bound == "compute" ? std::string("compute peak") : p.tier + " roof") +
                                  " (" + percentText(p.percent) + ")";
        std::string note;
        if (p.bound == "memory" && runBytes > 0 && traffic.weightBytes > 0) {
            const Placement own = placeAt(c, n, Traffic{traffic.bytes, traffic.weightBytes, 0});
            if (own.gbps > p.gbps) {
                note = first + ": reads partly from " + own.tier + " — its " + megabytes(traffic.bytes) + " fit the " +
                       own.tier + " though the run's " + megabytes(runBytes) + " do not";
                note += "; placed against " + own.tier;
                p = own;
            }
        }
        if (p.percent > 100) {
            std::string suspect;
            if (p.bound == "compute")
                suspect = "the FLOP count is too high for this kernel (it skips work) or the " +
                          std::string(n.cost.integer ? "int8" : "fp32") +
                          " peak was measured low (re-measure with --remeasure-machine)";
            else if (p.tier == "DRAM" || p.tier.find("DRAM") != std::string::npos)
                suspect = "the DRAM read ceiling looks low (" + std::to_string(static_cast<int>(std::lround(c.memGBps))) +
                          " GB/s; re-measure with --remeasure-machine) or the byte count is too high";
            else
                suspect = "the byte count is too high (every input counted once, as if read from " + p.tier +
                          ") or the " + p.tier + " ceiling was measured low";
            note = (note.empty() ? first : note) + "; " + suspect + "; shown as 100 %";
            p.percent = 100;
            p.idealMs = n.time.median; // at the roof by definition, so the op type's % stays <= 100
            if (p.attainableGflops > 0) p.attainableGflops = n.gflops;
        }
        n.rooflineNote = note;
    }
    n.bound = p.bound;
    n.rooflinePercent = p.percent;
    n.attainableGflops = p.attainableGflops;
    n.memoryTier = p.tier;
    return p.idealMs;
}

} // namespace

Profiler::Profiler(rt::Session& session, ProfileOptions options)
    : m_session(session), m_options(std::move(options)) {
    if (!m_options.clock) m_options.clock = steadyClock();
}

Result<Profile> Profiler::run(const std::map<std::string, ir::Tensor>& feeds) {
    const Clock& clock = m_options.clock;
    if (m_options.runs < 1) return Error("profile: --runs must be at least 1");
    ProfilingObserver obs(m_session.model(), clock);
    obs.setFeeds(feeds);
    obs.recordTrace = m_options.recordTrace;
    obs.maxTraceEvents = m_options.maxTraceEvents;
    ObserverGuard guard(m_session, &obs);
    // Peak RSS of the profile itself, not of whatever the process did before (e.g. the machine probe).
    resetPeakRss();

    // Warm-up; the first run also records shapes and costs (so at least one untimed run happens).
    // Observed and unobserved runs alternate (same plan either way): the observed ones give the
    // per-node rows, the unobserved ones the total that `run` and `compare` would measure.
    const int warmup = std::max(1, m_options.warmup);
    for (int w = 0; w < warmup; ++w) {
        obs.recordCosts = w == 0;
        auto r = m_session.run(feeds);
        if (!r) return r.error();
        m_session.setObserver(nullptr);
        auto plain = m_session.run(feeds);
        m_session.setObserver(&obs);
        if (!plain) return plain.error();
    }
    obs.recordCosts = false;
    obs.timed = true;

    std::vector<double> observedMs, unobservedMs;
    std::vector<TraceEvent> runEvents;
    for (int i = 0; i < m_options.runs; ++i) {
        obs.timedRun = i;
        // Observed run: timed like timeOneRun (clock around Session::run), start kept for the trace.
        const int64_t t0 = clock();
        if (i == 0) obs.traceOrigin = t0;
        auto r = m_session.run(feeds);
        const int64_t t1 = clock();
        if (!r) return r.error();
        observedMs.push_back(static_cast<double>(t1 - t0) / kNsPerMs);
        runEvents.push_back({-1, i, t0 - obs.traceOrigin, t1 - t0, 0});
        m_session.setObserver(nullptr);
        auto plain = timeOneRun(m_session, feeds, clock);
        m_session.setObserver(&obs);
        if (!plain) return plain.error();
        unobservedMs.push_back(*plain);
    }

    Profile p;
    p.model = m_session.model().sourcePath;
    p.runs = m_options.runs;
    p.warmup = m_options.warmup;
    const int threads = m_session.options().threads;
    p.threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    p.total = summarize(unobservedMs);
    p.observedTotal = summarize(observedMs);
    p.weightBytes = m_session.model().weightBytes();
    p.parameterCount = m_session.model().parameterCount();
    p.peakActivationBytes = m_session.peakActivationBytes();
    p.peakRssBytes = peakRssBytes();
    p.machine = m_options.machine;
    if (p.machine) p.ceilings = ceilingsFor(*p.machine, p.threads);
    // Everything one run touches: between two reads of a weight, all of this passed through the caches.
    const double runBytes = static_cast<double>(p.weightBytes) + static_cast<double>(p.peakActivationBytes);

    // Nodes, in first-execution order (pre-order: a parent begins before its children).
    for (const auto& r : obs.records) {
        NodeProfile n;
        const std::string nodeName =
            r.node->name.empty() ? r.node->opType + "_" + std::to_string(r.node->id) : r.node->name;
        if (r.kind == 0) {
            n.name = nodeName;
            n.opType = r.node->opType;
            n.domain = r.node->domain;
            n.id = r.node->id;
            // Body node ids are only unique within their body: ask the session about main-graph nodes only.
            n.kernelPath = r.depth == 0 ? std::string(m_session.kernelPath(r.node->id)) : std::string("body");
        } else {
            const bool toChannelsLast = r.kind == 1 + static_cast<int>(rt::ReorderKind::ToChannelsLast);
            n.name = std::string(toChannelsLast ? "reorder→nhwc" : "reorder→nchw") + " (" + nodeName + ")";
            n.opType = "Reorder";
            n.reorderFor = nodeName;
            n.kernelPath = "onednn";
        }
        n.depth = r.depth;
        n.parent = r.parent;
        std::vector<double> ms;
        for (double ns : r.samplesNs)
            ms.push_back(ns / kNsPerMs);
        n.time = summarize(ms);
        n.callsPerRun = static_cast<double>(r.totalCalls) / p.runs;
        n.share = p.observedTotal.median > 0 ? n.time.median / p.observedTotal.median : 0;
        n.inputShapes = r.inputShapes;
        n.outputShapes = r.outputShapes;
        n.cost = r.cost;
        n.gflops = perSecondG(n.cost.flops, n.time.median);
        n.gbps = perSecondG(n.cost.bytes(), n.time.median);
        n.idealMs = placeNode(p.ceilings, runBytes, n);
        p.nodes.push_back(std::move(n));
    }
    for (size_t i = 0; i < p.nodes.size(); ++i)
        if (p.nodes[i].parent >= 0)
            p.nodes[static_cast<size_t>(p.nodes[i].parent)].children.push_back(static_cast<int>(i));
    for (NodeProfile& n : p.nodes) {
        double childMs = 0;
        for (int c : n.children)
            childMs += p.nodes[static_cast<size_t>(c)].time.median;
        n.selfMedianMs = std::max(0.0, n.time.median - childMs);
        p.totalFlops += n.cost.flops;
        p.totalBytes += n.cost.bytes();
    }

    // By op type: self times, so a Loop and the nodes of its body are not counted twice. The
    // type's roofline % is time-weighted: Σ time at each node's own ceiling / Σ measured time
    // (each node meets its own ceiling: a small Clip reads from cache, a big one from DRAM).
    std::map<std::string, OpTypeProfile> byType;
    std::map<std::string, std::map<std::string, double>> boundMs;
    std::map<std::string, double> idealMs, placedMs;
    for (const NodeProfile& n : p.nodes) {
        OpTypeProfile& t = byType[n.opType];
        t.opType = n.opType;
        ++t.count;
        t.callsPerRun += n.callsPerRun;
        t.totalMs += n.selfMedianMs;
        t.flops += n.cost.flops;
        t.bytes += n.cost.bytes();
        if (!n.bound.empty() && n.children.empty()) {
            boundMs[n.opType][n.bound] += n.time.median;
            idealMs[n.opType] += n.idealMs;
            placedMs[n.opType] += n.time.median;
        }
    }
    for (auto& [name, t] : byType) {
        t.share = p.observedTotal.median > 0 ? t.totalMs / p.observedTotal.median : 0;
        t.gflops = perSecondG(t.flops, t.totalMs);
        const auto& bounds = boundMs[name];
        if (!bounds.empty()) {
            // The bound where most of the type's time goes.
            t.bound = std::max_element(bounds.begin(), bounds.end(), [](const auto& a, const auto& b) {
                          return a.second < b.second;
                      })->first;
            t.rooflinePercent = placedMs[name] > 0 ? 100.0 * idealMs[name] / placedMs[name] : 0;
        }
        p.opTypes.push_back(t);
    }
    std::stable_sort(p.opTypes.begin(), p.opTypes.end(),
                     [](const OpTypeProfile& a, const OpTypeProfile& b) { return a.totalMs > b.totalMs; });

    // Subgraph nodes: everything nested under them.
    std::function<void(int, SubgraphProfile&)> addInside = [&](int idx, SubgraphProfile& s) {
        for (int c : p.nodes[static_cast<size_t>(idx)].children) {
            ++s.nodeCount;
            s.flops += p.nodes[static_cast<size_t>(c)].cost.flops;
            addInside(c, s);
        }
    };
    for (size_t i = 0; i < p.nodes.size(); ++i) {
        const NodeProfile& n = p.nodes[i];
        if (n.children.empty()) continue;
        SubgraphProfile s;
        s.node = static_cast<int>(i);
        s.name = n.name;
        s.opType = n.opType;
        s.totalMs = n.time.median;
        s.share = n.share;
        addInside(static_cast<int>(i), s);
        p.subgraphs.push_back(s);
    }

    if (m_options.recordTrace) {
        p.trace = std::move(runEvents);
        p.trace.insert(p.trace.end(), obs.trace.begin(), obs.trace.end());
        p.traceTruncated = obs.traceTruncated;
    }
    return p;
}

} // namespace opstudio::profile
