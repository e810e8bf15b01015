// `opstudio-cli passes [--json [FILE]]`: every pass with its category, description and typed
// parameters (the same schema the studio builds its forms from).
#include "cli/cli_util.h"
#include "cli/commands.h"

#include "opstudio/passes/pipeline.h"

#include <iomanip>
#include <iostream>
#include <sstream>

namespace opstudio::cli {

namespace {

nlohmann::json paramToJson(const passes::ParamSpec& p) {
    nlohmann::json j;
    j["name"] = p.name;
    j["type"] = std::string(passes::paramTypeName(p.type));
    j["description"] = p.description;
    std::visit([&](const auto& v) { j["default"] = v; }, p.defaultValue);
    if (p.type == passes::ParamSpec::Type::Int || p.type == passes::ParamSpec::Type::Float) {
        j["min"] = p.min;
        j["max"] = p.max;
    }
    if (p.type == passes::ParamSpec::Type::Enum) j["choices"] = p.choices;
    return j;
}

std::string defaultText(const passes::ParamSpec& p) {
    std::ostringstream out;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) out << (v ? "true" : "false");
            else if constexpr (std::is_same_v<T, std::vector<std::string>>) out << (v.empty() ? "[]" : "[...]");
            else out << v;
        },
        p.defaultValue);
    return out.str();
}

} // namespace

void addPassesCommand(CLI::App& app, CommandAction& action) {
    auto json = std::make_shared<JsonOption>();
    auto* cmd = app.add_subcommand("passes", "List optimization passes, their parameters and the presets");
    addJsonOption(*cmd, *json);
    cmd->callback([json, &action] {
        action = [json] {
            const auto& all = passes::PassRegistry::global().passes();
            if (json->requested()) {
                nlohmann::json doc = nlohmann::json::array();
                for (const auto& info : all) {
                    nlohmann::json params = nlohmann::json::array();
                    for (const auto& p : info.params) params.push_back(paramToJson(p));
                    doc.push_back({{"name", info.name},
                                   {"category", std::string(passes::categoryName(info.category))},
                                   {"description", info.description},
                                   {"exact", info.exact},
                                   {"params", params}});
                }
                emitJson(*json, doc);
                return 0;
            }
            for (const auto category : {passes::PassCategory::Cleanup, passes::PassCategory::Fusion,
                                        passes::PassCategory::Quantization, passes::PassCategory::Pruning}) {
                bool header = false;
                for (const auto& info : all) {
                    if (info.category != category) continue;
                    if (!header) {
                        std::cout << passes::categoryName(category) << ":\n";
                        header = true;
                    }
                    std::cout << "  " << std::left << std::setw(26) << info.name << info.description
                              << (info.exact ? "" : "  [lossy within a budget]") << "\n";
                    for (const auto& p : info.params) {
                        std::cout << "      " << p.name << " (" << passes::paramTypeName(p.type);
                        if (p.type == passes::ParamSpec::Type::Int)
                            std::cout << " " << static_cast<int64_t>(p.min) << ".." << static_cast<int64_t>(p.max);
                        if (p.type == passes::ParamSpec::Type::Float) std::cout << " " << p.min << ".." << p.max;
                        if (p.type == passes::ParamSpec::Type::Enum) {
                            std::cout << ":";
                            for (const auto& c : p.choices) std::cout << " " << c;
                        }
                        std::cout << ", default " << defaultText(p) << ")  " << p.description << "\n";
                    }
                }
            }
            std::cout << "presets:";
            for (const auto& p : passes::Pipeline::presetNames()) std::cout << " " << p;
            std::cout << "\n";
            return 0;
        };
    });
}

} // namespace opstudio::cli
