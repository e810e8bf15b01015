#pragma once
// Profile exports: JSON (docs/profile-format.md), CSV (one row per node), Chrome trace event
// format (opens in Perfetto / chrome://tracing) and a readable text table.
#include "opstudio/profile/profiler.h"
#include "opstudio/util/error.h"

#include <nlohmann/json.hpp>

#include <string>

namespace opstudio::profile {

/// The documented JSON profile: nodes nested under their If/Loop/Scan node in "children".
nlohmann::json toJson(const Profile& profile);
/// CSV with a header row; one row per node (nested nodes too, with index/parent/depth columns).
std::string toCsv(const Profile& profile);
/// Chrome trace event format: {"traceEvents": [...]} with "X" slices per node call and per run.
nlohmann::json toChromeTrace(const Profile& profile);
/// Human-readable summary: totals, top-K nodes by time, and the op-type breakdown.
std::string formatTable(const Profile& profile, int topK = 15);
/// "1x3x224x224" for each shape, joined by ", " ("?" for unknown, "scalar" for rank 0).
std::string shapesToString(const std::vector<std::vector<int64_t>>& shapes);
/// Writes text to a file (atomically enough for reports: temporary + rename).
Status writeTextFile(const std::string& path, const std::string& text);

} // namespace opstudio::profile
