#include "graph/graph_scene.h"

#include "graph/node_item.h"
#include "node_format.h"

#include <QGraphicsPathItem>
#include <QGraphicsSceneMouseEvent>
#include <QPainter>
#include <QStyleOptionGraphicsItem>

#include <algorithm>
#include <cmath>

namespace opstudio::ui {

namespace {
// A tensor-shape label next to an edge; painted only when readable.
class EdgeLabelItem : public QGraphicsItem {
public:
    EdgeLabelItem(QString text, QPointF anchor) : m_text(std::move(text)) {
        static const QFont font(QStringLiteral("DejaVu Sans"), 7);
        m_font = font;
        const QFontMetricsF fm(m_font);
        m_rect = QRectF(anchor.x() + 4, anchor.y(), fm.horizontalAdvance(m_text) + 4, fm.height());
    }
    QRectF boundingRect() const override { return m_rect; }
    void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) override {
        if (option->levelOfDetailFromTransform(p->worldTransform()) < 0.7) return;
        p->setFont(m_font);
        p->setPen(QColor("#6b7680"));
        p->drawText(m_rect, Qt::AlignLeft | Qt::AlignVCenter, m_text);
    }

private:
    QString m_text;
    QFont m_font;
    QRectF m_rect;
};

// Edges of a layer band in one path: few items, each with a compact bounding box for the BSP index.
constexpr int kEdgesPerPath = 64;
} // namespace

GraphScene::GraphScene(QObject* parent) : QGraphicsScene(parent) {
    setItemIndexMethod(QGraphicsScene::BspTreeIndex);
    setBackgroundBrush(QColor("#f6f7f9"));
    connect(this, &QGraphicsScene::selectionChanged, this, &GraphScene::onSelectionChanged);
}

void GraphScene::setDrawing(std::shared_ptr<GraphDrawing> drawing) {
    m_programmatic = true;
    clear();
    m_items.clear();
    m_byNode.clear();
    m_matches.clear();
    m_maxShare = 0;
    m_drawing = std::move(drawing);
    m_programmatic = false;
    if (!m_drawing) return;
    const auto& in = m_drawing->input;
    const auto& lay = m_drawing->layout;
    const size_t n = std::min(in.items.size(), lay.centers.size());
    m_items.reserve(static_cast<int>(n));
    for (size_t i = 0; i < n; ++i) {
        const auto& box = in.input.nodes[i];
        const QRectF rect(lay.centers[i].x - box.width / 2, lay.centers[i].y - box.height / 2, box.width, box.height);
        const bool valueBox = in.items[i].kind != layout::GraphLayoutInput::Kind::Node;
        auto* item = new NodeItem(static_cast<int>(i), &m_drawing->visuals[static_cast<int>(i)], in.items[i].node, valueBox, rect);
        addItem(item);
        item->setZValue(1);
        m_items.push_back(item);
        if (!valueBox) m_byNode.insert(in.items[i].node, item);
    }

    // Edges, with an arrow head at the target; sorted by their top so each path covers a band.
    std::vector<size_t> order(std::min(in.input.edges.size(), lay.edges.size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto top = [&](size_t e) { return lay.edges[e].empty() ? 0.f : lay.edges[e].front().y; };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return top(a) < top(b); });
    QPen edgePen(QColor("#8d979f"), 1.2);
    edgePen.setCosmetic(false);
    // Lines are stroked only; arrow heads are filled in a path of their own (a filled open
    // curve would paint the area between its ends).
    QPainterPath path, heads;
    int inPath = 0;
    auto flush = [&] {
        if (inPath == 0) return;
        addPath(path, edgePen, Qt::NoBrush)->setZValue(0);
        addPath(heads, QPen(QColor("#8d979f"), 0.8), QBrush(QColor("#8d979f")))->setZValue(0);
        path = QPainterPath();
        heads = QPainterPath();
        inPath = 0;
    };
    QHash<QString, bool> labelled;
    for (size_t e : order) {
        const auto& pts = lay.edges[e];
        if (pts.size() < 2) continue;
        QPainterPath line;
        line.moveTo(pts[0].x, pts[0].y);
        for (size_t k = 1; k < pts.size(); ++k) {
            // Smooth corners: quadratic curves through the midpoints of the polyline.
            if (k + 1 < pts.size()) {
                const QPointF mid((pts[k].x + pts[k + 1].x) / 2, (pts[k].y + pts[k + 1].y) / 2);
                line.quadTo(QPointF(pts[k].x, pts[k].y), mid);
            } else {
                line.lineTo(pts[k].x, pts[k].y);
            }
        }
        path.addPath(line);
        // Arrow head along the last segment.
        const QPointF tip(pts.back().x, pts.back().y);
        const QPointF from(pts[pts.size() - 2].x, pts[pts.size() - 2].y);
        const double angle = std::atan2(tip.y() - from.y(), tip.x() - from.x());
        const double len = 7, spread = 0.45;
        QPolygonF head;
        head << tip << tip - QPointF(len * std::cos(angle - spread), len * std::sin(angle - spread))
             << tip - QPointF(len * std::cos(angle + spread), len * std::sin(angle + spread)) << tip;
        heads.addPolygon(head);
        heads.closeSubpath();
        if (++inPath >= kEdgesPerPath) flush();

        // One shape label per (source box, value), just below the source.
        const int from_ = in.input.edges[e].from;
        const std::string& valueName = e < in.edgeValues.size() ? in.edgeValues[e] : std::string();
        const QString key = QString::number(from_) + "/" + QString::fromStdString(valueName);
        if (!valueName.empty() && !labelled.contains(key)) {
            labelled.insert(key, true);
            if (const ir::Value* v = m_drawing->graph->findValue(valueName); v && v->shape) {
                auto* label = new EdgeLabelItem(valueShapeText(v->shape), QPointF(pts[0].x, pts[0].y + 2));
                label->setZValue(2);
                addItem(label);
            }
        }
    }
    flush();
    const QRectF bounds(0, 0, std::max(lay.width, 100.f), std::max(lay.height, 100.f));
    setSceneRect(bounds.adjusted(-60, -60, 60, 60));
    for (NodeItem* item : m_items) item->setHeatmapVisible(m_heatmapVisible);
}

void GraphScene::selectNode(ir::NodeId id) {
    m_programmatic = true;
    clearSelection();
    if (NodeItem* item = itemForNode(id)) item->setSelected(true);
    m_programmatic = false;
}

ir::NodeId GraphScene::selectedNode() const {
    for (QGraphicsItem* item : selectedItems())
        if (item->type() == NodeItem::Type) return static_cast<NodeItem*>(item)->node();
    return ir::kNoNode;
}

void GraphScene::onSelectionChanged() {
    if (m_programmatic) return;
    const ir::NodeId id = selectedNode();
    if (id != ir::kNoNode) Q_EMIT nodeActivated(id);
}

void GraphScene::setHeat(const QHash<ir::NodeId, double>& share) {
    m_maxShare = 0;
    for (double s : share) m_maxShare = std::max(m_maxShare, s);
    for (NodeItem* item : m_items) {
        if (item->isValueBox()) continue;
        auto it = share.constFind(item->node());
        if (it == share.constEnd() || m_maxShare <= 0) item->setHeat(-1, 0);
        else item->setHeat(*it / m_maxShare, *it);
    }
}

void GraphScene::setHeatmapVisible(bool visible) {
    m_heatmapVisible = visible;
    for (NodeItem* item : m_items) item->setHeatmapVisible(visible);
}

QVector<ir::NodeId> GraphScene::find(const QString& text) const {
    QVector<std::pair<QPointF, ir::NodeId>> hits;
    if (text.trimmed().isEmpty()) return {};
    const QString needle = text.trimmed();
    for (NodeItem* item : m_items) {
        if (item->isValueBox()) continue;
        const NodeVisual& v = item->visual();
        if (v.name.contains(needle, Qt::CaseInsensitive) || v.title.contains(needle, Qt::CaseInsensitive))
            hits.push_back({item->boundingRect().center(), item->node()});
    }
    std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
        return a.first.y() < b.first.y() || (a.first.y() == b.first.y() && a.first.x() < b.first.x());
    });
    QVector<ir::NodeId> ids;
    for (const auto& h : hits) ids.push_back(h.second);
    return ids;
}

void GraphScene::setMatches(const QVector<ir::NodeId>& ids) {
    for (ir::NodeId id : m_matches)
        if (NodeItem* item = itemForNode(id)) item->setMatched(false);
    m_matches = ids;
    for (ir::NodeId id : m_matches)
        if (NodeItem* item = itemForNode(id)) item->setMatched(true);
}

void GraphScene::mouseDoubleClickEvent(QGraphicsSceneMouseEvent* event) {
    for (QGraphicsItem* item : items(event->scenePos())) {
        if (item->type() != NodeItem::Type) continue;
        auto* node = static_cast<NodeItem*>(item);
        if (node->visual().subgraphCount > 0) {
            Q_EMIT subgraphRequested(node->node());
            return;
        }
    }
    QGraphicsScene::mouseDoubleClickEvent(event);
}

} // namespace opstudio::ui
