#include "opstudio/passes/pipeline.h"

#include "onnx/onnx_internal.h"
#include "opstudio/onnx/model_io.h"
#include "opstudio/passes/graph_edit.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace opstudio::passes {

using json = nlohmann::json;

void Pipeline::add(const std::string& pass, const std::string& params) {
    steps.push_back(parseStep(params.empty() ? pass : pass + ":" + params));
}

PipelineStep Pipeline::parseStep(const std::string& spec) {
    const size_t colon = spec.find(':');
    const std::string name = spec.substr(0, colon);
    const PassInfo* info = PassRegistry::global().find(name);
    if (!info) throw Error("unknown pass '" + name + "' (opstudio-cli passes lists them)");
    PipelineStep step{name, Params(info->params)};
    if (colon == std::string::npos) return step;
    const std::string rest = spec.substr(colon + 1);
    size_t start = 0;
    while (start <= rest.size()) {
        const size_t comma = rest.find(',', start);
        const std::string kv = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!kv.empty()) {
            const size_t eq = kv.find('=');
            if (eq == std::string::npos) throw Error("pass '" + name + "': expected key=value, got '" + kv + "'");
            step.params.setFromString(kv.substr(0, eq), kv.substr(eq + 1));
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return step;
}

std::vector<std::string> Pipeline::presetNames() { return {"cleanup", "safe-fusions", "all-fusions"}; }

Pipeline Pipeline::preset(const std::string& name) {
    Pipeline p;
    const auto& passes = PassRegistry::global().passes();
    const bool cleanup = name == "cleanup" || name == "safe-fusions" || name == "all-fusions";
    if (!cleanup) throw Error("unknown preset '" + name + "' (presets: cleanup, safe-fusions, all-fusions)");
    for (const auto& info : passes)
        if (info.category == PassCategory::Cleanup) p.steps.push_back({info.name, Params(info.params)});
    if (name == "cleanup") return p;
    for (const auto& info : passes)
        if (info.category == PassCategory::Fusion && (name == "all-fusions" || info.exact))
            p.steps.push_back({info.name, Params(info.params)});
    // Fusions leave dead constants and Identity chains behind: clean up once more.
    for (const auto& info : passes)
        if (info.category == PassCategory::Cleanup) p.steps.push_back({info.name, Params(info.params)});
    return p;
}

std::string Pipeline::toJson() const {
    json passes = json::array();
    for (const auto& s : steps) {
        json params = json::object();
        for (const auto& [k, v] : s.params.values())
            std::visit([&](const auto& x) { params[k] = x; }, v);
        passes.push_back({{"name", s.pass}, {"params", params}});
    }
    return json{{"opstudio_recipe", 1}, {"passes", passes}}.dump(2);
}

Result<Pipeline> Pipeline::fromJson(const std::string& text) {
    try {
        const json j = json::parse(text);
        if (!j.is_object() || !j.contains("passes") || !j["passes"].is_array())
            throw Error("recipe must be an object with a \"passes\" array");
        Pipeline p;
        for (const auto& e : j["passes"]) {
            if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
                throw Error("every recipe entry needs a \"name\"");
            PipelineStep step = parseStep(e["name"].get<std::string>());
            if (e.contains("params")) {
                if (!e["params"].is_object()) throw Error("\"params\" of '" + step.pass + "' must be an object");
                for (const auto& [k, v] : e["params"].items()) {
                    if (v.is_boolean()) step.params.set(k, v.get<bool>());
                    else if (v.is_number_integer()) step.params.set(k, v.get<int64_t>());
                    else if (v.is_number()) step.params.set(k, v.get<double>());
                    else if (v.is_string()) step.params.setFromString(k, v.get<std::string>());
                    else if (v.is_array()) step.params.set(k, v.get<std::vector<std::string>>());
                    else throw Error("parameter '" + k + "' of '" + step.pass + "' has an unsupported JSON type");
                }
            }
            p.steps.push_back(std::move(step));
        }
        return p;
    } catch (const Error& e) {
        return Error("bad recipe: " + e.describe());
    } catch (const std::exception& e) {
        return Error(std::string("bad recipe: ") + e.what());
    }
}

namespace {

/// After every pass: the graph is structurally valid, and every standard-domain node the pass wrote
/// exists at the model's opsets (a fusion that writes LayerNormalization into opset 9 is a pass bug,
/// caught here with the node's name instead of by the checker at save time).
void refreshGraph(ir::Model& model, const std::unordered_set<ir::NodeId>& before) {
    ir::Graph& g = *model.graph;
    g.rebuildIndex();
    onnxio::detail::validateGraph(g, model, {}, {});
    g.rebuildIndex();
    std::unordered_set<ir::NodeId> added;
    for (ir::NodeId id : g.order())
        if (!before.count(id)) added.insert(id);
    if (!added.empty()) {
        try {
            onnxio::detail::checkOpsExistAtOpsets(g, model, &added);
        } catch (const Error& e) {
            throw Error(std::string("wrote a node that is invalid at the model's opsets: ") + e.what(), e.context());
        }
    }
    onnxio::inferShapes(model);
}

} // namespace

Result<std::vector<PassReport>> Pipeline::run(ir::Model& model, PassInstrument* instrument,
                                              const CalibrationData* calibration,
                                              std::function<bool()> cancelled) const {
    std::vector<PassReport> reports;
    for (const auto& step : steps) {
        const PassInfo* info = PassRegistry::global().find(step.pass);
        if (!info) return Error("unknown pass '" + step.pass + "'");
        PassReport report;
        report.pass = info->name;
        report.nodesBefore = static_cast<int>(model.graph->nodeCount());
        report.weightBytesBefore = model.weightBytes();
        std::unordered_set<ir::NodeId> before;
        for (ir::NodeId id : model.graph->order()) before.insert(id);
        if (instrument) instrument->beforePass(*info, model);
        const auto t0 = std::chrono::steady_clock::now();
        try {
            auto pass = info->create();
            PassContext ctx{model, step.params, report, calibration};
            if (cancelled) ctx.cancelled = cancelled;
            pass->run(ctx);
            refreshGraph(model, before);
        } catch (const Error& e) {
            return Error("pass '" + info->name + "' failed: " + e.describe());
        } catch (const std::exception& e) {
            return Error("pass '" + info->name + "' failed: " + e.what());
        }
        report.wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        report.nodesAfter = static_cast<int>(model.graph->nodeCount());
        report.weightBytesAfter = model.weightBytes();
        std::unordered_set<ir::NodeId> after(model.graph->order().begin(), model.graph->order().end());
        for (ir::NodeId id : before) report.nodesRemoved += after.count(id) ? 0 : 1;
        for (ir::NodeId id : after) report.nodesAdded += before.count(id) ? 0 : 1;
        if (!report.changed() && report.skipped.empty() && report.notes.empty())
            report.notes.push_back("nothing to do: no candidate for this pass in the model");
        if (instrument) instrument->afterPass(*info, model, report);
        reports.push_back(std::move(report));
    }
    return reports;
}

} // namespace opstudio::passes
