#pragma once
// Latency dock: a switch between op types and the top-N nodes, the chart, and PNG/PDF export.
#include "charts/latency_chart.h"

#include <QWidget>

class QLabel;
class QSpinBox;
class QStackedLayout;
class QTabBar;

namespace opstudio::ui {

class LatencyPanel : public QWidget {
    Q_OBJECT
public:
    explicit LatencyPanel(QWidget* parent = nullptr);
    LatencyChart* chart() const { return m_chart; }
    QTabBar* modeTabs() const { return m_tabs; }
    void setProfile(std::shared_ptr<const profile::Profile> profile);
    /// Writes the chart as .png or .pdf (by extension). Returns false on failure.
    bool exportChart(const QString& path);

private:
    LatencyChart* m_chart;
    QTabBar* m_tabs;
    QSpinBox* m_topN;
    QLabel* m_empty;
    QLabel* m_total;
    QStackedLayout* m_stack;
};

} // namespace opstudio::ui
