#pragma once
// Everything the graph view paints, computed off the UI thread: box texts and sizes, then the
// core's layered layout on those sizes. Qt value types only (no widgets), so it runs in a worker.
#include "opstudio/ir/graph.h"
#include "opstudio/layout/layout.h"

#include <QColor>
#include <QString>
#include <QStringList>
#include <QVector>

#include <memory>

namespace opstudio::ui {

/// Text and look of one box.
struct NodeVisual {
    QString title;     // op type, or the value name for graph inputs/outputs
    QString subtitle;  // main attributes ("3x3 /2") or the shape for inputs/outputs
    QStringList weights; // "W ⟨64×3×7×7⟩"
    QString name;      // node name (tooltip, find)
    QColor color;      // category colour
    int subgraphNodes = 0; // > 0 for If/Loop/Scan: nodes in the bodies
    int subgraphCount = 0;
};

/// Metrics used to size boxes (measured on the UI thread, where fonts live).
struct BoxMetrics {
    double titleCharWidth = 7.5;
    double textCharWidth = 6.5;
    double titleHeight = 20;
    double lineHeight = 15;
    double minWidth = 96;
    double padding = 10;
};

struct GraphDrawing {
    const ir::Graph* graph = nullptr;
    layout::GraphLayoutInput input;
    layout::LayoutResult layout;
    QVector<NodeVisual> visuals; // parallel to input.items
};

/// Builds box texts and sizes for `graph` and lays it out. Pure function of its inputs.
std::shared_ptr<GraphDrawing> buildGraphDrawing(const ir::Graph& graph, const BoxMetrics& metrics);

} // namespace opstudio::ui
