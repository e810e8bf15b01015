#pragma once
// Compare two experiments (or the baseline and one): total speedup, latency per op type and per
// group of original nodes (through provenance), and accuracy per output against the baseline with
// the first divergence.
#include "charts/compare_chart.h"
#include "experiments.h"

#include <QDialog>

class QComboBox;
class QLabel;
class QTabWidget;
class QTableWidget;

namespace opstudio::ui {

class CompareDialog : public QDialog {
    Q_OBJECT
public:
    CompareDialog(ExperimentStore* store, int idA, int idB, QWidget* parent = nullptr);
    void setPair(int idA, int idB);
    int idA() const;
    int idB() const;

    CompareChart* opTypeChart() const { return m_byOp; }
    CompareChart* nodeChart() const { return m_byNode; }
    QTableWidget* accuracyTable() const { return m_accuracy; }
    QLabel* headline() const { return m_headline; }
    QLabel* divergenceLabel() const { return m_divergence; }
    QTabWidget* tabs() const { return m_tabs; }

Q_SIGNALS:
    /// An original node (of the baseline) was clicked in the per-node chart.
    void nodeSelected(ir::NodeId id);

private:
    void rebuild();

    ExperimentStore* m_store;
    QComboBox* m_a;
    QComboBox* m_b;
    QLabel* m_headline;
    QTabWidget* m_tabs;
    CompareChart* m_byOp;
    CompareChart* m_byNode;
    QTableWidget* m_accuracy;
    QLabel* m_accuracyNote;
    QLabel* m_divergence;
};

} // namespace opstudio::ui
