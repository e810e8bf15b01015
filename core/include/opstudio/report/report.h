#pragma once
// Reports for people: one self-contained HTML file (inline CSS, inline SVG charts, no scripts, no
// network), the same content as Markdown, and as JSON for scripts (docs/report.md).
#include "opstudio/compare/compare.h"
#include "opstudio/ir/graph.h"
#include "opstudio/passes/pass.h"
#include "opstudio/profile/profiler.h"
#include "opstudio/util/error.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace opstudio::report {

/// What the report says about a model file.
struct ModelSummary {
    std::string name; // shown as the title (file name or graph name)
    std::string path;
    std::string producer; // "pytorch 1.13"
    std::vector<ir::OpsetImport> opsets;
    int nodes = 0;      // main graph
    int totalNodes = 0; // including subgraph bodies
    int64_t parameters = 0;
    int64_t weightBytes = 0;
};
/// Summary of a loaded model; `name` defaults to the file name of model.sourcePath, else the graph name.
ModelSummary summarize(const ir::Model& model, const std::string& name = {});

/// Everything a report may show; only `model` and `profile` are required.
struct ReportData {
    std::string title; // default: "OpStudio report: <model name>"
    ModelSummary model;
    profile::Profile profile;
    std::optional<ModelSummary> optimizedModel;
    std::optional<profile::Profile> optimizedProfile;
    std::vector<passes::PassReport> passes;
    std::optional<compare::CompareResult> comparison;
    int topNodes = 10;
};

/// Indices into profile.nodes of the k nodes with the largest self time, slowest first.
std::vector<size_t> topNodeIndices(const profile::Profile& profile, int k);

/// One op type before and after optimization (self times; 0 where the type is absent).
struct OpTypeDelta {
    std::string opType;
    double beforeMs = 0, afterMs = 0;
    int beforeCount = 0, afterCount = 0;
};
/// Union of both profiles' op types, ordered by time before (then after), descending.
std::vector<OpTypeDelta> opTypeDeltas(const profile::Profile& before, const profile::Profile& after);

/// One HTML document (UTF-8), viewable offline in any browser.
std::string toHtml(const ReportData& data);
/// GitHub-flavoured Markdown with the same tables (charts are left out).
std::string toMarkdown(const ReportData& data);
/// {"format": "opstudio-report", "version": 1, "model", "profile", "optimized", "passes", "comparison"}.
nlohmann::json toJson(const ReportData& data);

/// Text escaped for HTML element content and attribute values.
std::string escapeHtml(const std::string& text);
/// Writes text through a temporary file in the same folder and a rename (no half-written reports).
Status writeFileAtomically(const std::string& path, const std::string& text);

} // namespace opstudio::report
