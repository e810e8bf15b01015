#include "graph/graph_view.h"

#include "graph/graph_scene.h"
#include "graph/node_item.h"

#include <QLinearGradient>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace opstudio::ui {

namespace {
constexpr double kMinZoom = 0.01;
constexpr double kMaxZoom = 4.0;
}

GraphView::GraphView(QWidget* parent) : QGraphicsView(parent) {
    setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setResizeAnchor(QGraphicsView::AnchorViewCenter);
    setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    setOptimizationFlags(QGraphicsView::DontSavePainterState | QGraphicsView::DontAdjustForAntialiasing);
    setCacheMode(QGraphicsView::CacheBackground);
    setFrameShape(QFrame::NoFrame);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
}

void GraphView::setGraphScene(GraphScene* scene) {
    m_scene = scene;
    setScene(scene);
}

void GraphView::fitToWindow() {
    if (!scene()) return;
    const QRectF r = scene()->itemsBoundingRect().adjusted(-20, -20, 20, 20);
    if (r.isEmpty()) return;
    resetTransform();
    const double s = std::clamp(std::min(viewport()->width() / r.width(), viewport()->height() / r.height()), kMinZoom, 1.0);
    scale(s, s);
    centerOn(r.center());
    viewport()->update();
}

void GraphView::showStart() {
    if (!scene()) return;
    const QRectF r = scene()->itemsBoundingRect().adjusted(-20, -20, 20, 20);
    if (r.isEmpty()) return;
    // Like Netron: a tall graph opens readable at its top; a small one is fitted whole.
    const double fit = std::min(viewport()->width() / r.width(), viewport()->height() / r.height());
    if (fit >= 0.75) {
        fitToWindow();
        return;
    }
    resetTransform();
    const double s = std::clamp(viewport()->width() / r.width(), 0.75, 0.85);
    scale(s, s);
    centerOn(QPointF(r.center().x(), r.top() + viewport()->height() / (2 * s)));
    viewport()->update();
}

void GraphView::zoomBy(double factor) {
    const double z = zoom() * factor;
    if (z < kMinZoom || z > kMaxZoom) return;
    scale(factor, factor);
    viewport()->update();
}

void GraphView::focusOn(const QRectF& rect) {
    if (zoom() < 0.6) {
        const double f = 0.9 / zoom();
        scale(f, f);
    }
    centerOn(rect.center());
}

void GraphView::wheelEvent(QWheelEvent* event) {
    const double steps = event->angleDelta().y() / 120.0;
    if (steps == 0) return;
    zoomBy(std::pow(1.15, steps));
    event->accept();
}

void GraphView::resizeEvent(QResizeEvent* event) { QGraphicsView::resizeEvent(event); }

void GraphView::drawForeground(QPainter* p, const QRectF&) {
    if (!m_scene || !m_scene->hasHeat() || !m_scene->heatmapVisible()) return;
    // Legend in viewport coordinates, bottom-left corner.
    p->save();
    p->resetTransform();
    p->setRenderHint(QPainter::Antialiasing);
    const int w = 220, h = 58;
    const QRect box(12, viewport()->height() - h - 12, w, h);
    p->setPen(QColor("#c9ced3"));
    p->setBrush(QColor(255, 255, 255, 235));
    p->drawRoundedRect(box, 6, 6);
    QFont f(QStringLiteral("DejaVu Sans"), 8);
    f.setBold(true);
    p->setFont(f);
    p->setPen(QColor("#1d2329"));
    p->drawText(QRect(box.left() + 10, box.top() + 4, w - 20, 16), Qt::AlignLeft | Qt::AlignVCenter, tr("Latency share"));
    const QRect bar(box.left() + 10, box.top() + 22, w - 20, 12);
    QLinearGradient g(bar.topLeft(), bar.topRight());
    for (int i = 0; i <= 10; ++i) g.setColorAt(i / 10.0, NodeItem::heatColor(i / 10.0));
    p->setPen(QColor("#9aa3ab"));
    p->setBrush(g);
    p->drawRect(bar);
    f.setBold(false);
    p->setFont(f);
    p->setPen(QColor("#39424a"));
    const QRect labels(bar.left(), bar.bottom() + 2, bar.width(), 16);
    p->drawText(labels, Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("0 %"));
    p->drawText(labels, Qt::AlignRight | Qt::AlignVCenter, QString::number(m_scene->maxShare() * 100, 'f', 1) + " %");
    p->drawText(labels, Qt::AlignHCenter | Qt::AlignVCenter, QString::number(m_scene->maxShare() * 50, 'f', 1) + " %");
    p->restore();
}

} // namespace opstudio::ui
