#pragma once
// Helpers shared by the fusion passes: constant look-ups, single-consumer checks, pass factories.
#include "opstudio/passes/graph_edit.h"
#include "opstudio/passes/pass.h"
#include "passes/param_spec_util.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace opstudio::passes::fusion {

inline constexpr const char* kMsDomain = "com.microsoft";
/// Error budget of fuse-attention (not exact: the fused kernel sums the softmax and GEMMs in another
/// order): max |fused - original| on outputs of unit-scale activations.
inline constexpr double kAttentionFusionMaxAbs = 1e-4;

/// Constant f32 tensor behind a value, or nullptr (also for other dtypes).
const ir::Tensor* constF32(const ir::Graph& g, const std::string& value);
/// Value of a constant with exactly one element (any numeric dtype).
std::optional<double> scalarConst(const ir::Graph& g, const std::string& value);
/// True when `value` is a constant one-element tensor equal to `expected` within `tol` (relative).
bool isScalar(const ir::Graph& g, const std::string& value, double expected, double tol = 1e-4);
/// The other input of a binary node (nullopt when `value` is not one of its two inputs).
std::optional<std::string> otherInput(const ir::Node& n, const std::string& value);
/// The node producing `value` if it has op type `op` (default domain); nullptr otherwise.
ir::Node* producerIs(ir::Graph& g, const std::string& value, const std::string& op);
/// The consumers of a value (one entry per consuming node, in graph order).
std::vector<ir::Node*> consumersOf(ir::Graph& g, const std::string& value);
/// Explains why `value` cannot be absorbed: "" when exactly one node consumes it and it is not a graph output.
std::string whyNotSingleUse(const ir::Graph& g, const std::string& value, const std::string& what);
/// True when a ReduceMean-like node reduces exactly the last axis of `x` (axes attribute or constant input,
/// -1 or rank-1) with keepdims=1: the row statistics of LayerNorm and RMSNorm.
bool reducesLastAxisKeepDims(const ir::Model& model, const ir::Node& reduce, const std::string& x);
/// Imports com.microsoft version 1 when the model lacks it.
void ensureMsDomain(ir::Model& model);
/// After a rewrite: restore topological order and drop initializers nobody reads any more.
void finishRewrite(ir::Graph& g);
/// f32 tensor from values and a shape.
ir::Tensor f32Tensor(std::vector<int64_t> shape, const std::vector<float>& values);
/// Float attribute.
ir::Attribute floatAttr(const std::string& name, float v);
ir::Attribute intAttr(const std::string& name, int64_t v);
ir::Attribute stringAttr(const std::string& name, const std::string& v);
ir::Attribute floatsAttr(const std::string& name, std::vector<float> v);
/// Opset of the default domain.
int64_t onnxOpset(const ir::Model& m);

/// Why the default-domain opset cannot be raised to `to` without changing what some node computes
/// (e.g. "Squeeze node 'sq' changed at opset 13 (axes moved from an attribute to an input)");
/// nullopt when every node keeps its meaning (opset_raise.cpp has the rule and the table).
std::optional<std::string> opsetRaiseBlocker(const ir::Model& model, int64_t to);
/// Raises the default-domain opset to `to` (call only when opsetRaiseBlocker is nullopt): pins the old
/// Softmax default axis, and lifts the IR version to what the opset needs.
void raiseOpset(ir::Model& model, int64_t to);

/// A fused activation (Relu, LeakyRelu, ...) recognised on a node, with its parameters.
struct ActivationInfo {
    std::string op;            // "Relu", "Clip", ...
    std::vector<float> params; // FusedConv's activation_params order (LeakyRelu: alpha; Clip: min, max; HardSigmoid: alpha, beta)
};
/// Reads an activation node; nullopt with whyNot when its parameters are not constant.
std::optional<ActivationInfo> readActivation(const ir::Model& m, const ir::Node& act, std::string& whyNot);

/// A PassInfo for a rewrite rule.
PassInfo rulePass(std::string name, std::string description, bool exact, std::vector<ParamSpec> params,
                  std::function<std::unique_ptr<RewriteRule>()> makeRule);

// Pass factories (one file each).
PassInfo convBatchNormFusionPass();
PassInfo convAddMulFusionPass();
PassInfo convActivationFusionPass();
PassInfo layerNormFusionPass();
PassInfo rmsNormFusionPass();
PassInfo attentionFusionPass();
PassInfo skipLayerNormFusionPass();
PassInfo geluFusionPass();
PassInfo siluFusionPass();
PassInfo matMulAddFusionPass();
PassInfo matMulScaleFusionPass();
PassInfo gemmActivationFusionPass();

} // namespace opstudio::passes::fusion
