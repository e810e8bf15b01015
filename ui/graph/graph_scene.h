#pragma once
// The scene of one graph (the main graph or an If/Loop/Scan body): one NodeItem per box, edges
// batched into a few path items, tensor shapes as level-of-detail labels. BSP-indexed.
#include "graph/graph_drawing.h"

#include <QGraphicsScene>
#include <QHash>

#include <memory>

namespace opstudio::ui {

class NodeItem;

class GraphScene : public QGraphicsScene {
    Q_OBJECT
public:
    explicit GraphScene(QObject* parent = nullptr);

    void setDrawing(std::shared_ptr<GraphDrawing> drawing);
    const GraphDrawing* drawing() const { return m_drawing.get(); }
    const ir::Graph* graph() const { return m_drawing ? m_drawing->graph : nullptr; }

    NodeItem* itemForNode(ir::NodeId id) const { return m_byNode.value(id, nullptr); }
    /// Selects one node (nothing when kNoNode) without emitting nodeActivated.
    void selectNode(ir::NodeId id);
    ir::NodeId selectedNode() const;

    /// Share of total time per node id of this graph; empty clears the heat.
    void setHeat(const QHash<ir::NodeId, double>& share);
    bool hasHeat() const { return m_maxShare > 0; }
    double maxShare() const { return m_maxShare; }
    void setHeatmapVisible(bool visible);
    bool heatmapVisible() const { return m_heatmapVisible; }

    /// Nodes whose name or op type contains `text` (case-insensitive), in layout order (top to bottom).
    QVector<ir::NodeId> find(const QString& text) const;
    void setMatches(const QVector<ir::NodeId>& ids);

Q_SIGNALS:
    /// The user selected a node in the view.
    void nodeActivated(ir::NodeId id);
    /// The user double-clicked a node that has subgraphs.
    void subgraphRequested(ir::NodeId id);

protected:
    void mouseDoubleClickEvent(QGraphicsSceneMouseEvent* event) override;

private:
    void onSelectionChanged();

    std::shared_ptr<GraphDrawing> m_drawing;
    QVector<NodeItem*> m_items;
    QHash<ir::NodeId, NodeItem*> m_byNode;
    QVector<ir::NodeId> m_matches;
    double m_maxShare = 0;
    bool m_heatmapVisible = true;
    bool m_programmatic = false;
};

} // namespace opstudio::ui
