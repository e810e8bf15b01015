// `opstudio-cli layout MODEL [--svg FILE] [--json [FILE]]`: the graph drawing the studio shows,
// as geometry for scripts (JSON) or a picture (SVG).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/layout/layout.h"

#include <fstream>
#include <iostream>

namespace opstudio::cli {

namespace {

struct LayoutRequest {
    std::string model;
    std::string svg;
    JsonOption json;
};

const char* kindName(layout::GraphLayoutInput::Kind kind) {
    switch (kind) {
    case layout::GraphLayoutInput::Kind::GraphInput:
        return "input";
    case layout::GraphLayoutInput::Kind::GraphOutput:
        return "output";
    case layout::GraphLayoutInput::Kind::Node:
        break;
    }
    return "node";
}

nlohmann::json describe(const ir::Graph& g, const layout::GraphLayoutInput& in,
                        const layout::LayoutResult& r) {
    nlohmann::json doc;
    auto nodes = nlohmann::json::array();
    for (size_t i = 0; i < in.items.size(); ++i) {
        const auto& item = in.items[i];
        nlohmann::json n;
        n["index"] = i;
        n["kind"] = kindName(item.kind);
        n["label"] = item.label;
        n["detail"] = item.detail;
        if (item.kind == layout::GraphLayoutInput::Kind::Node) {
            n["node_id"] = item.node;
            const ir::Node* node = g.node(item.node);
            n["name"] = node ? node->name : std::string();
        } else {
            n["name"] = item.value;
        }
        n["x"] = r.centers[i].x;
        n["y"] = r.centers[i].y;
        n["width"] = in.input.nodes[i].width;
        n["height"] = in.input.nodes[i].height;
        n["layer"] = r.layers[i];
        nodes.push_back(std::move(n));
    }
    auto edges = nlohmann::json::array();
    for (size_t e = 0; e < in.input.edges.size(); ++e) {
        nlohmann::json edge;
        edge["from"] = in.input.edges[e].from;
        edge["to"] = in.input.edges[e].to;
        edge["value"] = in.edgeValues[e];
        auto points = nlohmann::json::array();
        for (const auto& p : r.edges[e])
            points.push_back({p.x, p.y});
        edge["points"] = std::move(points);
        edges.push_back(std::move(edge));
    }
    doc["nodes"] = std::move(nodes);
    doc["edges"] = std::move(edges);
    doc["crossings"] = r.crossings;
    doc["layout_ms"] = r.layoutMs;
    doc["width"] = r.width;
    doc["height"] = r.height;
    return doc;
}

} // namespace

void addLayoutCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<LayoutRequest>();
    auto* cmd =
        app.add_subcommand("layout", "Lay out a model's graph (layered drawing): JSON geometry and/or SVG");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("--svg", request->svg, "Write the drawing as a self-contained SVG file");
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            const ir::Model model = loadModelOrThrow(request->model, /*inferShapes=*/true);
            const layout::GraphLayoutInput input = layout::buildGraphLayoutInput(*model.graph);
            const layout::LayoutResult result = layout::layoutGraph(input.input);
            if (!request->svg.empty()) {
                std::ofstream out(request->svg, std::ios::trunc | std::ios::binary);
                if (!out) throw CliError("cannot write SVG to '" + request->svg + "'");
                out << layout::toSvg(input, result);
                if (!out) throw CliError("cannot write SVG to '" + request->svg + "'");
            }
            if (request->json.requested()) {
                emitJson(request->json, describe(*model.graph, input, result));
            } else {
                std::cout << "boxes:     " << input.items.size() << "\n"
                          << "edges:     " << input.input.edges.size() << "\n"
                          << "crossings: " << result.crossings << "\n"
                          << "size:      " << result.width << " x " << result.height << " px\n"
                          << "layout:    " << result.layoutMs << " ms\n";
                if (!request->svg.empty()) std::cout << "svg:       " << request->svg << "\n";
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
