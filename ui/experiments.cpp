#include "experiments.h"

#include <QStringList>

#include <algorithm>
#include <map>

namespace opstudio::ui {

double Experiment::latencyMs() const {
    if (compare && compare->bMs > 0) return compare->bMs;
    if (profile) return profile->total.median;
    return -1;
}

double Experiment::speedup() const {
    if (isBaseline()) return 1.0;
    if (compare && compare->speedup > 0) return compare->speedup;
    return 0;
}

double Experiment::maxAbsError() const {
    if (isBaseline()) return 0;
    if (!compare) return -1;
    double worst = 0;
    for (const auto& o : compare->outputs)
        worst = std::max(worst, o.maxAbs);
    return worst;
}

QString pipelineSummary(const passes::Pipeline& pipeline) {
    if (pipeline.steps.empty()) return QObject::tr("(no passes)");
    // Runs of clean-up passes collapse to "cleanup ×N": they are the glue around the passes that matter.
    const auto& registry = passes::PassRegistry::global();
    QStringList parts;
    int cleanupRun = 0;
    auto flush = [&] {
        if (cleanupRun > 0) parts << QStringLiteral("cleanup ×%1").arg(cleanupRun);
        cleanupRun = 0;
    };
    for (const auto& step : pipeline.steps) {
        const passes::PassInfo* info = registry.find(step.pass);
        const std::string params = step.params.toString();
        if (info && info->category == passes::PassCategory::Cleanup && params.empty()) {
            ++cleanupRun;
            continue;
        }
        flush();
        QString s = QString::fromStdString(step.pass);
        if (!params.empty()) s += QStringLiteral("(%1)").arg(QString::fromStdString(params));
        parts << s;
    }
    flush();
    return parts.join(QStringLiteral(" · "));
}

ExperimentStore::ExperimentStore(QObject* parent) : QObject(parent) {}

void ExperimentStore::setBaseline(std::shared_ptr<const ir::Model> model,
                                  std::shared_ptr<const profile::Profile> profile) {
    Q_EMIT aboutToReset();
    m_items.clear();
    m_nextId = 1;
    if (model) {
        auto b = std::make_shared<Experiment>();
        b->id = 0;
        b->name = tr("Baseline");
        b->model = std::move(model);
        b->profile = std::move(profile);
        b->created = QDateTime::currentDateTime();
        m_items.push_back(b);
    }
    Q_EMIT reset();
}

void ExperimentStore::setBaselineProfile(std::shared_ptr<const profile::Profile> profile) {
    if (m_items.isEmpty()) return;
    m_items.front()->profile = std::move(profile);
    Q_EMIT changed(0);
}

void ExperimentStore::clear() {
    setBaseline(nullptr, nullptr);
}

int ExperimentStore::add(Experiment experiment) {
    auto e = std::make_shared<Experiment>(std::move(experiment));
    e->id = m_nextId++;
    // "#id" keeps names unique when the same preset is run twice.
    e->name = QStringLiteral("%1 #%2").arg(e->name.isEmpty() ? tr("Experiment") : e->name).arg(e->id);
    if (!e->created.isValid()) e->created = QDateTime::currentDateTime();
    const int row = static_cast<int>(m_items.size());
    Q_EMIT aboutToAdd(row);
    m_items.push_back(e);
    Q_EMIT added(row);
    return e->id;
}

bool ExperimentStore::remove(int id) {
    const int row = rowOf(id);
    if (row < 0 || id == 0) return false; // the baseline stays
    Q_EMIT aboutToRemove(row);
    m_items.removeAt(row);
    Q_EMIT removed(row);
    return true;
}

bool ExperimentStore::rename(int id, const QString& name) {
    const int row = rowOf(id);
    if (row < 0 || name.trimmed().isEmpty()) return false;
    m_items[row]->name = name.trimmed();
    Q_EMIT changed(row);
    return true;
}

std::shared_ptr<const Experiment> ExperimentStore::find(int id) const {
    const int row = rowOf(id);
    return row < 0 ? nullptr : m_items[row];
}

int ExperimentStore::rowOf(int id) const {
    for (int i = 0; i < m_items.size(); ++i)
        if (m_items[i]->id == id) return i;
    return -1;
}

} // namespace opstudio::ui
