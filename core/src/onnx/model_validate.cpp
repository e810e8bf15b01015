// Structural validation of an imported graph: what the runtime and the passes rely on; and what
// the libonnx checker can and cannot judge (it knows only the opsets it was built with).
#include "onnx_internal.h"

#include <onnx/defs/schema.h>

#include <unordered_map>

namespace opstudio::onnxio::detail {

int64_t opsetOf(const ir::Model& model, const std::string& domain) {
    const bool isDefault = domain.empty() || domain == "ai.onnx";
    for (const auto& op : model.opsets)
        if (op.domain == domain || (isDefault && (op.domain.empty() || op.domain == "ai.onnx")))
            return op.version;
    return 0;
}

int64_t checkerMaxOpset(const std::string& domain) {
    const std::string d = domain == "ai.onnx" ? std::string() : domain;
    const auto& map = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    auto it = map.find(d);
    return it == map.end() ? 0 : it->second.second;
}

namespace {

std::string domainLabel(const std::string& domain) {
    return domain.empty() || domain == "ai.onnx" ? std::string("ai.onnx") : domain;
}

bool isStandardDomain(const std::string& domain) {
    return domain.empty() || domain == "ai.onnx" || domain == "ai.onnx.ml";
}

Error nodeError(const std::string& message, const ir::Node& node, const ir::Model& model) {
    ErrorContext ctx;
    ctx.node = node.name;
    ctx.opType = node.opType;
    ctx.domain = node.domain;
    ctx.opset = static_cast<int>(opsetOf(model, node.domain));
    return Error(message, std::move(ctx));
}

std::unordered_set<std::string> sparseNamesOf(const ir::Graph& g) {
    std::unordered_set<std::string> names;
    for (const auto& raw : g.sparseInitializersRaw) {
        onnx::SparseTensorProto sp;
        if (sp.ParseFromString(raw)) names.insert(sp.values().name());
    }
    return names;
}

} // namespace

void validateGraph(ir::Graph& graph, const ir::Model& model,
                   const std::unordered_set<std::string>& outerScope,
                   const std::unordered_set<std::string>& sparseNames) {
    // Where each name comes from, to report a second definition precisely.
    std::unordered_map<std::string, std::string> definedBy;
    for (const auto& [name, t] : graph.initializers)
        definedBy.emplace(name, "an initializer");
    for (const auto& name : sparseNames)
        if (!definedBy.emplace(name, "a sparse initializer").second)
            throw Error("value '" + name + "' is defined twice (sparse initializer and initializer)");
    for (const auto& name : graph.inputs) {
        if (name.empty()) throw Error("graph '" + graph.name + "' has an input without a name");
        auto [it, inserted] = definedBy.emplace(name, "a graph input");
        // Old IR versions list initializers among the inputs: that is not a redefinition.
        if (!inserted && it->second != "an initializer")
            throw Error("value '" + name + "' is defined twice (" + it->second + " and a graph input)");
    }
    for (ir::NodeId id : graph.order()) {
        const ir::Node& node = *graph.node(id);
        if (node.opType.empty()) throw nodeError("node has no op type", node, model);
        if (opsetOf(model, node.domain) == 0)
            throw nodeError("no opset import for domain '" +
                                (node.domain.empty() ? std::string("ai.onnx") : node.domain) +
                                "' used by node '" + node.name + "' (" + node.opType + ")",
                            node, model);
        for (const auto& out : node.outputs) {
            if (out.empty()) continue;
            auto [it, inserted] =
                definedBy.emplace(out, "output of node '" + node.name + "' (" + node.opType + ")");
            if (!inserted)
                throw nodeError("value '" + out + "' is defined twice: " + it->second +
                                    " and output of node '" + node.name + "' (" + node.opType + ")",
                                node, model);
        }
    }
    for (ir::NodeId id : graph.order()) {
        const ir::Node& node = *graph.node(id);
        for (const auto& in : node.inputs) {
            if (in.empty() || definedBy.count(in) || outerScope.count(in)) continue;
            throw nodeError("input '" + in + "' of node '" + node.name + "' (" + node.opType +
                                ") is never defined",
                            node, model);
        }
    }
    for (const auto& out : graph.outputs) {
        if (out.empty()) throw Error("graph '" + graph.name + "' has an output without a name");
        if (!definedBy.count(out) && !outerScope.count(out))
            throw Error("graph output '" + out + "' is never defined");
    }

    // Subgraphs see everything defined here plus what their parents see.
    bool hasSubgraphs = false;
    for (ir::NodeId id : graph.order())
        if (!graph.node(id)->subgraphs().empty()) hasSubgraphs = true;
    if (hasSubgraphs) {
        std::unordered_set<std::string> scope = outerScope;
        for (const auto& [name, how] : definedBy)
            scope.insert(name);
        for (ir::NodeId id : graph.order()) {
            ir::Node& node = *graph.node(id);
            for (ir::Graph* sub : node.subgraphs()) {
                try {
                    validateGraph(*sub, model, scope, sparseNamesOf(*sub));
                } catch (Error& e) {
                    if (e.context().node.empty()) {
                        e.context().node = node.name;
                        e.context().opType = node.opType;
                    }
                    std::string where = "in a subgraph of node '" + node.name + "' (" + node.opType + "): ";
                    throw Error(where + e.what(), e.context());
                }
            }
        }
    }

    // Every name is defined, so a failing sort means a cycle.
    std::vector<std::string> outer(outerScope.begin(), outerScope.end());
    try {
        graph.topologicalSort(outer);
    } catch (const Error& e) {
        throw Error(std::string("the graph has a cycle: ") + e.what(), e.context());
    }
    graph.rebuildIndex();
}

int64_t schemaSinceVersion(const std::string& opType, const std::string& domain, int64_t opset) {
    const std::string d = domain == "ai.onnx" ? std::string() : domain;
    const auto* schema = onnx::OpSchemaRegistry::Instance()->GetSchema(opType, static_cast<int>(opset), d);
    return schema ? schema->SinceVersion() : 0;
}

void checkOpsExistAtOpsets(const ir::Graph& graph, const ir::Model& model,
                           const std::unordered_set<ir::NodeId>* only) {
    for (ir::NodeId id : graph.order()) {
        const ir::Node& node = *graph.node(id);
        if (!only)
            for (ir::Graph* sub : node.subgraphs()) checkOpsExistAtOpsets(*sub, model, nullptr);
        if (only && !only->count(id)) continue;
        if (!isStandardDomain(node.domain)) continue; // custom domains (com.microsoft): ORT's business
        const int64_t opset = opsetOf(model, node.domain);
        const int64_t known = checkerMaxOpset(node.domain == "ai.onnx" ? "" : node.domain);
        // A newer opset than libonnx knows may have added the op: nothing to judge there.
        if (opset <= 0 || opset > known) continue;
        const std::string domain = node.domain == "ai.onnx" ? std::string() : node.domain;
        const auto* registry = onnx::OpSchemaRegistry::Instance();
        if (registry->GetSchema(node.opType, static_cast<int>(opset), domain)) continue;
        int64_t since = 0;
        for (int64_t v = opset + 1; v <= known && since == 0; ++v)
            if (registry->GetSchema(node.opType, static_cast<int>(v), domain)) since = v;
        throw nodeError("node '" + node.name + "' (" + node.opType + ") does not exist in " +
                            domainLabel(node.domain) + " opset " + std::to_string(opset) +
                            (since ? " (it was added in opset " + std::to_string(since) + ")"
                                   : " (no such operator in " + domainLabel(node.domain) + ")"),
                        node, model);
    }
}

} // namespace opstudio::onnxio::detail

namespace opstudio::onnxio {

std::optional<std::string> checkerSkipReason(const ir::Model& model) {
    for (const auto& op : model.opsets) {
        if (!op.domain.empty() && op.domain != "ai.onnx" && op.domain != "ai.onnx.ml") continue;
        const int64_t known = detail::checkerMaxOpset(op.domain == "ai.onnx" ? "" : op.domain);
        if (op.version > known) {
            const bool isDefault = op.domain.empty() || op.domain == "ai.onnx";
            return "checker skipped: " + std::string(isDefault ? "" : op.domain + " ") + "opset " +
                   std::to_string(op.version) + " is newer than the checker (" + std::to_string(known) + ")";
        }
    }
    return std::nullopt;
}

Status validateModel(const ir::Model& model) {
    try {
        // validateGraph sorts what it checks: work on a copy (tensors are shared, not copied).
        ir::Model copy = model.clone();
        std::unordered_set<std::string> sparse;
        for (const auto& raw : copy.graph->sparseInitializersRaw) {
            onnx::SparseTensorProto sp;
            if (sp.ParseFromString(raw)) sparse.insert(sp.values().name());
        }
        detail::validateGraph(*copy.graph, copy, {}, sparse);
        return Status::success();
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        return Error(std::string("cannot validate the model: ") + e.what());
    }
}

} // namespace opstudio::onnxio
