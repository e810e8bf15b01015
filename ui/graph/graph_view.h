#pragma once
// Zoomable, pannable view of a GraphScene: wheel zoom anchored under the mouse, drag to pan,
// fit to window, and the heatmap legend painted in the corner.
#include <QGraphicsView>

namespace opstudio::ui {

class GraphScene;

class GraphView : public QGraphicsView {
    Q_OBJECT
public:
    explicit GraphView(QWidget* parent = nullptr);
    void setGraphScene(GraphScene* scene);
    GraphScene* graphScene() const { return m_scene; }

    void fitToWindow();
    /// Initial view: the whole graph when it is readable that way, else its top at a readable zoom.
    void showStart();
    void zoomBy(double factor);
    double zoom() const { return transform().m11(); }
    /// Scrolls so that a scene point is centred, zooming in when the view is too far out to read it.
    void focusOn(const QRectF& rect);

protected:
    void wheelEvent(QWheelEvent* event) override;
    void drawForeground(QPainter* painter, const QRectF& rect) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    GraphScene* m_scene = nullptr;
    bool m_fitPending = false;
};

} // namespace opstudio::ui
