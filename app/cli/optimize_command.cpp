// `opstudio-cli optimize MODEL -o OUT.onnx`: load -> IR -> (passes) -> save.
// The pipeline step is where --pass/--preset/--recipe plug in once core/passes exists.
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/onnx/model_io.h"

#include <iostream>

namespace opstudio::cli {

namespace {

struct OptimizeRequest {
    std::string model;
    std::string output;
    std::vector<std::string> passes;
    std::string preset;
    std::string recipe;
    std::string externalData = "auto";
    bool noCheck = false;
    JsonOption json;
};

/// Applies the requested optimizations. With none requested the model goes through unchanged,
/// which makes `optimize` a faithful load/save round trip.
nlohmann::json applyPipeline(ir::Model& model, const OptimizeRequest& request) {
    nlohmann::json applied = nlohmann::json::array();
    if (!request.passes.empty()) throw CliError("unknown pass '" + request.passes.front() + "'");
    if (!request.preset.empty()) throw CliError("unknown preset '" + request.preset + "'");
    if (!request.recipe.empty())
        throw CliError("recipes are not supported by this build ('" + request.recipe + "')");
    return applied;
}

} // namespace

void addOptimizeCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<OptimizeRequest>();
    auto* cmd =
        app.add_subcommand("optimize", "Apply passes to a model and save the result (never over the input)");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("-o,--output", request->output, "Output .onnx file")->required();
    cmd->add_option("--pass", request->passes, "Pass to apply (repeatable, in order)");
    cmd->add_option("--preset", request->preset, "Named pass pipeline");
    cmd->add_option("--recipe", request->recipe, "JSON recipe with passes and parameters");
    cmd->add_option("--external-data", request->externalData,
                    "Weights in OUT.onnx.data: auto (over 2 GB), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    cmd->add_flag("--no-check", request->noCheck, "Skip the ONNX checker on the result");
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            ir::Model model = loadModelOrThrow(request->model);
            const size_t nodesBefore = model.graph->nodeCount();
            nlohmann::json applied = applyPipeline(model, *request);
            onnxio::SaveOptions options;
            options.check = !request->noCheck;
            if (request->externalData == "always")
                options.externalData = onnxio::SaveOptions::ExternalData::Always;
            if (request->externalData == "never")
                options.externalData = onnxio::SaveOptions::ExternalData::Never;
            auto status = onnxio::saveModel(model, request->output, options);
            if (!status.ok()) {
                Error e = status.error();
                // Debian's checker only knows opsets <= 17; newer models need the escape hatch.
                if (std::string(e.what()).rfind("ONNX checker", 0) == 0)
                    throw Error(std::string(e.what()) + " (use --no-check to save anyway)", e.context());
                throw e;
            }
            nlohmann::json doc;
            doc["input"] = request->model;
            doc["output"] = request->output;
            doc["passes"] = applied;
            doc["nodes_before"] = nodesBefore;
            doc["nodes_after"] = model.graph->nodeCount();
            if (request->json.requested())
                emitJson(request->json, doc);
            else
                std::cout << "wrote " << request->output << " (" << model.graph->nodeCount() << " nodes)\n";
            return 0;
        };
    });
}

} // namespace opstudio::cli
