// Raising a model's default-domain opset, only when every node keeps its meaning.
//
// The rule: for every ai.onnx node, each operator version introduced after the model's opset and
// up to the target (found from libonnx's schemas, so no version is overlooked) must be a change
// listed in kCompatible below: a change that leaves inference results of an existing node identical
// (new types, negative axes now allowed, a new attribute whose default is the old behaviour). Any other
// version change (attributes moved to inputs, changed semantics, deprecation) blocks the raise and is
// named in the reason. Subgraphs are judged too. docs/passes/fusion.md lists the table.
#include "passes/fusion/fusion_util.h"

#include "onnx/onnx_internal.h"

#include <map>
#include <set>

namespace opstudio::passes::fusion {

namespace {

/// (op, version) changes that keep the inference meaning of an existing node (ONNX changelog).
const std::map<std::string, std::set<int64_t>>& compatibleChanges() {
    static const std::map<std::string, std::set<int64_t>> kCompatible = {
        // Types only (bfloat16, more integer types) or doc changes.
        {"Add", {13, 14}}, {"Sub", {13, 14}}, {"Mul", {13, 14}}, {"Div", {13, 14}},
        {"Relu", {13, 14}}, {"Sigmoid", {13}}, {"Tanh", {13}}, {"Exp", {13}}, {"Log", {13}},
        {"Sqrt", {13}}, {"Reciprocal", {13}}, {"Neg", {13}}, {"Abs", {13}}, {"Erf", {13}},
        {"Floor", {13}}, {"Ceil", {13}}, {"Sign", {13}}, {"IsNaN", {13}}, {"Pow", {12, 13, 15}},
        {"Cast", {13}}, {"Identity", {13, 14, 16}}, {"MatMul", {13}}, {"Transpose", {13}},
        {"Shape", {13, 15}}, // 15: start/end, defaults = the whole shape
        {"Size", {13}}, {"Expand", {13}}, {"Tile", {13}}, {"Where", {16}}, {"Equal", {11, 13}},
        {"Less", {13}}, {"Greater", {13}}, {"LessOrEqual", {16}}, {"GreaterOrEqual", {16}},
        {"Max", {12, 13}}, {"Min", {12, 13}}, {"Sum", {13}}, {"Mean", {13}}, {"Mod", {13}},
        {"LeakyRelu", {16}}, {"PRelu", {16}}, {"Gemm", {11, 13}}, // 11: C optional
        {"Reshape", {13, 14}},                                   // 14: allowzero, default 0 = old
        {"Gather", {11, 13}}, {"GatherElements", {13}}, {"GatherND", {12, 13}}, // 11: negative indices
        {"Concat", {11, 13}}, {"Flatten", {11, 13}},                           // 11: negative axis
        {"Constant", {11, 12, 13}}, // sparse_value / value_* attributes added
        {"ReduceMean", {11, 13}}, {"ReduceMax", {11, 12, 13}}, {"ReduceMin", {11, 12, 13}},
        {"ReduceProd", {11, 13}}, {"ReduceL1", {11, 13}}, {"ReduceL2", {11, 13}},
        {"ReduceLogSum", {11, 13}}, {"ReduceLogSumExp", {11, 13}}, {"ReduceSumSquare", {11, 13}},
        {"ArgMax", {11, 12, 13}}, {"ArgMin", {11, 12, 13}}, // 12: select_last_index, default 0 = old
        {"Conv", {11}}, {"ConvTranspose", {11}}, {"MaxPool", {11, 12}}, {"AveragePool", {11}},
        {"BatchNormalization", {14, 15}}, // 14: training_mode (an inference BN is checked below)
        {"Slice", {11, 13}}, {"Pad", {13}}, {"Clip", {12, 13}}, {"TopK", {11}}, {"Dropout", {13}},
        {"DepthToSpace", {11, 13}}, {"SpaceToDepth", {13}}, {"LRN", {13}}, {"OneHot", {11}},
        {"CumSum", {14}}, {"NonZero", {13}}, {"ScatterND", {13, 16}}, {"ScatterElements", {13, 16}},
        {"QuantizeLinear", {13}}, {"DequantizeLinear", {13}}, {"If", {13, 16}}, {"Loop", {13, 16}},
        {"Scan", {11, 16}}, {"GRU", {14}}, {"LSTM", {14}}, {"RNN", {14}}, {"Hardmax", {11}},
        {"Softmax", {11}}, {"LogSoftmax", {11}}, // 13: see softmaxKeepsMeaning
    };
    return kCompatible;
}

/// Why a version change is not compatible, in the words of the changelog.
std::string changeReason(const std::string& op, int64_t version) {
    static const std::map<std::pair<std::string, int64_t>, std::string> kWhy = {
        {{"Squeeze", 13}, "axes moved from an attribute to an input"},
        {{"Unsqueeze", 13}, "axes moved from an attribute to an input"},
        {{"ReduceSum", 13}, "axes moved from an attribute to an input"},
        {{"Split", 13}, "split moved from an attribute to an input"},
        {{"Slice", 10}, "starts/ends moved from attributes to inputs"},
        {{"Clip", 11}, "min/max moved from attributes to inputs"},
        {{"Pad", 11}, "pads moved from an attribute to an input"},
        {{"TopK", 10}, "k moved from an attribute to an input"},
        {{"Dropout", 12}, "ratio moved from an attribute to an input"},
        {{"Upsample", 10}, "deprecated (replaced by Resize)"},
        {{"Resize", 11}, "coordinate transformation modes changed"},
        {{"Resize", 13}, "coordinate transformation modes changed"},
        {{"Softmax", 13}, "normalizes one axis instead of the flattened trailing axes"},
        {{"LogSoftmax", 13}, "normalizes one axis instead of the flattened trailing axes"},
        {{"Hardmax", 13}, "works on one axis instead of the flattened trailing axes"},
        {{"BatchNormalization", 14}, "training-mode outputs were redefined"},
    };
    auto it = kWhy.find({op, version});
    return it != kWhy.end() ? it->second : "a new version not known to keep its meaning";
}

/// Softmax/LogSoftmax/Hardmax before 13 flatten the axes from `axis` on (default 1); from 13 they
/// work on one axis (default -1). The same numbers only when `axis` is the last axis.
bool softmaxKeepsMeaning(const ir::Graph& g, const ir::Node& n, int64_t from) {
    const int64_t axis = n.attrInt("axis", from < 13 ? 1 : -1);
    if (axis == -1) return true;
    const ir::Value* v = g.findValue(n.inputs.at(0));
    return v && v->shape && static_cast<int64_t>(v->shape->size()) == axis + 1;
}

std::optional<std::string> blockerIn(const ir::Graph& g, int64_t from, int64_t to) {
    std::optional<std::string> blocker;
    g.forEachNode([&](const ir::Node& n) {
        if (blocker) return;
        for (ir::Graph* sg : n.subgraphs())
            if (!blocker) blocker = blockerIn(*sg, from, to);
        if (blocker || !(n.domain.empty() || n.domain == "ai.onnx")) return;
        const std::string where = n.opType + " node '" + n.name + "'";
        const int64_t have = onnxio::detail::schemaSinceVersion(n.opType, "", from);
        if (have == 0) {
            blocker = where + " is not an operator of opset " + std::to_string(from);
            return;
        }
        const auto& compatible = compatibleChanges();
        const auto known = compatible.find(n.opType);
        // Walk every version introduced in (from, to].
        for (int64_t v = to, seen = 0; v > from; --v) {
            const int64_t since = onnxio::detail::schemaSinceVersion(n.opType, "", v);
            if (since == 0) {
                blocker = where + " was removed before opset " + std::to_string(to);
                return;
            }
            if (since <= from || since == seen) continue;
            seen = since;
            const bool isSoftmax = n.opType == "Softmax" || n.opType == "LogSoftmax" || n.opType == "Hardmax";
            if (isSoftmax && since == 13 && softmaxKeepsMeaning(g, n, from)) continue;
            if (n.opType == "BatchNormalization" && since == 14) {
                bool training = n.attrInt("training_mode", 0) != 0;
                for (size_t i = 1; i < n.outputs.size(); ++i) training = training || !n.outputs[i].empty();
                if (!training) continue;
            }
            if (known != compatible.end() && known->second.count(since)) continue;
            blocker = where + " changed at opset " + std::to_string(since) + " (" + changeReason(n.opType, since) + ")";
            return;
        }
    });
    return blocker;
}

void pinSoftmaxAxes(ir::Graph& g, int64_t from) {
    g.forEachNode([&](ir::Node& n) {
        for (ir::Graph* sg : n.subgraphs()) pinSoftmaxAxes(*sg, from);
        if (!n.domain.empty() || (n.opType != "Softmax" && n.opType != "LogSoftmax" && n.opType != "Hardmax"))
            return;
        if (from >= 13 || n.hasAttr("axis")) return;
        n.attributes.push_back(intAttr("axis", -1)); // the old default 1 was the last axis (rank 2)
    });
}

} // namespace

std::optional<std::string> opsetRaiseBlocker(const ir::Model& model, int64_t to) {
    const int64_t from = onnxOpset(model);
    if (from >= to) return std::nullopt;
    if (from < 7) return "opset " + std::to_string(from) + " is older than 7 (broadcasting rules changed)";
    return blockerIn(*model.graph, from, to);
}

void raiseOpset(ir::Model& model, int64_t to) {
    const int64_t from = onnxOpset(model);
    if (from >= to) return;
    pinSoftmaxAxes(*model.graph, from);
    model.setOpset("", to);
    // Opset 17 needs IR version 8 (ONNX's versioning table).
    if (to >= 17 && model.irVersion < 8) model.irVersion = 8;
}

} // namespace opstudio::passes::fusion
