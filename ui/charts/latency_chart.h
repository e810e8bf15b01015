#pragma once
// Horizontal latency bars (QCustomPlot): per op type or per node (top N). Hover shows a tooltip,
// clicking a bar reports the node (or op type) behind it.
#include "opstudio/ir/graph.h"
#include "opstudio/profile/profiler.h"

#include <qcustomplot.h>

namespace opstudio::ui {

class LatencyChart : public QCustomPlot {
    Q_OBJECT
public:
    enum class Mode { OpTypes, TopNodes };
    struct Bar {
        QString label;
        double ms = 0;
        double share = 0;
        int count = 0;                 // nodes of the op type
        ir::NodeId node = ir::kNoNode; // TopNodes
        QString opType;
    };

    explicit LatencyChart(QWidget* parent = nullptr);
    void setProfile(std::shared_ptr<const profile::Profile> profile);
    void setMode(Mode mode);
    Mode mode() const { return m_mode; }
    void setTopN(int n);
    const QVector<Bar>& bars() const { return m_bars; }
    /// Highlights the bar of a node (TopNodes) or of its op type (OpTypes).
    void highlight(ir::NodeId node, const QString& opType);
    /// Bar index under a widget position, -1 when none.
    int barAt(const QPoint& pos) const;
    /// Emits the signal of bar `index` as a click would.
    void activateBar(int index);

Q_SIGNALS:
    void nodeActivated(ir::NodeId id);
    void opTypeActivated(const QString& opType);

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    void rebuild();

    std::shared_ptr<const profile::Profile> m_profile;
    Mode m_mode = Mode::OpTypes;
    int m_topN = 20;
    QVector<Bar> m_bars;
    QCPBars* m_series = nullptr;
    QCPBars* m_highlight = nullptr;
    int m_highlighted = -1;
};

} // namespace opstudio::ui
