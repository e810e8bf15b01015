#include "opstudio/passes/pass.h"

#include "passes/all_passes.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace opstudio::passes {

std::string_view categoryName(PassCategory c) {
    switch (c) {
    case PassCategory::Cleanup: return "cleanup";
    case PassCategory::Fusion: return "fusion";
    case PassCategory::Quantization: return "quantization";
    case PassCategory::Pruning: return "pruning";
    }
    return "unknown";
}

std::string_view paramTypeName(ParamSpec::Type t) {
    switch (t) {
    case ParamSpec::Type::Bool: return "bool";
    case ParamSpec::Type::Int: return "int";
    case ParamSpec::Type::Float: return "float";
    case ParamSpec::Type::Enum: return "enum";
    case ParamSpec::Type::NodeList: return "node_list";
    }
    return "unknown";
}

const ParamSpec& Params::spec(const std::string& name) const {
    for (const auto& s : m_schema)
        if (s.name == name) return s;
    std::string known;
    for (const auto& s : m_schema) known += (known.empty() ? "" : ", ") + s.name;
    throw Error("unknown parameter '" + name + "'" + (known.empty() ? " (this pass has none)" : " (known: " + known + ")"));
}

void Params::set(const std::string& name, ParamValue value) {
    const ParamSpec& s = spec(name);
    auto outOfRange = [&](double v) {
        std::ostringstream m;
        m << "parameter '" << name << "' = " << v << " is outside [" << s.min << ", " << s.max << "]";
        throw Error(m.str());
    };
    switch (s.type) {
    case ParamSpec::Type::Bool:
        if (!std::holds_alternative<bool>(value)) throw Error("parameter '" + name + "' expects true/false");
        break;
    case ParamSpec::Type::Int: {
        if (std::holds_alternative<double>(value)) {
            const double d = std::get<double>(value);
            if (d != std::floor(d)) throw Error("parameter '" + name + "' expects an integer");
            value = static_cast<int64_t>(d);
        }
        if (!std::holds_alternative<int64_t>(value)) throw Error("parameter '" + name + "' expects an integer");
        const auto v = static_cast<double>(std::get<int64_t>(value));
        if (v < s.min || v > s.max) outOfRange(v);
        break;
    }
    case ParamSpec::Type::Float: {
        if (std::holds_alternative<int64_t>(value)) value = static_cast<double>(std::get<int64_t>(value));
        if (!std::holds_alternative<double>(value)) throw Error("parameter '" + name + "' expects a number");
        const double v = std::get<double>(value);
        if (!(v >= s.min && v <= s.max)) outOfRange(v);
        break;
    }
    case ParamSpec::Type::Enum: {
        if (!std::holds_alternative<std::string>(value)) throw Error("parameter '" + name + "' expects one of its choices");
        const auto& v = std::get<std::string>(value);
        if (std::find(s.choices.begin(), s.choices.end(), v) == s.choices.end()) {
            std::string c;
            for (const auto& x : s.choices) c += (c.empty() ? "" : ", ") + x;
            throw Error("parameter '" + name + "' = '" + v + "' is not one of: " + c);
        }
        break;
    }
    case ParamSpec::Type::NodeList:
        if (std::holds_alternative<std::string>(value)) {
            std::vector<std::string> list;
            std::stringstream ss(std::get<std::string>(value));
            std::string item;
            while (std::getline(ss, item, ';'))
                if (!item.empty()) list.push_back(item);
            value = list;
        }
        if (!std::holds_alternative<std::vector<std::string>>(value))
            throw Error("parameter '" + name + "' expects a list of node names");
        break;
    }
    m_values[name] = std::move(value);
}

void Params::setFromString(const std::string& name, const std::string& text) {
    const ParamSpec& s = spec(name);
    try {
        switch (s.type) {
        case ParamSpec::Type::Bool:
            if (text == "true" || text == "1" || text == "on" || text == "yes") set(name, true);
            else if (text == "false" || text == "0" || text == "off" || text == "no") set(name, false);
            else throw Error("parameter '" + name + "' expects true/false, got '" + text + "'");
            return;
        case ParamSpec::Type::Int: {
            size_t used = 0;
            const long long v = std::stoll(text, &used);
            if (used != text.size()) throw std::invalid_argument(text);
            set(name, static_cast<int64_t>(v));
            return;
        }
        case ParamSpec::Type::Float: {
            size_t used = 0;
            const double v = std::stod(text, &used);
            if (used != text.size()) throw std::invalid_argument(text);
            set(name, v);
            return;
        }
        case ParamSpec::Type::Enum:
        case ParamSpec::Type::NodeList: set(name, text); return;
        }
    } catch (const std::invalid_argument&) {
        throw Error("parameter '" + name + "': cannot parse '" + text + "' as " + std::string(paramTypeName(s.type)));
    } catch (const std::out_of_range&) {
        throw Error("parameter '" + name + "': '" + text + "' is out of range");
    }
}

ParamValue Params::get(const std::string& name) const {
    auto it = m_values.find(name);
    return it != m_values.end() ? it->second : spec(name).defaultValue;
}
bool Params::getBool(const std::string& name) const { return std::get<bool>(get(name)); }
int64_t Params::getInt(const std::string& name) const { return std::get<int64_t>(get(name)); }
double Params::getFloat(const std::string& name) const {
    const ParamValue v = get(name);
    if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
    return std::get<double>(v);
}
std::string Params::getString(const std::string& name) const { return std::get<std::string>(get(name)); }
std::vector<std::string> Params::getList(const std::string& name) const {
    return std::get<std::vector<std::string>>(get(name));
}

std::string Params::toString() const {
    std::ostringstream out;
    bool first = true;
    for (const auto& [k, v] : m_values) {
        if (!first) out << ",";
        first = false;
        out << k << "=";
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, bool>) out << (x ? "true" : "false");
                else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                    for (size_t i = 0; i < x.size(); ++i) out << (i ? ";" : "") << x[i];
                } else out << x;
            },
            v);
    }
    return out.str();
}

void RewritePass::run(PassContext& ctx) {
    ir::Graph& g = *ctx.model.graph;
    const auto targets = m_rule->targetOpTypes();
    // Repeat until a sweep changes nothing: one rewrite can expose the next (Conv+BN then Conv+Relu).
    std::vector<std::string> seenSkips;
    for (int sweep = 0; sweep < 16; ++sweep) {
        bool changed = false;
        const std::vector<ir::NodeId> order = g.order();
        for (ir::NodeId id : order) {
            if (ctx.cancelled()) throw Error("cancelled");
            ir::Node* node = g.node(id);
            if (!node || std::find(targets.begin(), targets.end(), node->opType) == targets.end()) continue;
            std::string why;
            if (m_rule->matches(ctx.model, *node, ctx.params, why) && m_rule->apply(ctx.model, *node, ctx.params, why)) {
                ++ctx.report.applied;
                changed = true;
                g.rebuildIndex();
                continue;
            }
            // Report each (node, reason) once, from the last sweep that saw it.
            if (!why.empty() && g.node(id)) {
                const std::string key = node->name + "\n" + why;
                if (std::find(seenSkips.begin(), seenSkips.end(), key) == seenSkips.end()) {
                    seenSkips.push_back(key);
                    ctx.skip(*node, why);
                }
            }
        }
        if (!changed) break;
    }
    // Drop skips of nodes that a later sweep rewrote after all.
    auto& skips = ctx.report.skipped;
    skips.erase(std::remove_if(skips.begin(), skips.end(),
                               [&](const Skip& s) {
                                   bool present = false;
                                   g.forEachNode([&](const ir::Node& n) { present = present || n.name == s.node; });
                                   return !present;
                               }),
                skips.end());
}

void PassRegistry::add(PassInfo info) { m_passes.push_back(std::move(info)); }

const PassInfo* PassRegistry::find(const std::string& name) const {
    for (const auto& p : m_passes)
        if (p.name == name) return &p;
    return nullptr;
}

const PassRegistry& PassRegistry::global() {
    static const PassRegistry registry = [] {
        PassRegistry r;
        registerAllPasses(r);
        return r;
    }();
    return registry;
}

} // namespace opstudio::passes
