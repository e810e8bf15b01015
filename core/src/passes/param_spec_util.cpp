#include "passes/param_spec_util.h"

namespace opstudio::passes {

ParamSpec boolParam(std::string name, std::string description, bool defaultValue) {
    return {std::move(name), ParamSpec::Type::Bool, std::move(description), 0, 0, {}, defaultValue};
}

ParamSpec intParam(std::string name, std::string description, int64_t min, int64_t max, int64_t value) {
    return {std::move(name),
            ParamSpec::Type::Int,
            std::move(description),
            static_cast<double>(min),
            static_cast<double>(max),
            {},
            value};
}

ParamSpec floatParam(std::string name, std::string description, double min, double max, double value) {
    return {std::move(name), ParamSpec::Type::Float, std::move(description), min, max, {}, value};
}

ParamSpec enumParam(std::string name, std::string description, std::vector<std::string> choices,
                    std::string value) {
    return {std::move(name),    ParamSpec::Type::Enum, std::move(description), 0, 0,
            std::move(choices), std::move(value)};
}

} // namespace opstudio::passes
