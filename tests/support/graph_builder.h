#pragma once
// Builds small models for pass tests: inputs, initializers and nodes by name.
#include "opstudio/ir/graph.h"
#include "opstudio/runtime/session.h"
#include "support/test_util.h"

#include <memory>
#include <string>
#include <vector>

namespace opstudio::testing {

class GraphBuilder {
public:
    explicit GraphBuilder(int64_t opset = 17);
    GraphBuilder& input(const std::string& name, ir::DType dtype, std::vector<int64_t> shape);
    GraphBuilder& initializer(const std::string& name, ir::Tensor t);
    /// Adds a node; returns *this. The node's name defaults to "<op>_<first output>".
    GraphBuilder& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                       std::vector<ir::Attribute> attributes = {}, const std::string& domain = {},
                       const std::string& name = {});
    GraphBuilder& output(const std::string& name);
    GraphBuilder& opset(const std::string& domain, int64_t version);
    /// Finishes (index rebuilt, shapes inferred through libonnx).
    std::shared_ptr<ir::Model> build();

private:
    std::shared_ptr<ir::Model> m_model;
};

/// Runs a model on feeds; throws on failure. Returns outputs in order.
std::vector<ir::Tensor> runModel(const ir::Model& model, const std::map<std::string, ir::Tensor>& feeds,
                                 int threads = 1);
/// Seeded random feeds for the model's real inputs.
std::map<std::string, ir::Tensor> randomModelFeeds(const ir::Model& model, uint64_t seed);
/// Number of nodes of an op type in the main graph.
int countOps(const ir::Model& model, const std::string& opType);

} // namespace opstudio::testing
