// `opstudio-cli report MODEL [--optimized OPT.onnx | --preset P --recipe R --pass SPEC...] [--runs N]
// [--warmup N] [--threads N] [--dim NAME=VALUE]...
//  [--inputs DIR] [--seed S] [-o REPORT.html] [--markdown FILE] [--json [FILE]] [--no-roofline]`:
// profiles the model (and the optimized one, loaded or made here by running passes), compares them
// when both are given and writes one self-contained HTML report (docs/report.md).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/compare/compare.h"
#include "opstudio/passes/pipeline.h"
#include "opstudio/profile/machine.h"
#include "opstudio/profile/profiler.h"
#include "opstudio/report/report.h"
#include "opstudio/runtime/session.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;

namespace opstudio::cli {

namespace {

struct ReportRequest {
    std::string model;
    std::string optimized;
    std::string preset;
    std::string recipe;
    std::vector<std::string> passes;
    int runs = 20;
    int warmup = 3;
    int threads = 1;
    std::vector<std::string> dims;
    std::string inputs;
    uint64_t seed = 1;
    std::string html;
    std::string markdown;
    JsonOption json;
    bool noRoofline = false;
    int top = 10;
};

profile::Profile profileModel(std::shared_ptr<const ir::Model> model, const std::string& path,
                              const std::map<std::string, ir::Tensor>& feeds, const ReportRequest& r,
                              const std::optional<profile::MachineInfo>& machine) {
    rt::SessionOptions so;
    so.threads = r.threads;
    so.dims = parseDims(r.dims);
    auto session = rt::Session::create(std::move(model), so);
    if (!session.ok()) throw session.error();
    profile::ProfileOptions po;
    po.runs = r.runs;
    po.warmup = r.warmup;
    po.recordTrace = false;
    po.machine = machine;
    // The optimized model may have dropped inputs it no longer reads.
    std::map<std::string, ir::Tensor> own;
    for (const auto& in : session.value()->inputs()) {
        const auto it = feeds.find(in.name);
        if (it == feeds.end())
            throw CliError("'" + path + "' has an input '" + in.name + "' the model does not have");
        own.emplace(in.name, it->second);
    }
    auto p = profile::Profiler(*session.value(), po).run(own);
    if (!p.ok()) throw p.error();
    p->model = path;
    return std::move(p).value();
}

/// --preset, then --recipe, then each --pass (the order of `optimize`, docs/recipes.md).
passes::Pipeline buildPipeline(const ReportRequest& r) {
    passes::Pipeline pipeline;
    if (!r.preset.empty()) pipeline = passes::Pipeline::preset(r.preset);
    if (!r.recipe.empty()) {
        std::ifstream in(r.recipe, std::ios::binary);
        if (!in) throw CliError("cannot read recipe '" + r.recipe + "'");
        std::stringstream text;
        text << in.rdbuf();
        auto recipe = passes::Pipeline::fromJson(text.str());
        if (!recipe.ok()) {
            Error e = recipe.error();
            if (e.context().file.empty()) e.context().file = r.recipe;
            throw e;
        }
        for (auto& step : recipe.value().steps)
            pipeline.steps.push_back(std::move(step));
    }
    for (const auto& spec : r.passes)
        pipeline.steps.push_back(passes::Pipeline::parseStep(spec));
    return pipeline;
}

void writeOrThrow(const std::string& path, const std::string& text) {
    const Status s = report::writeFileAtomically(path, text);
    if (!s.ok()) throw s.error();
}

} // namespace

void addReportCommand(CLI::App& app, CommandAction& action) {
    auto request = std::make_shared<ReportRequest>();
    auto* cmd = app.add_subcommand(
        "report", "Profile a model (and its optimized version), compare them and write an HTML report");
    cmd->add_option("model", request->model, "ONNX model file")->required();
    cmd->add_option("--optimized", request->optimized,
                    "Optimized version of the model: profiled and compared");
    cmd->add_option("--preset", request->preset,
                    "Optimize here with a named pass pipeline (instead of --optimized)");
    cmd->add_option("--recipe", request->recipe, "Optimize here with a JSON recipe (docs/recipes.md)");
    cmd->add_option("--pass", request->passes,
                    "Optimize here with a pass NAME[:key=value,...] (repeatable, in order)");
    cmd->add_option("--runs", request->runs, "Timed runs per model (default 20)")->check(CLI::PositiveNumber);
    cmd->add_option("--warmup", request->warmup, "Warm-up runs per model (default 3)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", request->threads, "Threads (0: all cores; default 1)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--dim", request->dims, "Symbolic dimension value NAME=VALUE (repeatable)");
    cmd->add_option("--inputs", request->inputs, "Folder with input_N.pb (default: seeded random inputs)");
    cmd->add_option("--seed", request->seed, "Seed for random inputs (default 1)");
    cmd->add_option("-o,--output", request->html, "HTML report file (default: MODEL's name + .report.html)");
    cmd->add_option("--markdown", request->markdown, "Also write the report as Markdown to FILE");
    addJsonOption(*cmd, request->json);
    cmd->add_option("--top", request->top, "Nodes in the top-nodes tables (default 10)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--no-roofline", request->noRoofline, "Skip the machine ceilings and the roofline columns");
    cmd->callback([request, &action] {
        action = [request] {
            const ReportRequest& r = *request;
            auto model = std::make_shared<ir::Model>(loadModelOrThrow(r.model));
            std::shared_ptr<ir::Model> optimized;
            std::string optimizedName = r.optimized;
            std::vector<passes::PassReport> passReports;
            const passes::Pipeline pipeline = buildPipeline(r);
            if (!pipeline.steps.empty() && !r.optimized.empty())
                throw CliError("give either --optimized or passes (--preset, --recipe, --pass), not both");
            if (!r.optimized.empty()) optimized = std::make_shared<ir::Model>(loadModelOrThrow(r.optimized));
            if (!pipeline.steps.empty()) {
                // Optimized in memory: node provenance survives, so the divergence search can map
                // fused nodes to the original ones even when they got fresh names.
                optimized = std::make_shared<ir::Model>(model->clone());
                auto reports = pipeline.run(*optimized);
                if (!reports.ok()) throw reports.error();
                passReports = std::move(reports).value();
                optimizedName = fs::path(r.model).stem().string() + " (optimized)";
            }

            std::map<std::string, ir::Tensor> feeds;
            {
                rt::SessionOptions so;
                so.dims = parseDims(r.dims);
                auto session = rt::Session::create(model, so);
                if (!session.ok()) throw session.error();
                feeds = r.inputs.empty() ? rt::randomFeeds(*session.value(), r.seed)
                                         : readFeedFolder(*session.value(), r.inputs);
            }
            std::optional<profile::MachineInfo> machine;
            if (!r.noRoofline) machine = profile::machineCeilings(false);

            report::ReportData data;
            data.topNodes = r.top;
            data.model = report::summarize(*model, fs::path(r.model).filename().string());
            data.profile = profileModel(model, r.model, feeds, r, machine);
            if (optimized) {
                data.optimizedModel =
                    report::summarize(*optimized, fs::path(optimizedName).filename().string());
                data.optimizedProfile = profileModel(optimized, optimizedName, feeds, r, machine);
                data.passes = passReports;
                compare::CompareOptions co;
                co.threads = r.threads;
                co.dims = parseDims(r.dims);
                co.runs = r.runs;
                co.warmup = r.warmup;
                auto c = compare::compareModels(model, optimized, feeds, co);
                if (!c.ok()) throw c.error();
                data.comparison = std::move(c).value();
            }

            std::string htmlPath = r.html;
            if (htmlPath.empty()) {
                fs::path p(r.model);
                htmlPath = (p.parent_path() / (p.stem().string() + ".report.html")).string();
            }
            std::vector<std::string> written;
            writeOrThrow(htmlPath, report::toHtml(data));
            written.push_back(htmlPath);
            if (!r.markdown.empty()) {
                writeOrThrow(r.markdown, report::toMarkdown(data));
                written.push_back(r.markdown);
            }
            const bool jsonToStdout = r.json.requested() && (r.json.file.empty() || r.json.file == "-");
            if (r.json.requested()) {
                const auto doc = report::toJson(data);
                if (jsonToStdout)
                    emitJson(r.json, doc);
                else {
                    writeOrThrow(r.json.file, doc.dump(2) + "\n");
                    written.push_back(r.json.file);
                }
            }
            if (!jsonToStdout) {
                std::cout << "median " << data.profile.total.median << " ms";
                if (data.optimizedProfile)
                    std::cout << ", optimized " << data.optimizedProfile->total.median << " ms (speedup "
                              << (data.optimizedProfile->total.median > 0
                                      ? data.profile.total.median / data.optimizedProfile->total.median
                                      : 0)
                              << "x)";
                std::cout << "; wrote";
                for (const auto& f : written)
                    std::cout << " " << f;
                std::cout << "\n";
            }
            return 0;
        };
    });
}

} // namespace opstudio::cli
