#pragma once
// The experiment store: the baseline (the model as loaded, with its profile) and every optimization
// run on it. An experiment is one pipeline applied to the baseline: its recipe, the optimized model,
// what each pass did (and why candidates were skipped), its profile and the comparison with the baseline.
#include "opstudio/compare/compare.h"
#include "opstudio/ir/graph.h"
#include "opstudio/passes/pipeline.h"
#include "opstudio/profile/profiler.h"

#include <QDateTime>
#include <QObject>
#include <QString>
#include <QVector>

#include <memory>
#include <optional>
#include <vector>

namespace opstudio::ui {

/// One optimization run. Id 0 is the baseline.
struct Experiment {
    int id = -1;
    QString name;
    passes::Pipeline pipeline;
    std::shared_ptr<const ir::Model> model;
    std::vector<passes::PassReport> reports;
    std::shared_ptr<const profile::Profile> profile;
    std::optional<compare::CompareResult> compare; // against the baseline
    /// The baseline profiled with the same settings, when the run had to do it (no baseline profile yet).
    std::shared_ptr<const profile::Profile> baselineProfile;
    QDateTime created;

    bool isBaseline() const { return id == 0; }
    /// Median latency in ms: the comparison's (measured back to back with the baseline, like the
    /// speedup), else the profile's total, else -1.
    double latencyMs() const;
    /// Baseline latency / this latency (from the comparison when there is one); 0 when unknown.
    double speedup() const;
    /// Largest max-abs error over the outputs against the baseline; -1 when not compared.
    double maxAbsError() const;
    int64_t weightBytes() const { return model ? model->weightBytes() : 0; }
    int nodeCount() const { return model ? static_cast<int>(model->graph->nodeCount()) : 0; }
};

/// "cleanup ×5 · fuse-conv-batchnorm · fuse-conv-activation(fused_ops=…)" — short, for tables.
QString pipelineSummary(const passes::Pipeline& pipeline);

class ExperimentStore : public QObject {
    Q_OBJECT
public:
    explicit ExperimentStore(QObject* parent = nullptr);

    /// Sets the baseline and drops every experiment (they were made from the previous model).
    void setBaseline(std::shared_ptr<const ir::Model> model, std::shared_ptr<const profile::Profile> profile);
    /// Updates the baseline's profile (re-profiled) without dropping experiments.
    void setBaselineProfile(std::shared_ptr<const profile::Profile> profile);
    void clear();
    bool hasBaseline() const { return m_items.size() > 0 && m_items.front()->model != nullptr; }
    std::shared_ptr<const Experiment> baseline() const {
        return m_items.isEmpty() ? nullptr : m_items.front();
    }

    /// Adds an experiment; gives it the next id and appends " #id" to its name ("Experiment" when empty).
    /// Returns the id.
    int add(Experiment experiment);
    bool remove(int id);
    bool rename(int id, const QString& name);

    /// Rows: the baseline first (when set), then experiments in creation order.
    int count() const { return static_cast<int>(m_items.size()); }
    std::shared_ptr<const Experiment> at(int row) const { return m_items.value(row); }
    std::shared_ptr<const Experiment> find(int id) const;
    int rowOf(int id) const;

Q_SIGNALS:
    void aboutToReset();
    void reset();
    void aboutToAdd(int row);
    void added(int row);
    void aboutToRemove(int row);
    void removed(int row);
    void changed(int row);

private:
    QVector<std::shared_ptr<Experiment>> m_items; // [0] is the baseline once set
    int m_nextId = 1;
};

} // namespace opstudio::ui
