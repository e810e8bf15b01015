#include "models/operator_table_model.h"

#include "node_format.h"
#include "opstudio/profile/cost_model.h"

#include <QBrush>
#include <QColor>

namespace opstudio::ui {

namespace {
profile::TensorInfo tensorInfo(const ir::Graph& g, const std::string& name) {
    profile::TensorInfo info;
    if (name.empty()) return info;
    if (const ir::Tensor* t = g.constantValue(name)) {
        info.dtype = t->dtype();
        info.shape = t->shape();
        info.known = true;
        info.constant = true;
        return info;
    }
    const ir::Value* v = g.findValue(name);
    if (!v) return info;
    info.dtype = v->dtype;
    if (auto s = ir::concreteShape(v->shape)) {
        info.shape = *s;
        info.known = v->dtype != ir::DType::Undefined;
    }
    return info;
}
} // namespace

QVector<OperatorRow> buildOperatorRows(const ir::Graph& g, const profile::Profile* profile) {
    QHash<ir::NodeId, const profile::NodeProfile*> measured;
    if (profile)
        for (const auto& n : profile->nodes)
            if (n.depth == 0) measured.insert(n.id, &n);
    QVector<OperatorRow> rows;
    rows.reserve(static_cast<int>(g.nodeCount()));
    g.forEachNode([&](const ir::Node& n) {
        OperatorRow r;
        r.id = n.id;
        r.name = nodeDisplayName(n);
        r.opType = QString::fromStdString(n.opType);
        if (!n.outputs.empty()) {
            const ir::Value* v = g.findValue(n.outputs[0]);
            r.outputShape = v ? valueShapeText(v->shape) : QStringLiteral("?");
        }
        auto it = measured.constFind(n.id);
        if (it != measured.constEnd()) {
            const profile::NodeProfile& p = **it;
            r.profiled = true;
            r.medianMs = p.time.median;
            r.p90Ms = p.time.p90;
            r.share = p.share;
            r.gflops = p.gflops;
            r.bound = QString::fromStdString(p.bound);
            r.flops = p.cost.flops;
            r.params = p.cost.params;
            if (!p.outputShapes.empty()) {
                QStringList dims;
                for (int64_t d : p.outputShapes[0]) dims << QString::number(d);
                r.outputShape = p.outputShapes[0].empty() ? QStringLiteral("scalar") : dims.join(QStringLiteral("×"));
            }
        } else {
            std::vector<profile::TensorInfo> ins, outs;
            for (const auto& i : n.inputs) ins.push_back(tensorInfo(g, i));
            for (const auto& o : n.outputs) outs.push_back(tensorInfo(g, o));
            try {
                const profile::OpCost c = profile::estimateCost(n, ins, outs);
                r.flops = c.flops;
                r.params = c.params;
            } catch (...) {
                // The cost model is best effort on declared shapes; a failure leaves zeros.
            }
        }
        rows.push_back(std::move(r));
    });
    return rows;
}

OperatorTableModel::OperatorTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void OperatorTableModel::setRows(QVector<OperatorRow> rows) {
    beginResetModel();
    m_rows = std::move(rows);
    m_rowOfId.clear();
    for (int i = 0; i < m_rows.size(); ++i) m_rowOfId.insert(m_rows[i].id, i);
    endResetModel();
}

int OperatorTableModel::rowOf(ir::NodeId id) const { return m_rowOfId.value(id, -1); }

int OperatorTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : m_rows.size(); }
int OperatorTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant OperatorTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const OperatorRow& r = m_rows[index.row()];
    const int c = index.column();
    if (role == NodeIdRole) return QVariant::fromValue<quint32>(r.id);
    if (role == Qt::TextAlignmentRole)
        return c >= Flops && c <= GFlops ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    if (role == SortRole) {
        switch (c) {
        case Name: return r.name;
        case OpType: return r.opType;
        case OutputShape: return r.outputShape;
        case Flops: return r.flops;
        case Params: return static_cast<double>(r.params);
        case MedianMs: return r.profiled ? r.medianMs : -1.0;
        case P90Ms: return r.profiled ? r.p90Ms : -1.0;
        case Share: return r.profiled ? r.share : -1.0;
        case GFlops: return r.profiled ? r.gflops : -1.0;
        case Bound: return r.bound;
        }
        return {};
    }
    if (role == Qt::ToolTipRole && c == Bound && !r.bound.isEmpty())
        return r.bound == "compute" ? tr("Compute-bound: limited by the arithmetic peak") : tr("Memory-bound: limited by bandwidth");
    if (role == Qt::ForegroundRole && c == Bound && !r.bound.isEmpty())
        return QBrush(r.bound == "compute" ? QColor("#2f6db5") : QColor("#b8472f"));
    if (role != Qt::DisplayRole) return {};
    switch (c) {
    case Name: return r.name;
    case OpType: return r.opType;
    case OutputShape: return r.outputShape;
    case Flops: return r.flops > 0 ? humanCount(r.flops) : QString();
    case Params: return r.params > 0 ? humanCount(static_cast<double>(r.params)) : QString();
    case MedianMs: return r.profiled ? QString::number(r.medianMs, 'f', 3) : QString();
    case P90Ms: return r.profiled ? QString::number(r.p90Ms, 'f', 3) : QString();
    case Share: return r.profiled ? QString::number(r.share * 100.0, 'f', 1) + " %" : QString();
    case GFlops: return r.profiled && r.gflops > 0 ? QString::number(r.gflops, 'f', 1) : QString();
    case Bound: return r.bound;
    }
    return {};
}

QVariant OperatorTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount) return {};
    if (role == Qt::ToolTipRole) {
        static const char* tips[] = {"Node name", "Operator type", "Shape of the first output", "Floating-point operations per run",
                                     "Weight elements", "Median time per run (ms)", "90th percentile time per run (ms)",
                                     "Share of the total median latency", "Achieved GFLOP/s", "Roofline bound"};
        return tr(tips[section]);
    }
    if (role != Qt::DisplayRole) return {};
    static const char* names[] = {"Name", "Op type", "Output shape", "FLOPs", "Params", "Median ms", "p90 ms", "% total", "GFLOP/s", "Bound"};
    return tr(names[section]);
}

OperatorFilterModel::OperatorFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(OperatorTableModel::SortRole);
    setFilterCaseSensitivity(Qt::CaseInsensitive);
}

void OperatorFilterModel::setText(const QString& text) {
    m_text = text;
    invalidateFilter();
}

void OperatorFilterModel::setOpType(const QString& opType) {
    m_opType = opType;
    invalidateFilter();
}

bool OperatorFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    const QAbstractItemModel* m = sourceModel();
    const QString op = m->index(sourceRow, OperatorTableModel::OpType, sourceParent).data().toString();
    if (!m_opType.isEmpty() && op != m_opType) return false;
    if (m_text.isEmpty()) return true;
    const QString name = m->index(sourceRow, OperatorTableModel::Name, sourceParent).data().toString();
    return name.contains(m_text, Qt::CaseInsensitive) || op.contains(m_text, Qt::CaseInsensitive);
}

} // namespace opstudio::ui
