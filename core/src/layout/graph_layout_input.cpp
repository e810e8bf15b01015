// buildGraphLayoutInput: a model graph as boxes and edges, the way the studio shows it.
// Weights (initializers, Constant nodes) are not boxes: they are folded into their consumers and
// summarised on the consumer's second line when it has no attribute worth showing.
#include "opstudio/layout/layout.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace opstudio::layout {

namespace {

bool isConstantNode(const ir::Node& n) {
    return n.opType == "Constant" && (n.domain.empty() || n.domain == "ai.onnx");
}

std::string joinDims(const std::vector<int64_t>& dims, const char* sep) {
    std::string s;
    for (size_t i = 0; i < dims.size(); ++i) {
        if (i) s += sep;
        s += std::to_string(dims[i]);
    }
    return s;
}

std::string clip(std::string text) {
    if (text.size() > kMaxLineChars) text = text.substr(0, kMaxLineChars - 3) + "...";
    return text;
}

/// The attributes people look for first, in a fixed order: "3x3 s2 d2 g32", "axis=1", "to=float16".
std::string attributeSummary(const ir::Node& n) {
    std::vector<std::string> parts;
    auto allOnes = [](const std::vector<int64_t>& v) {
        return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 1; });
    };
    auto compact = [](const std::vector<int64_t>& v) {
        // "2" when every entry is the same, "2x1" otherwise.
        const bool same = std::all_of(v.begin(), v.end(), [&](int64_t x) { return x == v.front(); });
        return same ? std::to_string(v.front()) : joinDims(v, "x");
    };
    if (const auto* a = n.attr("kernel_shape"); a && !a->ints.empty())
        parts.push_back(joinDims(a->ints, "x"));
    if (const auto* a = n.attr("strides"); a && !a->ints.empty() && !allOnes(a->ints))
        parts.push_back("s" + compact(a->ints));
    if (const auto* a = n.attr("dilations"); a && !a->ints.empty() && !allOnes(a->ints))
        parts.push_back("d" + compact(a->ints));
    if (const auto* a = n.attr("group"); a && a->i > 1) parts.push_back("g" + std::to_string(a->i));
    if (const auto* a = n.attr("perm"); a && !a->ints.empty())
        parts.push_back("perm=" + joinDims(a->ints, ","));
    if (const auto* a = n.attr("axis"); a && a->type == ir::AttrType::Int)
        parts.push_back("axis=" + std::to_string(a->i));
    if (const auto* a = n.attr("axes"); a && !a->ints.empty())
        parts.push_back("axes=" + joinDims(a->ints, ","));
    if (const auto* a = n.attr("to");
        a && a->type == ir::AttrType::Int && ir::isValidDType(static_cast<int32_t>(a->i)))
        parts.push_back("to=" + std::string(ir::dtypeName(static_cast<ir::DType>(a->i))));
    if (n.attrInt("transA", 0) != 0) parts.push_back("transA");
    if (n.attrInt("transB", 0) != 0) parts.push_back("transB");
    if (const auto* a = n.attr("keepdims"); a && a->type == ir::AttrType::Int && a->i == 0)
        parts.push_back("keepdims=0");
    if (const auto* a = n.attr("mode"); a && a->type == ir::AttrType::String && !a->s.empty())
        parts.push_back(a->s);
    std::string s;
    for (const auto& p : parts)
        s += (s.empty() ? "" : " ") + p;
    return s;
}

/// Second line of a node box: its main attributes, else the shape of its first folded weight.
std::string nodeDetail(const ir::Graph& g, const ir::Node& n) {
    std::string s = attributeSummary(n);
    if (!s.empty()) return s;
    for (const auto& input : n.inputs) {
        if (input.empty()) continue;
        const ir::Tensor* t = g.constantValue(input);
        if (t && t->rank() >= 1) return "W " + joinDims(t->shape(), "x");
    }
    return {};
}

std::string valueDetail(const ir::Graph& g, const std::string& name) {
    const ir::Value* v = g.findValue(name);
    if (!v || (v->dtype == ir::DType::Undefined && !v->shape)) return {};
    std::string s = v->dtype == ir::DType::Undefined ? "?" : std::string(ir::dtypeName(v->dtype));
    if (v->shape) s += valueShapeToString(v->shape);
    return s;
}

LayoutInput::Box boxFor(const std::string& label, const std::string& detail) {
    const size_t chars = std::max(label.size(), detail.size());
    LayoutInput::Box box;
    box.width = std::max(kMinBoxWidth, kLabelCharWidth * static_cast<float>(chars) + 2 * kBoxPadding);
    box.height = detail.empty() ? kBoxHeight : kBoxHeightTwoLines;
    return box;
}

} // namespace

GraphLayoutInput buildGraphLayoutInput(const ir::Graph& graph) {
    GraphLayoutInput out;
    auto addItem = [&](GraphLayoutInput::Item item) {
        item.label = clip(std::move(item.label));
        item.detail = clip(std::move(item.detail));
        out.input.nodes.push_back(boxFor(item.label, item.detail));
        out.items.push_back(std::move(item));
        return static_cast<int>(out.items.size()) - 1;
    };

    // Which box produces each value: graph inputs first, then node outputs (in graph order).
    std::unordered_map<std::string, int> producerBox;
    for (const std::string& name : graph.realInputs()) {
        GraphLayoutInput::Item item;
        item.kind = GraphLayoutInput::Kind::GraphInput;
        item.label = name;
        item.value = name;
        item.detail = valueDetail(graph, name);
        producerBox.emplace(name, addItem(std::move(item)));
    }
    std::vector<std::pair<const ir::Node*, int>> nodeBoxes;
    graph.forEachNode([&](const ir::Node& n) {
        if (isConstantNode(n)) return; // folded into its consumers
        GraphLayoutInput::Item item;
        item.kind = GraphLayoutInput::Kind::Node;
        item.node = n.id;
        item.label = n.opType;
        item.detail = nodeDetail(graph, n);
        const int box = addItem(std::move(item));
        nodeBoxes.push_back({&n, box});
        for (const auto& output : n.outputs)
            if (!output.empty()) producerBox.emplace(output, box);
    });

    auto addEdge = [&](int from, int to, const std::string& value) {
        out.input.edges.push_back({from, to});
        out.edgeValues.push_back(value);
    };
    for (const auto& [node, box] : nodeBoxes) {
        // One edge per distinct value (Mul(x, x) draws one edge), in input order.
        std::vector<const std::string*> seen;
        for (const auto& input : node->inputs) {
            if (input.empty() || graph.isInitializer(input)) continue;
            const auto it = producerBox.find(input);
            if (it == producerBox.end()) continue; // Constant node output or outer-scope value
            if (std::any_of(seen.begin(), seen.end(), [&](const std::string* s) { return *s == input; }))
                continue;
            seen.push_back(&input);
            addEdge(it->second, box, input);
        }
    }
    for (const std::string& name : graph.outputs) {
        GraphLayoutInput::Item item;
        item.kind = GraphLayoutInput::Kind::GraphOutput;
        item.label = name;
        item.value = name;
        item.detail = valueDetail(graph, name);
        const int box = addItem(std::move(item));
        const auto it = producerBox.find(name);
        if (it != producerBox.end()) addEdge(it->second, box, name);
    }
    return out;
}

} // namespace opstudio::layout
