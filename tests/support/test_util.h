#pragma once
// Helpers for tests: build and run a single node, random tensors, closeness checks.
#include "opstudio/ir/graph.h"
#include "opstudio/runtime/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace opstudio::testing {

struct NodeSpec {
    std::string opType;
    std::string domain;          // "" = ai.onnx
    int64_t opset = 17;
    std::vector<ir::Attribute> attributes;
    int outputs = 1;
    /// Inputs given as constants (initializers) instead of feeds (lets kernels pre-pack weights).
    std::vector<bool> constantInputs;
};

/// Builds a one-node model (inputs may be undefined tensors = omitted optional inputs) and runs it.
/// Throws opstudio::Error on failure.
std::vector<ir::Tensor> runNode(const NodeSpec& spec, const std::vector<ir::Tensor>& inputs, bool reference = false,
                                int threads = 1);
/// The one-node model runNode builds (for tests that need the model itself).
ir::Model makeNodeModel(const NodeSpec& spec, const std::vector<ir::Tensor>& inputs);

ir::Attribute attrInt(const std::string& name, int64_t v);
ir::Attribute attrFloat(const std::string& name, float v);
ir::Attribute attrString(const std::string& name, const std::string& v);
ir::Attribute attrInts(const std::string& name, std::vector<int64_t> v);
ir::Attribute attrFloats(const std::string& name, std::vector<float> v);
ir::Attribute attrTensor(const std::string& name, ir::Tensor t);

/// Uniform random tensor in [lo, hi) (integers: floor), deterministic for a seed.
ir::Tensor randomTensor(ir::DType dtype, std::vector<int64_t> shape, uint64_t seed, double lo = -1.0,
                        double hi = 1.0);
/// gtest assertion: same shape and dtype, |a-b| <= atol + rtol*|b| elementwise (NaNs must match).
::testing::AssertionResult allClose(const ir::Tensor& actual, const ir::Tensor& expected, double atol = 1e-5,
                                    double rtol = 1e-5);
/// Max |a - b| over elements (shapes must match).
double maxAbsDiff(const ir::Tensor& a, const ir::Tensor& b);

} // namespace opstudio::testing
