#pragma once
// CompareResult for scripts (JSON, docs/compare.md) and for people (a text table).
#include "opstudio/compare/compare.h"

#include <nlohmann/json.hpp>

#include <string>

namespace opstudio::compare {

/// {"a_ms", "b_ms", "speedup", "a_weight_bytes", "b_weight_bytes", "a_nodes", "b_nodes",
///  "outputs": [...], "first_divergence": {...} (only when one was found)}.
nlohmann::json toJson(const CompareResult& result);
/// Latency, sizes, one row per output and the first divergence, for a terminal.
std::string formatTable(const CompareResult& result);

} // namespace opstudio::compare
