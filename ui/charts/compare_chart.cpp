#include "charts/compare_chart.h"

#include <QSet>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace opstudio::ui {

namespace {

void sortRows(QVector<CompareRow>& rows) {
    std::stable_sort(rows.begin(), rows.end(), [](const CompareRow& x, const CompareRow& y) {
        return std::max(x.aMs, x.bMs) > std::max(y.aMs, y.bMs);
    });
}

/// Union-find over node ids.
struct Groups {
    std::map<ir::NodeId, ir::NodeId> parent;
    ir::NodeId find(ir::NodeId x) {
        auto it = parent.find(x);
        if (it == parent.end()) {
            parent[x] = x;
            return x;
        }
        if (it->second == x) return x;
        const ir::NodeId r = find(it->second);
        parent[x] = r;
        return r;
    }
    void unite(ir::NodeId x, ir::NodeId y) {
        x = find(x);
        y = find(y);
        if (x != y) parent[std::max(x, y)] = std::min(x, y);
    }
};

std::vector<ir::NodeId> originalsOf(const ir::Graph& g, ir::NodeId id) {
    const ir::Node* n = g.node(id);
    if (n && !n->provenance.empty()) return n->provenance;
    return {id};
}

} // namespace

QVector<CompareRow> compareByOpType(const profile::Profile& a, const profile::Profile& b) {
    std::map<std::string, CompareRow> rows;
    for (const auto& t : a.opTypes)
        rows[t.opType].aMs += t.totalMs;
    for (const auto& t : b.opTypes)
        rows[t.opType].bMs += t.totalMs;
    QVector<CompareRow> out;
    for (auto& [op, r] : rows) {
        r.label = QString::fromStdString(op);
        r.detail = r.label;
        out.push_back(r);
    }
    sortRows(out);
    return out;
}

QVector<CompareRow> compareByNodeGroup(const ir::Model& modelA, const profile::Profile& a,
                                       const ir::Model& modelB, const profile::Profile& b,
                                       const ir::Model* baseline) {
    // Every node (of A and of B) ties together the original ids it stands for; connected ids form
    // one group, so a fusion in B and the separate originals in A land in the same row.
    Groups groups;
    auto tie = [&](const ir::Model& m, const profile::Profile& p) {
        for (const auto& n : p.nodes) {
            if (n.depth != 0) continue;
            const auto ids = originalsOf(*m.graph, n.id);
            for (ir::NodeId id : ids)
                groups.unite(ids.front(), id);
        }
    };
    tie(modelA, a);
    tie(modelB, b);
    struct Acc {
        CompareRow row;
        QStringList aOps, bOps;
        QSet<ir::NodeId> originals;
    };
    std::map<ir::NodeId, Acc> acc;
    auto add = [&](const ir::Model& m, const profile::Profile& p, bool isA) {
        for (const auto& n : p.nodes) {
            if (n.depth != 0) continue;
            const auto ids = originalsOf(*m.graph, n.id);
            Acc& g = acc[groups.find(ids.front())];
            (isA ? g.row.aMs : g.row.bMs) += n.time.median;
            (isA ? g.aOps : g.bOps) << QString::fromStdString(n.opType);
            for (ir::NodeId id : ids)
                g.originals.insert(id);
        }
    };
    add(modelA, a, true);
    add(modelB, b, false);
    const ir::Graph& names = baseline ? *baseline->graph : *modelA.graph;
    QVector<CompareRow> out;
    for (auto& [root, g] : acc) {
        QVector<ir::NodeId> ids(g.originals.begin(), g.originals.end());
        std::sort(ids.begin(), ids.end());
        g.row.originals = ids;
        const ir::Node* first = names.node(ids.front());
        QString label = first ? QString::fromStdString(first->name) : QStringLiteral("#%1").arg(ids.front());
        if (label.isEmpty()) label = QStringLiteral("#%1").arg(ids.front());
        if (label.size() > 26) label = "…" + label.right(25);
        if (ids.size() > 1) label += QStringLiteral(" +%1").arg(ids.size() - 1);
        g.row.label = label;
        const QString aSide = g.aOps.isEmpty() ? QObject::tr("(removed)") : g.aOps.join(" + ");
        const QString bSide = g.bOps.isEmpty() ? QObject::tr("(removed)") : g.bOps.join(" + ");
        QStringList nodeNames;
        for (ir::NodeId id : ids)
            if (const ir::Node* n = names.node(id)) nodeNames << QString::fromStdString(n->name);
        g.row.detail =
            QStringLiteral("%1 → %2<br><small>%3</small>")
                .arg(aSide.toHtmlEscaped(), bSide.toHtmlEscaped(), nodeNames.join(", ").toHtmlEscaped());
        out.push_back(g.row);
    }
    sortRows(out);
    return out;
}

CompareChart::CompareChart(QWidget* parent) : QCustomPlot(parent) {
    setBackground(QColor("#ffffff"));
    const QFont f(QStringLiteral("DejaVu Sans"), 8);
    yAxis->setTickLabelFont(f);
    xAxis->setTickLabelFont(f);
    xAxis->setLabelFont(f);
    xAxis->setLabel(tr("median ms per run"));
    yAxis->setRangeReversed(true);
    yAxis->grid()->setVisible(false);
    xAxis->grid()->setPen(QPen(QColor("#e3e6e9"), 1));
    yAxis->setBasePen(QPen(QColor("#9aa3ab")));
    xAxis->setBasePen(QPen(QColor("#9aa3ab")));
    yAxis->setTickPen(Qt::NoPen);
    yAxis->setSubTickPen(Qt::NoPen);
    m_group = new QCPBarsGroup(this);
    m_group->setSpacing(1);
    m_a = new QCPBars(yAxis, xAxis);
    m_b = new QCPBars(yAxis, xAxis);
    for (QCPBars* s : {m_a, m_b}) {
        s->setWidth(0.38);
        s->setPen(Qt::NoPen);
        s->setBarsGroup(m_group);
    }
    m_a->setBrush(QColor("#9aa0a6"));
    m_b->setBrush(QColor("#e8743b"));
    legend->setVisible(true);
    legend->setFont(f);
    legend->setBorderPen(QPen(QColor("#d0d4d8")));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    setMouseTracking(true);
    setRows({}, tr("A"), tr("B"));
}

void CompareChart::setRows(QVector<CompareRow> rows, const QString& nameA, const QString& nameB, int topN) {
    if (rows.size() > topN && topN > 0) {
        CompareRow other;
        for (int i = topN; i < rows.size(); ++i) {
            other.aMs += rows[i].aMs;
            other.bMs += rows[i].bMs;
        }
        other.label = tr("other (%1)").arg(rows.size() - topN);
        other.detail = tr("%1 smaller rows summed").arg(rows.size() - topN);
        rows.resize(topN);
        rows.push_back(other);
    }
    m_rows = std::move(rows);
    m_nameA = nameA;
    m_nameB = nameB;
    m_a->setName(nameA);
    m_b->setName(nameB);
    QVector<double> keys, av, bv;
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    double maxMs = 0;
    for (int i = 0; i < m_rows.size(); ++i) {
        keys << i;
        av << m_rows[i].aMs;
        bv << m_rows[i].bMs;
        ticker->addTick(i, m_rows[i].label);
        maxMs = std::max({maxMs, m_rows[i].aMs, m_rows[i].bMs});
    }
    yAxis->setTicker(ticker);
    m_a->setData(keys, av, true);
    m_b->setData(keys, bv, true);
    yAxis->setRange(-0.6, std::max<double>(m_rows.size(), 1) - 0.4);
    xAxis->setRange(0, maxMs > 0 ? maxMs * 1.08 : 1);
    replot(QCustomPlot::rpQueuedReplot);
}

int CompareChart::rowAt(const QPoint& pos) const {
    if (m_rows.isEmpty() || !axisRect()->rect().contains(pos)) return -1;
    const double key = yAxis->pixelToCoord(pos.y());
    const int i = static_cast<int>(std::lround(key));
    if (i < 0 || i >= m_rows.size() || std::fabs(key - i) > 0.45) return -1;
    return i;
}

void CompareChart::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    const int i = rowAt(event->pos());
    if (i < 0) {
        QToolTip::hideText();
        return;
    }
    const CompareRow& r = m_rows[i];
    QString change;
    if (r.aMs > 0 && r.bMs > 0)
        change = tr("%1×").arg(r.aMs / r.bMs, 0, 'f', 2);
    else if (r.bMs == 0)
        change = tr("gone");
    else
        change = tr("new");
    const QString text = QStringLiteral("<b>%1</b><br>%2: %3 ms<br>%4: %5 ms<br>%6<br>%7")
                             .arg(r.label.toHtmlEscaped(), m_nameA.toHtmlEscaped())
                             .arg(r.aMs, 0, 'f', 3)
                             .arg(m_nameB.toHtmlEscaped())
                             .arg(r.bMs, 0, 'f', 3)
                             .arg(change, r.detail);
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void CompareChart::mousePressEvent(QMouseEvent* event) {
    QCustomPlot::mousePressEvent(event);
    if (event->button() == Qt::LeftButton) {
        const int i = rowAt(event->pos());
        if (i >= 0) Q_EMIT rowActivated(i);
    }
}

} // namespace opstudio::ui
