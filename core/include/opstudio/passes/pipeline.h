#pragma once
// Pipeline: ordered passes with parameters, saved and loaded as a JSON recipe.
#include "opstudio/passes/pass.h"

namespace opstudio::passes {

/// Sees the model before and after each pass (compare view, per-pass timing).
class PassInstrument {
public:
    virtual ~PassInstrument() = default;
    virtual void beforePass(const PassInfo& info, const ir::Model& model) {}
    virtual void afterPass(const PassInfo& info, const ir::Model& model, const PassReport& report) {}
};

struct PipelineStep {
    std::string pass;
    Params params;
};

class Pipeline {
public:
    std::vector<PipelineStep> steps;

    /// Adds a pass by name with "key=value,..." parameters; throws Error for unknown names/values.
    void add(const std::string& pass, const std::string& params = {});
    /// Parses "name" or "name:key=value,key=value" (the CLI's --pass syntax).
    static PipelineStep parseStep(const std::string& spec);
    /// Presets: "cleanup", "safe-fusions" (exact rewrites only), "all-fusions". Throws for unknown names.
    static Pipeline preset(const std::string& name);
    static std::vector<std::string> presetNames();

    /// JSON recipe: {"opstudio_recipe": 1, "passes": [{"name": ..., "params": {...}}]}.
    std::string toJson() const;
    static Result<Pipeline> fromJson(const std::string& text);

    /// Runs every step on `model`. After each pass: index rebuilt, topological sort, shape
    /// inference re-run and the graph validated (a pass that breaks the graph is reported as an error).
    Result<std::vector<PassReport>> run(ir::Model& model, PassInstrument* instrument = nullptr,
                                        const CalibrationData* calibration = nullptr,
                                        std::function<bool()> cancelled = {}) const;
};

} // namespace opstudio::passes
