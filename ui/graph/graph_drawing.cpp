#include "graph/graph_drawing.h"

#include "node_format.h"
#include "op_metadata.h"

#include <algorithm>
#include <map>

namespace opstudio::ui {

namespace {
// Input names of common ops as the ONNX schema spells them, for the weight lines in a box.
const std::vector<std::string>& inputLabels(const std::string& op) {
    static const std::map<std::string, std::vector<std::string>> labels = {
        {"Conv", {"X", "W", "B"}},
        {"ConvTranspose", {"X", "W", "B"}},
        {"ConvInteger", {"x", "w", "x_zp", "w_zp"}},
        {"QLinearConv", {"x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "B"}},
        {"Gemm", {"A", "B", "C"}},
        {"MatMul", {"A", "B"}},
        {"MatMulInteger", {"A", "B", "a_zp", "b_zp"}},
        {"BatchNormalization", {"X", "scale", "B", "mean", "var"}},
        {"InstanceNormalization", {"input", "scale", "B"}},
        {"LayerNormalization", {"X", "Scale", "B"}},
        {"GroupNormalization", {"X", "scale", "bias"}},
        {"PRelu", {"X", "slope"}},
        {"Reshape", {"data", "shape"}},
        {"Gather", {"data", "indices"}},
        {"Add", {"A", "B"}}, {"Sub", {"A", "B"}}, {"Mul", {"A", "B"}}, {"Div", {"A", "B"}},
        {"Clip", {"input", "min", "max"}},
        {"Pad", {"data", "pads", "value"}},
        {"Resize", {"X", "roi", "scales", "sizes"}},
        {"Slice", {"data", "starts", "ends", "axes", "steps"}},
        {"Unsqueeze", {"data", "axes"}}, {"Squeeze", {"data", "axes"}},
        {"QuantizeLinear", {"x", "scale", "zp"}}, {"DequantizeLinear", {"x", "scale", "zp"}},
        {"LSTM", {"X", "W", "R", "B"}}, {"GRU", {"X", "W", "R", "B"}}, {"RNN", {"X", "W", "R", "B"}},
        {"Expand", {"input", "shape"}}, {"Tile", {"input", "repeats"}},
    };
    static const std::vector<std::string> none;
    auto it = labels.find(op);
    return it == labels.end() ? none : it->second;
}

constexpr int kMaxWeightLines = 4;
} // namespace

std::shared_ptr<GraphDrawing> buildGraphDrawing(const ir::Graph& graph, const BoxMetrics& m) {
    auto d = std::make_shared<GraphDrawing>();
    d->graph = &graph;
    d->input = layout::buildGraphLayoutInput(graph);
    const OpMetadata& meta = OpMetadata::instance();
    d->visuals.resize(static_cast<int>(d->input.items.size()));
    for (size_t i = 0; i < d->input.items.size(); ++i) {
        const auto& item = d->input.items[i];
        NodeVisual& v = d->visuals[static_cast<int>(i)];
        if (item.kind == layout::GraphLayoutInput::Kind::Node) {
            const ir::Node* n = graph.node(item.node);
            if (!n) continue;
            v.title = QString::fromStdString(n->opType);
            v.subtitle = nodeAttributeSummary(*n);
            v.name = nodeDisplayName(*n);
            v.color = meta.color(v.title);
            const auto& labels = inputLabels(n->opType);
            int shown = 0, hidden = 0;
            for (size_t k = 0; k < n->inputs.size(); ++k) {
                const ir::Tensor* t = n->inputs[k].empty() ? nullptr : graph.constantValue(n->inputs[k]);
                if (!t) continue;
                if (shown >= kMaxWeightLines) {
                    ++hidden;
                    continue;
                }
                const QString label = k < labels.size() ? QString::fromStdString(labels[k]) : QStringLiteral("in%1").arg(k);
                v.weights << label + " " + bracketShape(t->shape());
                ++shown;
            }
            if (hidden > 0) v.weights << QStringLiteral("+%1 more").arg(hidden);
            for (ir::Graph* sub : n->subgraphs()) {
                ++v.subgraphCount;
                v.subgraphNodes += static_cast<int>(sub->totalNodeCount());
            }
        } else {
            const bool isInput = item.kind == layout::GraphLayoutInput::Kind::GraphInput;
            v.title = QString::fromStdString(item.value.empty() ? item.label : item.value);
            const ir::Value* val = graph.findValue(item.value);
            v.subtitle = val ? QString::fromLatin1(ir::dtypeName(val->dtype).data()) + " " + valueShapeText(val->shape) : QString();
            v.name = v.title;
            v.color = isInput ? QColor("#5b6770") : QColor("#5b6770");
        }
        // Box size from the longest line; text is drawn in the UI with the same metrics.
        double w = v.title.size() * m.titleCharWidth;
        w = std::max(w, v.subtitle.size() * m.textCharWidth);
        for (const auto& line : v.weights) w = std::max(w, line.size() * m.textCharWidth);
        if (v.subgraphCount > 0) w = std::max(w, 14 * m.textCharWidth);
        w = std::clamp(w + 2 * m.padding, m.minWidth, 360.0);
        double h = m.titleHeight + 6;
        if (!v.subtitle.isEmpty()) h += m.lineHeight;
        h += v.weights.size() * m.lineHeight;
        if (v.subgraphCount > 0) h += m.lineHeight;
        h = std::max(h, m.titleHeight + 14);
        d->input.input.nodes[i].width = static_cast<float>(w);
        d->input.input.nodes[i].height = static_cast<float>(h);
    }
    d->layout = layout::layoutGraph(d->input.input);
    return d;
}

} // namespace opstudio::ui
