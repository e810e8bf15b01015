// `opstudio-cli info MODEL [--json [FILE]]`: what a model is made of, for people and scripts.
#include "cli/cli_util.h"
#include "cli/commands.h"

#include <cstdio>
#include <iostream>
#include <map>

namespace opstudio::cli {

namespace {

struct InfoRequest {
    std::string model;
    JsonOption json;
};

nlohmann::json ioJson(const ir::Graph& g, const std::vector<std::string>& names) {
    auto arr = nlohmann::json::array();
    for (const auto& name : names) {
        const ir::Value* v = g.findValue(name);
        nlohmann::json entry;
        entry["name"] = name;
        entry["dtype"] = v && v->dtype != ir::DType::Undefined ? std::string(ir::dtypeName(v->dtype))
                                                               : std::string("undefined");
        entry["shape"] = v ? shapeToJson(v->shape) : nlohmann::json(nullptr);
        arr.push_back(std::move(entry));
    }
    return arr;
}

std::string opKey(const ir::Node& n) {
    return n.domain.empty() ? n.opType : n.domain + ":" + n.opType;
}

nlohmann::json describe(const ir::Model& model) {
    const ir::Graph& g = *model.graph;
    nlohmann::json doc;
    doc["file"] = model.sourcePath;
    doc["producer"] = model.producerName;
    doc["producer_version"] = model.producerVersion;
    doc["ir_version"] = model.irVersion;
    nlohmann::json opsets = nlohmann::json::object();
    for (const auto& op : model.opsets)
        opsets[domainName(op.domain)] = op.version;
    doc["opsets"] = opsets;
    doc["nodes"] = g.nodeCount();
    doc["total_nodes"] = g.totalNodeCount();
    std::map<std::string, int64_t> histogram;
    g.forEachNode([&](const ir::Node& n) { histogram[opKey(n)]++; });
    nlohmann::json ops = nlohmann::json::object();
    for (const auto& [op, count] : histogram)
        ops[op] = count;
    doc["op_types"] = ops;
    doc["inputs"] = ioJson(g, g.realInputs());
    doc["outputs"] = ioJson(g, g.outputs);
    doc["initializers"] = g.initializers.size();
    doc["parameters"] = model.parameterCount();
    doc["weight_bytes"] = model.weightBytes();
    doc["subgraphs"] = g.subgraphCount();
    nlohmann::json metadata = nlohmann::json::object();
    for (const auto& [k, v] : model.metadata)
        metadata[k] = v;
    doc["metadata"] = metadata;
    return doc;
}

std::string shapeText(const nlohmann::json& shape) {
    if (shape.is_null()) return "?";
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        if (shape[i].is_null())
            s += "?";
        else if (shape[i].is_string())
            s += shape[i].get<std::string>();
        else
            s += std::to_string(shape[i].get<int64_t>());
    }
    return s + "]";
}

void printText(const nlohmann::json& doc) {
    auto& out = std::cout;
    out << "model:        " << doc["file"].get<std::string>() << "\n";
    out << "producer:     " << doc["producer"].get<std::string>() << " "
        << doc["producer_version"].get<std::string>() << "\n";
    out << "IR version:   " << doc["ir_version"] << "\n";
    out << "opsets:      ";
    for (const auto& [domain, version] : doc["opsets"].items())
        out << " " << domain << "=" << version;
    out << "\n";
    out << "nodes:        " << doc["nodes"] << " (" << doc["total_nodes"] << " with " << doc["subgraphs"]
        << " subgraphs)\n";
    out << "parameters:   " << doc["parameters"] << " (" << doc["weight_bytes"] << " bytes)\n";
    out << "inputs:\n";
    for (const auto& io : doc["inputs"])
        out << "  " << io["name"].get<std::string>() << "  " << io["dtype"].get<std::string>() << " "
            << shapeText(io["shape"]) << "\n";
    out << "outputs:\n";
    for (const auto& io : doc["outputs"])
        out << "  " << io["name"].get<std::string>() << "  " << io["dtype"].get<std::string>() << " "
            << shapeText(io["shape"]) << "\n";
    out << "op types:\n";
    for (const auto& [op, count] : doc["op_types"].items())
        out << "  " << op << ": " << count << "\n";
}

} // namespace

void addInfoCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<InfoRequest>();
    auto* cmd = app.add_subcommand("info", "Summarize a model: opsets, operators, inputs, outputs, weights");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            const ir::Model model = loadModelOrThrow(request->model);
            const nlohmann::json doc = describe(model);
            if (request->json.requested())
                emitJson(request->json, doc);
            else
                printText(doc);
            return 0;
        };
    });
}

} // namespace opstudio::cli
