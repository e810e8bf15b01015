// `opstudio-cli optimize MODEL -o OUT.onnx`: load -> IR -> (passes) -> save.
// Passes come from core/passes: --preset, then --recipe, then each --pass, in that order.
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "opstudio/util/atomic_file.h"

#include "opstudio/calibrate/sources.h"
#include "opstudio/onnx/model_io.h"
#include "opstudio/passes/pipeline.h"

#include <fstream>
#include <sstream>

#include <iostream>

namespace opstudio::cli {

namespace {

struct OptimizeRequest {
    std::string model;
    std::string output;
    std::vector<std::string> passes;
    std::string preset;
    std::string recipe;
    std::string saveRecipe;
    std::string report;
    std::string externalData = "auto";
    bool noCheck = false;
    // Calibration sets for passes that run the model (at most one source).
    std::string calibrationDir;
    int64_t calibrationRandom = 0;
    std::string calibrationText;
    int64_t calibrationChunk = 128;
    int64_t calibrationMax = 0;
    int calibrationThreads = 1;
    JsonOption json;
};

/// Fills CalibrationData from --calibration DIR | --calibration-random N | --calibration-text FILE.
/// Returns false when none was given; `notes` gets what was loaded (and the random-data warning).
bool loadCalibration(const OptimizeRequest& request, const ir::Model& model, passes::CalibrationData& data,
                     std::vector<std::string>& notes) {
    const int sources = !request.calibrationDir.empty() + (request.calibrationRandom > 0) +
                        !request.calibrationText.empty();
    if (sources == 0) return false;
    if (sources > 1)
        throw CliError("give one of --calibration, --calibration-random and --calibration-text");
    Result<passes::CalibrationData> r = Error("no calibration source");
    if (!request.calibrationDir.empty()) {
        r = calibrate::loadCalibrationFolder(model, request.calibrationDir);
    } else if (request.calibrationRandom > 0) {
        r = calibrate::randomCalibration(model, request.calibrationRandom, /*seed=*/1);
        notes.push_back(std::string("warning: ") + calibrate::kRandomCalibrationWarning);
    } else {
        auto text = calibrate::readTextFile(request.calibrationText);
        if (!text.ok()) throw CliError(text.error().what());
        r = calibrate::textCalibration(model, text.value(), request.calibrationChunk, request.calibrationMax);
    }
    if (!r.ok()) throw r.error();
    data = std::move(r.value());
    if (request.calibrationMax > 0 && static_cast<int64_t>(data.feeds.size()) > request.calibrationMax)
        data.feeds.resize(static_cast<size_t>(request.calibrationMax));
    data.threads = request.calibrationThreads;
    notes.push_back("calibration: " + std::to_string(data.feeds.size()) + " sets");
    return true;
}

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CliError("cannot read recipe '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeText(const std::string& path, const std::string& text, const char* what) {
    const Status written = opstudio::util::writeFileAtomically(path, text);
    if (!written.ok())
        throw CliError(std::string("cannot write ") + what + ": " + std::string(written.error().what()));
}

/// --preset, then --recipe, then each --pass in order (the order docs/recipes.md promises).
passes::Pipeline buildPipeline(const OptimizeRequest& request) {
    passes::Pipeline pipeline;
    if (!request.preset.empty()) pipeline = passes::Pipeline::preset(request.preset);
    if (!request.recipe.empty()) {
        auto recipe = passes::Pipeline::fromJson(readText(request.recipe));
        if (!recipe.ok()) {
            Error e = recipe.error();
            if (e.context().file.empty()) e.context().file = request.recipe;
            throw e;
        }
        for (auto& step : recipe.value().steps)
            pipeline.steps.push_back(std::move(step));
    }
    for (const auto& spec : request.passes)
        pipeline.steps.push_back(passes::Pipeline::parseStep(spec));
    return pipeline;
}

nlohmann::json reportJson(const passes::PassReport& r) {
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& s : r.skipped)
        skipped.push_back({{"node", s.node}, {"op_type", s.opType}, {"reason", s.reason}});
    return {{"pass", r.pass},
            {"applied", r.applied},
            {"changed", r.changed()},
            {"nodes_before", r.nodesBefore},
            {"nodes_after", r.nodesAfter},
            {"nodes_removed", r.nodesRemoved},
            {"nodes_added", r.nodesAdded},
            {"weight_bytes_before", r.weightBytesBefore},
            {"weight_bytes_after", r.weightBytesAfter},
            {"bytes_saved", r.bytesSaved()},
            {"wall_ms", r.wallMs},
            {"skipped", skipped},
            {"notes", r.notes}};
}

} // namespace

void addOptimizeCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<OptimizeRequest>();
    auto* cmd =
        app.add_subcommand("optimize", "Apply passes to a model and save the result (never over the input)");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("-o,--output", request->output, "Output .onnx file")->required();
    cmd->add_option("--pass", request->passes, "Pass to apply, NAME[:key=value,...] (repeatable, in order)");
    cmd->add_option("--preset", request->preset, "Named pass pipeline");
    cmd->add_option("--recipe", request->recipe, "JSON recipe with passes and parameters (docs/recipes.md)");
    cmd->add_option("--save-recipe", request->saveRecipe, "Write the pipeline that was run as a JSON recipe");
    cmd->add_option("--report", request->report, "Write what every pass did as JSON");
    cmd->add_option("--external-data", request->externalData,
                    "Weights in OUT.onnx.data: auto (over 2 GB), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    cmd->add_flag("--no-check", request->noCheck, "Skip the ONNX checker on the result");
    cmd->add_option("--calibration", request->calibrationDir,
                    "Calibration sets: a folder of input_N.pb files, or of sub-folders holding them");
    cmd->add_option("--calibration-random", request->calibrationRandom,
                    "N seeded random calibration sets (real data gives better statistics)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--calibration-text", request->calibrationText,
                    "Text file for byte-level language models, cut into --calibration-chunk byte sets");
    cmd->add_option("--calibration-chunk", request->calibrationChunk, "Bytes per text calibration set (default 128)")
        ->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--calibration-max", request->calibrationMax, "Use at most N calibration sets (0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--calibration-threads", request->calibrationThreads, "Threads of the calibration runs")
        ->check(CLI::Range(1, 256));
    addJsonOption(*cmd, request->json);
    cmd->callback([request, &action] {
        action = [request] {
            ir::Model model = loadModelOrThrow(request->model);
            const size_t nodesBefore = model.graph->nodeCount();
            const passes::Pipeline pipeline = buildPipeline(*request);
            nlohmann::json applied = nlohmann::json::array();
            passes::CalibrationData calibration;
            std::vector<std::string> calibrationNotes;
            const bool calibrated = loadCalibration(*request, model, calibration, calibrationNotes);
            if (!request->json.requested())
                for (const auto& note : calibrationNotes)
                    std::cerr << note << "\n";
            if (!pipeline.steps.empty()) {
                auto reports = pipeline.run(model, nullptr, calibrated ? &calibration : nullptr);
                if (!reports.ok()) throw reports.error();
                for (const auto& r : reports.value())
                    applied.push_back(reportJson(r));
            }
            onnxio::SaveOptions options;
            options.check = !request->noCheck;
            std::vector<std::string> saveNotes;
            options.notes = &saveNotes;
            if (request->externalData == "always")
                options.externalData = onnxio::SaveOptions::ExternalData::Always;
            if (request->externalData == "never")
                options.externalData = onnxio::SaveOptions::ExternalData::Never;
            auto status = onnxio::saveModel(model, request->output, options);
            if (!status.ok()) {
                Error e = status.error();
                // Opsets the checker does not know are skipped (a note), so this is a real finding.
                if (std::string(e.what()).rfind("ONNX checker", 0) == 0)
                    throw Error(std::string(e.what()) + " (use --no-check to save anyway)", e.context());
                throw e;
            }
            if (request->noCheck) saveNotes.push_back("checker skipped: --no-check");
            if (!request->saveRecipe.empty()) writeText(request->saveRecipe, pipeline.toJson(), "recipe");
            if (!request->report.empty())
                writeText(request->report, nlohmann::json{{"passes", applied}}.dump(2) + "\n", "report");
            nlohmann::json doc;
            doc["input"] = request->model;
            doc["output"] = request->output;
            doc["passes"] = applied;
            doc["nodes_before"] = nodesBefore;
            doc["nodes_after"] = model.graph->nodeCount();
            doc["save_notes"] = saveNotes;
            doc["calibration"] = calibrationNotes;
            if (request->json.requested()) {
                emitJson(request->json, doc);
            } else {
                // What each pass did, in a line, plus its first notes and skip reasons (all of them: --report).
                for (const auto& r : applied) {
                    std::cout << r.value("pass", std::string()) << ": applied " << r.value("applied", 0);
                    if (r.contains("skipped") && !r["skipped"].empty())
                        std::cout << ", skipped " << r["skipped"].size();
                    std::cout << "\n";
                    int shown = 0;
                    if (r.contains("notes"))
                        for (const auto& n : r["notes"]) {
                            if (shown++ == 3) {
                                std::cout << "  ... (" << r["notes"].size() << " notes, all in --report)\n";
                                break;
                            }
                            std::cout << "  " << n.get<std::string>() << "\n";
                        }
                    shown = 0;
                    if (r.contains("skipped"))
                        for (const auto& sk : r["skipped"]) {
                            if (shown++ == 3) break;
                            std::cout << "  skipped " << sk.value("node", std::string()) << ": "
                                      << sk.value("reason", std::string()) << "\n";
                        }
                }
                std::cout << "wrote " << request->output << " (" << model.graph->nodeCount() << " nodes)\n";
                for (const auto& note : saveNotes)
                    std::cout << "note: " << note << "\n";
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
