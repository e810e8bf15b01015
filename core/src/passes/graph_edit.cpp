#include "opstudio/passes/graph_edit.h"

#include <algorithm>
#include <functional>
#include <set>
#include <unordered_set>

namespace opstudio::passes {

namespace {

void renameReads(ir::Graph& g, const std::string& from, const std::string& to, bool isOuter) {
    g.forEachNode([&](ir::Node& n) {
        for (auto& in : n.inputs)
            if (in == from) in = to;
        for (ir::Graph* sg : n.subgraphs()) {
            // A subgraph that defines the name itself shadows the outer one.
            bool shadows = std::find(sg->inputs.begin(), sg->inputs.end(), from) != sg->inputs.end() ||
                           sg->isInitializer(from);
            sg->forEachNode([&](const ir::Node& inner) {
                for (const auto& o : inner.outputs) shadows = shadows || o == from;
            });
            if (!shadows) renameReads(*sg, from, to, true);
        }
    });
    if (isOuter)
        for (auto& o : g.outputs)
            if (o == from) o = to;
}

void collectNames(const ir::Graph& g, std::unordered_set<std::string>& names) {
    for (const auto& [n, v] : g.values()) names.insert(n);
    g.forEachNode([&](const ir::Node& n) {
        names.insert(n.name);
        for (const auto& o : n.outputs) names.insert(o);
        for (ir::Graph* sg : n.subgraphs()) collectNames(*sg, names);
    });
}

} // namespace

void replaceAllUses(ir::Graph& g, const std::string& from, const std::string& to) {
    renameReads(g, from, to, false);
    for (auto& o : g.outputs)
        if (o == from) o = to;
    g.rebuildIndex();
}

std::string uniqueName(const ir::Graph& g, const std::string& base) {
    std::unordered_set<std::string> names;
    collectNames(g, names);
    for (const auto& [n, t] : g.initializers) names.insert(n);
    if (!names.count(base)) return base;
    for (int i = 1;; ++i) {
        const std::string candidate = base + "_" + std::to_string(i);
        if (!names.count(candidate)) return candidate;
    }
}

int useCount(const ir::Graph& g, const std::string& value) {
    int n = 0;
    std::function<void(const ir::Graph&)> count = [&](const ir::Graph& gr) {
        gr.forEachNode([&](const ir::Node& node) {
            for (const auto& in : node.inputs) n += in == value ? 1 : 0;
            for (ir::Graph* sg : node.subgraphs()) count(*sg);
        });
    };
    count(g);
    for (const auto& o : g.outputs) n += o == value ? 1 : 0;
    return n;
}

bool isGraphOutput(const ir::Graph& g, const std::string& value) {
    return std::find(g.outputs.begin(), g.outputs.end(), value) != g.outputs.end();
}

ir::Node* singleConsumer(ir::Graph& g, const std::string& value) {
    if (useCount(g, value) != 1 || isGraphOutput(g, value)) return nullptr;
    ir::Node* found = nullptr;
    g.forEachNode([&](ir::Node& n) {
        for (const auto& in : n.inputs)
            if (in == value) found = &n;
    });
    return found;
}

ir::Node* producerOf(ir::Graph& g, const std::string& value) {
    ir::Node* found = nullptr;
    g.forEachNode([&](ir::Node& n) {
        for (const auto& o : n.outputs)
            if (o == value) found = &n;
    });
    return found;
}

std::vector<ir::NodeId> mergeProvenance(const ir::Graph& g, const std::vector<ir::NodeId>& replaced) {
    std::set<ir::NodeId> out;
    for (ir::NodeId id : replaced) {
        const ir::Node* n = g.node(id);
        if (n && !n->provenance.empty()) out.insert(n->provenance.begin(), n->provenance.end());
        else out.insert(id);
    }
    return {out.begin(), out.end()};
}

std::string addInitializer(ir::Graph& g, const std::string& base, ir::Tensor t) {
    const std::string name = uniqueName(g, base);
    ir::Value& v = g.value(name);
    v.dtype = t.dtype();
    v.shape = ir::toValueShape(t.shape());
    v.hasType = true;
    g.initializers[name] = std::move(t);
    return name;
}

void removeUnusedInitializers(ir::Graph& g) {
    for (auto it = g.initializers.begin(); it != g.initializers.end();) {
        const bool isInput = std::find(g.inputs.begin(), g.inputs.end(), it->first) != g.inputs.end();
        if (!isInput && useCount(g, it->first) == 0) it = g.initializers.erase(it);
        else ++it;
    }
}

} // namespace opstudio::passes
