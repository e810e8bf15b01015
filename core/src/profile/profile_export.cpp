#include "opstudio/profile/profile_export.h"
#include "opstudio/util/atomic_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

namespace opstudio::profile {

namespace {

std::string shapeText(const std::vector<int64_t>& s) {
    if (std::any_of(s.begin(), s.end(), [](int64_t d) { return d < 0; })) return "?";
    return ir::shapeToString(s);
}

nlohmann::json shapesJson(const std::vector<std::vector<int64_t>>& shapes) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : shapes) {
        if (std::any_of(s.begin(), s.end(), [](int64_t d) { return d < 0; }))
            a.push_back(nullptr);
        else
            a.push_back(s);
    }
    return a;
}

nlohmann::json summaryJson(const Summary& s) {
    return {{"median_ms", s.median}, {"p10_ms", s.p10}, {"p90_ms", s.p90},
            {"min_ms", s.min},       {"max_ms", s.max}, {"mean_ms", s.mean}};
}

nlohmann::json nodeJson(const Profile& p, size_t index) {
    const NodeProfile& n = p.nodes[index];
    nlohmann::json j;
    j["index"] = index;
    j["name"] = n.name;
    j["op_type"] = n.opType;
    j["domain"] = n.domain;
    j["id"] = n.id == ir::kNoNode ? nlohmann::json(nullptr) : nlohmann::json(n.id);
    if (!n.reorderFor.empty()) j["reorder_for"] = n.reorderFor;
    j["depth"] = n.depth;
    j["kernel_path"] = n.kernelPath;
    j["calls"] = n.callsPerRun;
    j["median_ms"] = n.time.median;
    j["p10_ms"] = n.time.p10;
    j["p90_ms"] = n.time.p90;
    j["min_ms"] = n.time.min;
    j["max_ms"] = n.time.max;
    j["mean_ms"] = n.time.mean;
    j["self_ms"] = n.selfMedianMs;
    j["share"] = n.share;
    j["flops"] = n.cost.flops;
    j["bytes"] = n.cost.bytes();
    j["bytes_read"] = n.cost.bytesRead;
    j["bytes_written"] = n.cost.bytesWritten;
    j["params"] = n.cost.params;
    j["param_bytes"] = n.cost.paramBytes;
    j["integer"] = n.cost.integer;
    j["intensity"] = n.cost.intensity();
    j["gflops"] = n.gflops;
    j["gbps"] = n.gbps;
    j["bound"] = n.bound.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.bound);
    j["roofline_pct"] = n.rooflinePercent;
    j["attainable_gflops"] = n.attainableGflops;
    j["memory_tier"] = n.memoryTier.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.memoryTier);
    if (!n.rooflineNote.empty()) {
        j["roofline_note"] = n.rooflineNote;
        j["roofline_pct_measured"] = n.measuredRooflinePercent;
    }
    j["input_shapes"] = shapesJson(n.inputShapes);
    j["output_shapes"] = shapesJson(n.outputShapes);
    nlohmann::json children = nlohmann::json::array();
    for (int c : n.children)
        children.push_back(nodeJson(p, static_cast<size_t>(c)));
    j["children"] = std::move(children);
    return j;
}

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

std::string humanBytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

std::string fixed(double v, int digits) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string pad(std::string s, size_t width, bool left = true) {
    if (s.size() > width) s = s.substr(0, width - 1) + "~";
    const std::string fill(width - s.size(), ' ');
    return left ? s + fill : fill + s;
}

} // namespace

std::string shapesToString(const std::vector<std::vector<int64_t>>& shapes) {
    std::string out;
    for (size_t i = 0; i < shapes.size(); ++i) {
        if (i) out += ", ";
        out += shapeText(shapes[i]);
    }
    return out;
}

nlohmann::json toJson(const Profile& p) {
    nlohmann::json j;
    j["format"] = "opstudio-profile";
    j["version"] = 1;
    j["model"] = p.model;
    j["runs"] = p.runs;
    j["warmup"] = p.warmup;
    j["threads"] = p.threads;
    j["total_ms"] = p.total.median;
    j["total"] = summaryJson(p.total);
    j["observed_total"] = summaryJson(p.observedTotal);
    j["total_flops"] = p.totalFlops;
    j["total_bytes"] = p.totalBytes;
    j["gflops"] = p.total.median > 0 ? p.totalFlops / (p.total.median * 1e6) : 0;
    j["memory"] = {{"weight_bytes", p.weightBytes},
                   {"parameter_count", p.parameterCount},
                   {"peak_activation_bytes", p.peakActivationBytes},
                   {"peak_rss_bytes", p.peakRssBytes}};
    if (p.machine) {
        j["machine"] = toJson(*p.machine);
        nlohmann::json tiers = nlohmann::json::array();
        for (const CacheTier& t : p.ceilings.tiers)
            tiers.push_back({{"name", t.name},
                             {"bytes", t.bytes},
                             {"capacity_bytes", t.capacity(p.ceilings.threads)},
                             {"gbps", t.gbps}});
        j["machine"]["used"] = {{"threads", p.ceilings.threads},      {"fp32_gflops", p.ceilings.fp32Gflops},
                                {"int8_gops", p.ceilings.int8Gops},   {"mem_gbps", p.ceilings.memGBps},
                                {"cache_gbps", p.ceilings.cacheGBps}, {"cache_bytes", p.ceilings.cacheBytes},
                                {"tiers", std::move(tiers)}};
    } else {
        j["machine"] = nullptr;
    }
    nlohmann::json nodes = nlohmann::json::array();
    for (size_t i = 0; i < p.nodes.size(); ++i)
        if (p.nodes[i].parent < 0) nodes.push_back(nodeJson(p, i));
    j["nodes"] = std::move(nodes);
    nlohmann::json types = nlohmann::json::array();
    for (const OpTypeProfile& t : p.opTypes)
        types.push_back({{"op_type", t.opType},
                         {"count", t.count},
                         {"calls", t.callsPerRun},
                         {"total_ms", t.totalMs},
                         {"share", t.share},
                         {"flops", t.flops},
                         {"bytes", t.bytes},
                         {"gflops", t.gflops},
                         {"bound", t.bound.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.bound)},
                         {"roofline_pct", t.rooflinePercent}});
    j["op_types"] = std::move(types);
    nlohmann::json subs = nlohmann::json::array();
    for (const SubgraphProfile& s : p.subgraphs)
        subs.push_back({{"index", s.node},
                        {"name", s.name},
                        {"op_type", s.opType},
                        {"node_count", s.nodeCount},
                        {"total_ms", s.totalMs},
                        {"share", s.share},
                        {"flops", s.flops}});
    j["subgraphs"] = std::move(subs);
    return j;
}

std::string toCsv(const Profile& p) {
    std::ostringstream out;
    out << "index,parent,depth,name,op_type,domain,kernel_path,calls,median_ms,p10_ms,p90_ms,min_ms,self_ms,"
           "share,"
           "flops,bytes_read,bytes_written,bytes,params,intensity,gflops,gbps,bound,roofline_pct,input_"
           "shapes,"
           "output_shapes\n";
    for (size_t i = 0; i < p.nodes.size(); ++i) {
        const NodeProfile& n = p.nodes[i];
        out << i << ',' << n.parent << ',' << n.depth << ',' << csvField(n.name) << ',' << csvField(n.opType)
            << ',' << csvField(n.domain) << ',' << csvField(n.kernelPath) << ',' << num(n.callsPerRun) << ','
            << num(n.time.median) << ',' << num(n.time.p10) << ',' << num(n.time.p90) << ','
            << num(n.time.min) << ',' << num(n.selfMedianMs) << ',' << num(n.share) << ','
            << num(n.cost.flops) << ',' << num(n.cost.bytesRead) << ',' << num(n.cost.bytesWritten) << ','
            << num(n.cost.bytes()) << ',' << n.cost.params << ',' << num(n.cost.intensity()) << ','
            << num(n.gflops) << ',' << num(n.gbps) << ',' << n.bound << ',' << num(n.rooflinePercent) << ','
            << csvField(shapesToString(n.inputShapes)) << ',' << csvField(shapesToString(n.outputShapes))
            << '\n';
    }
    return out.str();
}

nlohmann::json toChromeTrace(const Profile& p) {
    // Timestamps are microseconds (the format's unit). Session::run executes nodes on the calling
    // thread (kernels parallelise inside), so every slice is on that thread's track; runs are
    // parent slices and body nodes nest inside their If/Loop/Scan slice by time.
    constexpr int kPid = 1, kSessionTid = 1;
    nlohmann::json events = nlohmann::json::array();
    events.push_back({{"name", "process_name"},
                      {"ph", "M"},
                      {"pid", kPid},
                      {"tid", kSessionTid},
                      {"args", {{"name", "opstudio " + p.model}}}});
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", kPid},
                      {"tid", kSessionTid},
                      {"args", {{"name", "session (" + std::to_string(p.threads) + " OpenMP threads)"}}}});
    for (const TraceEvent& e : p.trace) {
        nlohmann::json ev;
        ev["ph"] = "X";
        ev["pid"] = kPid;
        ev["tid"] = kSessionTid;
        ev["ts"] = static_cast<double>(e.startNs) / 1e3;
        ev["dur"] = static_cast<double>(e.durNs) / 1e3;
        if (e.node < 0) {
            ev["name"] = "run " + std::to_string(e.run);
            ev["cat"] = "run";
            ev["args"] = {{"run", e.run}};
        } else {
            const NodeProfile& n = p.nodes[static_cast<size_t>(e.node)];
            ev["name"] = n.name;
            ev["cat"] = n.opType;
            ev["args"] = {{"op_type", n.opType},
                          {"run", e.run},
                          {"depth", e.depth},
                          {"kernel", n.kernelPath},
                          {"inputs", shapesToString(n.inputShapes)},
                          {"outputs", shapesToString(n.outputShapes)},
                          {"flops", n.callsPerRun > 0 ? n.cost.flops / n.callsPerRun : n.cost.flops}};
        }
        events.push_back(std::move(ev));
    }
    return {
        {"traceEvents", std::move(events)},
        {"displayTimeUnit", "ms"},
        {"otherData",
         {{"model", p.model}, {"runs", p.runs}, {"threads", p.threads}, {"truncated", p.traceTruncated}}}};
}

std::string formatTable(const Profile& p, int topK) {
    std::ostringstream out;
    out << "model     " << (p.model.empty() ? "(in memory)" : p.model) << "\n";
    out << "runs      " << p.runs << " timed after " << p.warmup << " warm-up, " << p.threads << " thread"
        << (p.threads == 1 ? "" : "s") << "\n";
    out << "latency   median " << fixed(p.total.median, 3) << " ms  (p10 " << fixed(p.total.p10, 3)
        << ", p90 " << fixed(p.total.p90, 3) << ", min " << fixed(p.total.min, 3) << ")\n";
    out << "observed  median " << fixed(p.observedTotal.median, 3)
        << " ms with per-node timing (same plan; the rows below add up to this)\n";
    out << "compute   " << fixed(p.totalFlops / 1e9, 3) << " GFLOP/run, "
        << fixed(p.total.median > 0 ? p.totalFlops / (p.total.median * 1e6) : 0, 1) << " GFLOP/s achieved\n";
    out << "memory    weights " << humanBytes(static_cast<double>(p.weightBytes)) << " (" << p.parameterCount
        << " params), peak activations " << humanBytes(static_cast<double>(p.peakActivationBytes))
        << ", peak RSS " << humanBytes(static_cast<double>(p.peakRssBytes)) << "\n";
    if (p.machine) {
        out << "machine   " << p.machine->cpu << ": fp32 " << fixed(p.ceilings.fp32Gflops, 1)
            << " GFLOP/s, int8 " << fixed(p.ceilings.int8Gops, 1) << " GOP/s, DRAM "
            << fixed(p.ceilings.memGBps, 1) << " GB/s";
        for (const CacheTier& t : p.ceilings.tiers)
            out << ", " << t.name << " " << fixed(t.gbps, 1) << " GB/s ("
                << humanBytes(static_cast<double>(t.capacity(p.ceilings.threads))) << ")";
        if (p.ceilings.tiers.empty()) out << ", cache " << fixed(p.ceilings.cacheGBps, 1) << " GB/s";
        out << " at " << p.ceilings.threads << " thread" << (p.ceilings.threads == 1 ? "" : "s");
        if (!p.machine->measuredAt.empty()) out << ", measured " << p.machine->measuredAt;
        out << "\n";
    }

    std::vector<size_t> order(p.nodes.size());
    std::iota(order.begin(), order.end(), 0);
    // Leaf self time ranks nodes; a Loop's own overhead shows as its self time.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return p.nodes[a].selfMedianMs > p.nodes[b].selfMedianMs; });
    const size_t k = std::min(order.size(), static_cast<size_t>(std::max(0, topK)));
    out << "\nTop " << k << " nodes (self time)\n";
    out << pad("#", 4) << pad("node", 32) << pad("op", 20) << pad("ms", 10, false) << pad("%", 7, false)
        << pad("GFLOP/s", 10, false) << "  " << pad("bound", 8) << pad("%roof", 7, false) << "  "
        << pad("from", 9) << pad("kernel", 10) << "shapes\n";
    for (size_t r = 0; r < k; ++r) {
        const NodeProfile& n = p.nodes[order[r]];
        const double share = p.observedTotal.median > 0 ? 100.0 * n.selfMedianMs / p.observedTotal.median : 0;
        out << pad(std::to_string(r + 1), 4)
            << pad(std::string(static_cast<size_t>(n.depth) * 2, ' ') + n.name, 32) << pad(n.opType, 20)
            << pad(fixed(n.selfMedianMs, 3), 10, false) << pad(fixed(share, 1), 7, false)
            << pad(fixed(n.gflops, 1), 10, false) << "  " << pad(n.bound.empty() ? "-" : n.bound, 8)
            << pad(n.bound.empty() ? "-" : fixed(n.rooflinePercent, 0) + (n.rooflineNote.empty() ? "" : "!"), 7, false)
            << "  " << pad(n.memoryTier.empty() ? "-" : n.memoryTier, 9) << pad(n.kernelPath, 10)
            << shapesToString(n.inputShapes) << " -> "
            << shapesToString(n.outputShapes) << "\n";
    }
    // Nodes that measured above their roof: the table shows them at 100 % with a '!'.
    bool noted = false;
    for (size_t r = 0; r < k; ++r) {
        const NodeProfile& n = p.nodes[order[r]];
        if (n.rooflineNote.empty()) continue;
        if (!noted) out << "\n";
        noted = true;
        out << "! " << n.name << ": " << n.rooflineNote << "\n";
    }
    out << "\nBy op type\n";
    out << pad("op", 24) << pad("nodes", 7, false) << pad("ms", 10, false) << pad("%", 7, false)
        << pad("GFLOP/s", 10, false) << "  " << pad("bound", 8) << pad("%roof", 7, false) << "\n";
    for (const OpTypeProfile& t : p.opTypes)
        out << pad(t.opType, 24) << pad(std::to_string(t.count), 7, false)
            << pad(fixed(t.totalMs, 3), 10, false) << pad(fixed(100.0 * t.share, 1), 7, false)
            << pad(fixed(t.gflops, 1), 10, false) << "  " << pad(t.bound.empty() ? "-" : t.bound, 8)
            << pad(t.bound.empty() ? "-" : fixed(t.rooflinePercent, 0), 7, false) << "\n";
    if (!p.subgraphs.empty()) {
        out << "\nSubgraphs\n";
        for (const SubgraphProfile& s : p.subgraphs)
            out << "  " << s.name << " (" << s.opType << "): " << s.nodeCount << " nodes inside, "
                << fixed(s.totalMs, 3) << " ms, " << fixed(100.0 * s.share, 1) << "%\n";
    }
    return out.str();
}

Status writeTextFile(const std::string& path, const std::string& text) {
    // Temporary file + fsync + rename + directory fsync (util/atomic_file.h): a killed save leaves the old file.
    return util::writeFileAtomically(path, text);
}

} // namespace opstudio::profile
