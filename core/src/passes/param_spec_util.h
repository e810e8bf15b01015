#pragma once
// Builders for pass parameter schemas, shared by every pass family (fusion, pruning, ...).
#include "opstudio/passes/pass.h"

#include <cstdint>
#include <string>
#include <vector>

namespace opstudio::passes {

ParamSpec boolParam(std::string name, std::string description, bool defaultValue);
ParamSpec intParam(std::string name, std::string description, int64_t min, int64_t max, int64_t value);
ParamSpec floatParam(std::string name, std::string description, double min, double max, double value);
ParamSpec enumParam(std::string name, std::string description, std::vector<std::string> choices,
                    std::string value);

} // namespace opstudio::passes
