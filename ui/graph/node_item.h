#pragma once
// One box of the graph: a custom-painted item with minimal work per paint and a level of detail
// (only a coloured rectangle when the box is a few pixels tall).
#include "graph/graph_drawing.h"

#include <QGraphicsItem>

namespace opstudio::ui {

class NodeItem : public QGraphicsItem {
public:
    enum { Type = UserType + 1 };
    NodeItem(int index, const NodeVisual* visual, ir::NodeId node, bool isValueBox, const QRectF& rect);

    int type() const override { return Type; }
    QRectF boundingRect() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

    int index() const { return m_index; }
    ir::NodeId node() const { return m_node; }
    bool isValueBox() const { return m_isValueBox; }
    const NodeVisual& visual() const { return *m_visual; }
    /// Heat in [0, 1] (share of total time relative to the hottest node), < 0 for none.
    void setHeat(double heat, double share);
    double share() const { return m_share; }
    void setHeatmapVisible(bool visible);
    /// Highlight as a find match.
    void setMatched(bool matched);

    /// White → orange → dark red.
    static QColor heatColor(double t);
    /// Ink for the op-type title on a category header: white or dark grey, whichever contrasts more.
    static QColor titleColorOn(const QColor& header);
    /// WCAG contrast ratio of two colours, in [1, 21].
    static double contrastRatio(const QColor& a, const QColor& b);

private:
    int m_index;
    const NodeVisual* m_visual;
    ir::NodeId m_node;
    bool m_isValueBox;
    QRectF m_rect;
    double m_heat = -1;
    double m_share = 0;
    bool m_heatmap = false;
    bool m_matched = false;
};

} // namespace opstudio::ui

namespace opstudio::ui {
/// Box metrics for the fonts NodeItem paints with (call on the UI thread).
BoxMetrics measureBoxMetrics();
} // namespace opstudio::ui
