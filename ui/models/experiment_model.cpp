#include "models/experiment_model.h"

#include <QBrush>
#include <QColor>
#include <QFont>

namespace opstudio::ui {

ExperimentModel::ExperimentModel(ExperimentStore* store, QObject* parent)
    : QAbstractTableModel(parent), m_store(store) {
    connect(store, &ExperimentStore::aboutToReset, this, [this] { beginResetModel(); });
    connect(store, &ExperimentStore::reset, this, [this] { endResetModel(); });
    connect(store, &ExperimentStore::aboutToAdd, this, [this](int row) { beginInsertRows({}, row, row); });
    connect(store, &ExperimentStore::added, this, [this](int) {
        endInsertRows();
        // The baseline shows the latency the newest comparison measured.
        Q_EMIT dataChanged(index(0, Latency), index(0, Latency));
    });
    connect(store, &ExperimentStore::aboutToRemove, this, [this](int row) { beginRemoveRows({}, row, row); });
    connect(store, &ExperimentStore::removed, this, [this](int) { endRemoveRows(); });
    connect(store, &ExperimentStore::changed, this,
            [this](int row) { Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1)); });
}

int ExperimentModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : m_store->count();
}

int ExperimentModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

int ExperimentModel::idAt(int row) const {
    const auto e = m_store->at(row);
    return e ? e->id : -1;
}

QVariant ExperimentModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const auto e = m_store->at(index.row());
    if (!e) return {};
    const int col = index.column();
    double latency = e->latencyMs();
    if (e->isBaseline()) {
        // The newest comparison measured the baseline back to back with its experiment, without the
        // profiler attached: that is the number the experiments' latencies and speedups compare with.
        for (int r = m_store->count() - 1; r > 0; --r)
            if (const auto x = m_store->at(r); x && x->compare && x->compare->aMs > 0) {
                latency = x->compare->aMs;
                break;
            }
    }
    const double speedup = e->speedup();
    const double err = e->maxAbsError();
    if (role == IdRole) return e->id;
    if (role == SortRole) {
        switch (col) {
        case Name:
            return e->id;
        case Pipeline:
            return pipelineSummary(e->pipeline);
        case Latency:
            return latency;
        case Speedup:
            return speedup;
        case MaxAbsError:
            return err;
        case SizeMb:
            return static_cast<double>(e->weightBytes()) / 1e6;
        case Nodes:
            return e->nodeCount();
        }
        return {};
    }
    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        switch (col) {
        case Name:
            return e->name;
        case Pipeline:
            return e->isBaseline() ? tr("(as loaded)") : pipelineSummary(e->pipeline);
        case Latency:
            return latency >= 0 ? QString::number(latency, 'f', 3) : QStringLiteral("—");
        case Speedup:
            return speedup > 0 ? QStringLiteral("%1×").arg(speedup, 0, 'f', 2) : QStringLiteral("—");
        case MaxAbsError:
            if (e->isBaseline()) return QStringLiteral("—");
            if (err < 0) return tr("n/a");
            return err == 0 ? QStringLiteral("0") : QString::number(err, 'g', 3);
        case SizeMb:
            return QString::number(static_cast<double>(e->weightBytes()) / 1e6, 'f', 2);
        case Nodes:
            return QString::number(e->nodeCount());
        }
        return {};
    }
    if (role == Qt::TextAlignmentRole)
        return col >= Latency ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                              : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    if (role == Qt::FontRole && e->isBaseline()) {
        QFont f;
        f.setItalic(true);
        return f;
    }
    if (role == Qt::ForegroundRole && col == Speedup && !e->isBaseline() && speedup > 0)
        return QBrush(speedup >= 1.02   ? QColor("#1e8e3e")
                      : speedup <= 0.98 ? QColor("#c5221f")
                                        : QColor("#5f6368"));
    if (role == Qt::ToolTipRole) {
        if (col == Pipeline && !e->isBaseline()) {
            QStringList steps;
            for (const auto& s : e->pipeline.steps) {
                const std::string p = s.params.toString();
                steps << QString::fromStdString(p.empty() ? s.pass : s.pass + ":" + p);
            }
            return steps.join('\n');
        }
        if (col == MaxAbsError && e->compare && e->compare->firstDivergence)
            return tr("First divergence at %1 (%2), relative error %3")
                .arg(QString::fromStdString(e->compare->firstDivergence->node),
                     QString::fromStdString(e->compare->firstDivergence->opType))
                .arg(e->compare->firstDivergence->relativeError, 0, 'g', 3);
        if (col == Name) return e->created.toString(Qt::ISODate);
        if ((col == Speedup || col == Latency) && !e->isBaseline() && e->compare)
            return tr("Measured back to back on the same inputs: baseline %1 ms → %2 ms.\n"
                      "The baseline row shows the newest run's baseline time; timings vary with machine "
                      "load.")
                .arg(e->compare->aMs, 0, 'f', 3)
                .arg(e->compare->bMs, 0, 'f', 3);
    }
    return {};
}

QVariant ExperimentModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount) return {};
    if (role == Qt::DisplayRole) {
        static const char* names[] = {"Name",        "Pipeline", "Latency ms", "Speedup",
                                      "Max abs err", "Size MB",  "Nodes"};
        return tr(names[section]);
    }
    if (role == Qt::ToolTipRole) {
        static const char* tips[] = {
            "Experiment name (double-click to rename)",
            "Passes run, in order; clean-up runs are collapsed",
            "Median latency per run of the optimized model",
            "Baseline latency / experiment latency, measured back to back on the same inputs",
            "Largest absolute difference over all outputs against the baseline",
            "Weights (initializers and constants) in megabytes",
            "Nodes in the main graph"};
        return tr(tips[section]);
    }
    return {};
}

Qt::ItemFlags ExperimentModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == Name && idAt(index.row()) > 0) f |= Qt::ItemIsEditable;
    return f;
}

bool ExperimentModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid) || role != Qt::EditRole || index.column() != Name)
        return false;
    return m_store->rename(idAt(index.row()), value.toString());
}

} // namespace opstudio::ui
