// What every report format shares: the model summary, the rankings and the atomic file write.
#include "opstudio/report/report.h"
#include "opstudio/util/atomic_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <unistd.h>

namespace opstudio::report {

ModelSummary summarize(const ir::Model& model, const std::string& name) {
    ModelSummary s;
    s.path = model.sourcePath;
    s.name = name;
    if (s.name.empty() && !model.sourcePath.empty())
        s.name = std::filesystem::path(model.sourcePath).filename().string();
    if (s.name.empty()) s.name = model.graph->name.empty() ? "model" : model.graph->name;
    s.producer = model.producerName;
    if (!model.producerVersion.empty()) s.producer += (s.producer.empty() ? "" : " ") + model.producerVersion;
    s.opsets = model.opsets;
    s.nodes = static_cast<int>(model.graph->nodeCount());
    s.totalNodes = static_cast<int>(model.graph->totalNodeCount());
    s.parameters = model.parameterCount();
    s.weightBytes = model.weightBytes();
    return s;
}

std::vector<size_t> topNodeIndices(const profile::Profile& p, int k) {
    std::vector<size_t> order(p.nodes.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return p.nodes[a].selfMedianMs > p.nodes[b].selfMedianMs; });
    order.resize(std::min(order.size(), static_cast<size_t>(std::max(0, k))));
    return order;
}

std::vector<OpTypeDelta> opTypeDeltas(const profile::Profile& before, const profile::Profile& after) {
    std::map<std::string, OpTypeDelta> byType;
    for (const auto& t : before.opTypes) {
        auto& d = byType[t.opType];
        d.opType = t.opType;
        d.beforeMs += t.totalMs;
        d.beforeCount += t.count;
    }
    for (const auto& t : after.opTypes) {
        auto& d = byType[t.opType];
        d.opType = t.opType;
        d.afterMs += t.totalMs;
        d.afterCount += t.count;
    }
    std::vector<OpTypeDelta> out;
    for (auto& [name, d] : byType)
        out.push_back(d);
    std::stable_sort(out.begin(), out.end(), [](const OpTypeDelta& a, const OpTypeDelta& b) {
        return a.beforeMs != b.beforeMs ? a.beforeMs > b.beforeMs : a.afterMs > b.afterMs;
    });
    return out;
}

std::string escapeHtml(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

Status writeFileAtomically(const std::string& path, const std::string& text) {
    // The one save mechanism (temporary file, fsync, rename, directory fsync): util/atomic_file.h.
    return util::writeFileAtomically(path, text);
}

} // namespace opstudio::report
