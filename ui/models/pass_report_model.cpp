#include "models/pass_report_model.h"

#include <QBrush>
#include <QColor>
#include <QFont>
#include <QLocale>

#include <algorithm>
#include <map>

namespace opstudio::ui {

namespace {
QString formatBytes(int64_t b) {
    if (b == 0) return QStringLiteral("0");
    const QString sign = b < 0 ? QStringLiteral("−") : QString();
    const double a = static_cast<double>(b < 0 ? -b : b);
    if (a >= 1e6) return sign + QStringLiteral("%1 MB").arg(a / 1e6, 0, 'f', 2);
    if (a >= 1e3) return sign + QStringLiteral("%1 kB").arg(a / 1e3, 0, 'f', 1);
    return sign + QStringLiteral("%1 B").arg(a, 0, 'f', 0);
}
} // namespace

PassReportModel::PassReportModel(QObject* parent) : QAbstractItemModel(parent) {}

void PassReportModel::setReports(std::vector<passes::PassReport> reports) {
    beginResetModel();
    m_reports = std::move(reports);
    endResetModel();
}

int PassReportModel::totalSkipped() const {
    int n = 0;
    for (const auto& r : m_reports)
        n += static_cast<int>(r.skipped.size());
    return n;
}

QModelIndex PassReportModel::index(int row, int column, const QModelIndex& parent) const {
    if (row < 0 || column < 0 || column >= ColumnCount) return {};
    if (!parent.isValid()) {
        if (row >= static_cast<int>(m_reports.size())) return {};
        return createIndex(row, column, quintptr(0));
    }
    if (parent.internalId() != 0 || parent.column() != 0) return {};
    if (row >= rowCount(parent)) return {};
    return createIndex(row, column, quintptr(parent.row() + 1));
}

QModelIndex PassReportModel::parent(const QModelIndex& child) const {
    if (!child.isValid() || child.internalId() == 0) return {};
    return createIndex(static_cast<int>(child.internalId() - 1), 0, quintptr(0));
}

int PassReportModel::rowCount(const QModelIndex& parent) const {
    if (!parent.isValid()) return static_cast<int>(m_reports.size());
    if (parent.internalId() != 0 || parent.column() != 0) return 0;
    const auto& r = m_reports[parent.row()];
    return static_cast<int>(r.skipped.size() + r.notes.size());
}

int PassReportModel::columnCount(const QModelIndex&) const {
    return ColumnCount;
}

QVariant PassReportModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
    const int col = index.column();
    if (index.internalId() != 0) {
        const auto& r = m_reports[index.internalId() - 1];
        const int row = index.row();
        const bool isSkip = row < static_cast<int>(r.skipped.size());
        if (isSkip) {
            const auto& s = r.skipped[row];
            if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
                if (col == Pass)
                    return QStringLiteral("%1 · %2").arg(QString::fromStdString(s.node),
                                                         QString::fromStdString(s.opType));
                if (col == Details) return tr("skipped: %1").arg(QString::fromStdString(s.reason));
                if (col == Skipped && role == Qt::DisplayRole) return {};
            }
            if (role == NodeNameRole) return QString::fromStdString(s.node);
            if (role == SortRole)
                return col == Pass ? QString::fromStdString(s.node) : QString::fromStdString(s.reason);
            if (role == Qt::ForegroundRole && col == Details) return QBrush(QColor("#b06000"));
            return {};
        }
        const auto& note = r.notes[row - r.skipped.size()];
        if (role == Qt::DisplayRole || role == Qt::ToolTipRole || role == SortRole) {
            if (col == Pass) return tr("note");
            if (col == Details) return QString::fromStdString(note);
        }
        if (role == Qt::ForegroundRole) return QBrush(QColor("#5f6368"));
        return {};
    }
    const auto& r = m_reports[index.row()];
    const int skipped = static_cast<int>(r.skipped.size());
    if (role == Qt::DisplayRole) {
        switch (col) {
        case Pass:
            return QString::fromStdString(r.pass);
        case Applied:
            return r.applied;
        case Skipped:
            return skipped;
        case Nodes:
            return QStringLiteral("−%1 / +%2").arg(r.nodesRemoved).arg(r.nodesAdded);
        case BytesSaved:
            return formatBytes(r.bytesSaved());
        case Ms:
            return QString::number(r.wallMs, 'f', 1);
        case Details: {
            if (skipped > 0) {
                // The most frequent reason says most about why a fusion did not happen.
                std::map<std::string, int> reasons;
                for (const auto& s : r.skipped)
                    ++reasons[s.reason];
                auto best =
                    std::max_element(reasons.begin(), reasons.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
                return tr("%n candidate(s) skipped, e.g. %1", "", skipped)
                    .arg(QString::fromStdString(best->first));
            }
            if (!r.notes.empty()) return QString::fromStdString(r.notes.front());
            return r.changed() ? tr("applied") : QString();
        }
        }
        return {};
    }
    if (role == SortRole) {
        switch (col) {
        case Pass:
            return index.row();
        case Applied:
            return r.applied;
        case Skipped:
            return skipped;
        case Nodes:
            return r.nodesRemoved - r.nodesAdded;
        case BytesSaved:
            return static_cast<qlonglong>(r.bytesSaved());
        case Ms:
            return r.wallMs;
        case Details:
            return skipped;
        }
        return {};
    }
    if (role == Qt::TextAlignmentRole && col >= Applied && col <= Ms)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ForegroundRole) {
        if (col == Skipped && skipped > 0) return QBrush(QColor("#b06000"));
        if (col == Applied && r.applied > 0) return QBrush(QColor("#1e8e3e"));
        if (!r.changed() && skipped == 0) return QBrush(QColor("#80868b"));
    }
    if (role == Qt::FontRole && col == Pass && r.changed()) {
        QFont f;
        f.setBold(true);
        return f;
    }
    if (role == Qt::ToolTipRole) {
        QString t = QStringLiteral("<b>%1</b><br>").arg(QString::fromStdString(r.pass).toHtmlEscaped());
        t += tr("%1 applied, %2 skipped · nodes %3 → %4 · %5 ms")
                 .arg(r.applied)
                 .arg(skipped)
                 .arg(r.nodesBefore)
                 .arg(r.nodesAfter)
                 .arg(r.wallMs, 0, 'f', 2);
        for (const auto& n : r.notes)
            t += "<br>" + QString::fromStdString(n).toHtmlEscaped();
        return t;
    }
    return {};
}

QVariant PassReportModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount) return {};
    if (role == Qt::DisplayRole) {
        static const char* names[] = {"Pass",        "Applied", "Skipped", "Nodes −/+",
                                      "Bytes saved", "ms",      "Details"};
        return tr(names[section]);
    }
    if (role == Qt::ToolTipRole) {
        static const char* tips[] = {"Pass, in run order; expand to see skipped candidates and notes",
                                     "Rewrites or changes the pass made",
                                     "Candidates the pass looked at but left alone (expand for the reasons)",
                                     "Nodes removed / added by the pass",
                                     "Weight bytes saved (negative: the pass added weights)",
                                     "Wall time of the pass",
                                     "Why candidates were skipped, and notes"};
        return tr(tips[section]);
    }
    return {};
}

} // namespace opstudio::ui
