#pragma once
// Properties dock: the selected node's op type and doc, attributes, inputs/outputs, measured
// times, and for each weight its statistics and a histogram.
#include "opstudio/ir/graph.h"
#include "opstudio/profile/profiler.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QCustomPlot;
class QCPBars;

namespace opstudio::ui {

class PropertiesPanel : public QWidget {
    Q_OBJECT
public:
    explicit PropertiesPanel(QWidget* parent = nullptr);
    /// Shows a node of `graph` (nullptr/kNoNode: the empty state). `profile` adds measured numbers.
    void showNode(const ir::Graph* graph, ir::NodeId id, const profile::NodeProfile* profile);
    void clear();
    QString headerText() const;
    QComboBox* weightCombo() const { return m_weightCombo; }
    QLabel* statsLabel() const { return m_stats; }

private:
    void showWeight(int index);

    const ir::Graph* m_graph = nullptr;
    ir::NodeId m_node = ir::kNoNode;
    QStringList m_weightNames;
    QLabel* m_header;
    QLabel* m_doc;
    QLabel* m_body;
    QWidget* m_weightBox;
    QComboBox* m_weightCombo;
    QLabel* m_stats;
    QCustomPlot* m_histogram;
    QCPBars* m_bars;
};

} // namespace opstudio::ui
