#pragma once
// Pass framework: whole-graph passes and local rewrite rules, each with a typed parameter schema
// (the GUI builds its forms from it, the CLI parses "--pass name:key=value,...") and a report that
// says what changed and, for every candidate that was not rewritten, why.
#include "opstudio/ir/graph.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace opstudio::passes {

enum class PassCategory { Cleanup, Fusion, Quantization, Pruning };
std::string_view categoryName(PassCategory c);

/// One parameter of a pass.
struct ParamSpec {
    enum class Type { Bool, Int, Float, Enum, NodeList };
    std::string name;
    Type type = Type::Bool;
    std::string description;
    double min = 0, max = 0;            // Int / Float range (inclusive)
    std::vector<std::string> choices;   // Enum
    // Default value (by type): bool, int64, double, string (enum), list of node names.
    std::variant<bool, int64_t, double, std::string, std::vector<std::string>> defaultValue;
};
std::string_view paramTypeName(ParamSpec::Type t);

using ParamValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

/// Parameter values of one pass instance, checked against its schema.
class Params {
public:
    Params() = default;
    explicit Params(std::vector<ParamSpec> schema) : m_schema(std::move(schema)) {}
    /// Sets a value from text ("true", "3", "0.5", "per-channel", "a;b;c"); throws Error when invalid.
    void setFromString(const std::string& name, const std::string& text);
    /// Sets a typed value; throws Error when the name is unknown or the value out of range.
    void set(const std::string& name, ParamValue value);
    bool getBool(const std::string& name) const;
    int64_t getInt(const std::string& name) const;
    double getFloat(const std::string& name) const;
    std::string getString(const std::string& name) const;
    std::vector<std::string> getList(const std::string& name) const;
    /// Value or the schema default.
    ParamValue get(const std::string& name) const;
    const std::vector<ParamSpec>& schema() const { return m_schema; }
    /// Values explicitly set (for recipes).
    const std::map<std::string, ParamValue>& values() const { return m_values; }
    /// "key=value,key=value" of explicitly set values.
    std::string toString() const;

private:
    const ParamSpec& spec(const std::string& name) const;
    std::vector<ParamSpec> m_schema;
    std::map<std::string, ParamValue> m_values;
};

/// A candidate a pass looked at but left alone, with the reason (users' top complaint about other
/// tools is that fusions silently do not happen).
struct Skip {
    std::string node; // node name
    std::string opType;
    std::string reason;
};

/// What a pass did.
struct PassReport {
    std::string pass;
    int applied = 0;             // rewrites / changes made
    std::vector<Skip> skipped;   // candidates not rewritten, with the reason
    int nodesBefore = 0, nodesAfter = 0;
    int nodesRemoved = 0, nodesAdded = 0;
    int64_t weightBytesBefore = 0, weightBytesAfter = 0;
    double wallMs = 0;
    std::vector<std::string> notes; // anything else worth telling (e.g. "pass does not apply: no Conv nodes")
    bool changed() const { return applied > 0 || nodesRemoved > 0 || nodesAdded > 0; }
    int64_t bytesSaved() const { return weightBytesBefore - weightBytesAfter; }
};

/// Inputs for passes that need to run the model (static quantization calibration, activation pruning).
struct CalibrationData {
    std::vector<std::map<std::string, ir::Tensor>> feeds;
    int threads = 1;
};

struct PassContext {
    ir::Model& model;
    const Params& params;
    PassReport& report;
    const CalibrationData* calibration = nullptr;
    std::function<bool()> cancelled = [] { return false; };
    /// Records a skipped candidate.
    void skip(const ir::Node& node, std::string reason) const {
        report.skipped.push_back({node.name, node.opType, std::move(reason)});
    }
};

/// A whole-graph pass.
class Pass {
public:
    virtual ~Pass() = default;
    virtual void run(PassContext& ctx) = 0;
};

/// A local rewrite: target op types, a cheap structural check, and the rewrite itself.
class RewriteRule {
public:
    virtual ~RewriteRule() = default;
    virtual std::vector<std::string> targetOpTypes() const = 0;
    /// Cheap check of the neighbourhood. On false, `whyNot` says why (it is reported as a skip).
    virtual bool matches(const ir::Model& model, const ir::Node& node, const Params& params, std::string& whyNot) const = 0;
    /// Performs the rewrite; returns false (with whyNot) if it turned out not to apply after all.
    virtual bool apply(ir::Model& model, ir::Node& node, const Params& params, std::string& whyNot) const = 0;
};

/// Runs a rule over the main graph (and subgraphs) until nothing more matches.
class RewritePass final : public Pass {
public:
    explicit RewritePass(std::unique_ptr<RewriteRule> rule) : m_rule(std::move(rule)) {}
    void run(PassContext& ctx) override;

private:
    std::unique_ptr<RewriteRule> m_rule;
};

/// Registry entry: everything the CLI and GUI need to offer a pass.
struct PassInfo {
    std::string name;        // "fuse-conv-batchnorm"
    std::string description; // one line
    PassCategory category = PassCategory::Cleanup;
    std::vector<ParamSpec> params;
    /// True for exact rewrites (outputs unchanged up to float rounding): part of "safe-fusions".
    bool exact = true;
    std::function<std::unique_ptr<Pass>()> create;
};

class PassRegistry {
public:
    void add(PassInfo info);
    const PassInfo* find(const std::string& name) const;
    const std::vector<PassInfo>& passes() const { return m_passes; }
    /// Every pass of OpStudio (explicit list in passes/all_passes.cpp).
    static const PassRegistry& global();

private:
    std::vector<PassInfo> m_passes;
};

} // namespace opstudio::passes
