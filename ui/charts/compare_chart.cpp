#include "charts/compare_chart.h"

#include <QSet>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>
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

namespace opstudio::ui {

ParetoChart::ParetoChart(QWidget* parent) : QCustomPlot(parent) {
    setBackground(QColor("#ffffff"));
    const QFont f(QStringLiteral("DejaVu Sans"), 8);
    for (QCPAxis* a : {xAxis, yAxis}) {
        a->setTickLabelFont(f);
        a->setLabelFont(f);
        a->setBasePen(QPen(QColor("#9aa3ab")));
        a->grid()->setPen(QPen(QColor("#e3e6e9"), 1));
    }
    xAxis->setLabel(tr("latency ms (median)"));
    yAxis->setLabel(tr("max abs error vs baseline"));
    yAxis->setScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> log(new QCPAxisTickerLog);
    yAxis->setTicker(log);
    yAxis->setNumberFormat("eb");
    yAxis->setNumberPrecision(0);
    m_front = addGraph();
    m_front->setPen(QPen(QColor("#e8743b"), 1.5, Qt::DashLine));
    m_front->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssDisc, QColor("#e8743b"), QColor("#e8743b"), 9));
    m_all = addGraph();
    m_all->setLineStyle(QCPGraph::lsNone);
    m_all->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor("#5f6368"), 1.5), Qt::white, 8));
    m_base = addGraph();
    m_base->setLineStyle(QCPGraph::lsNone);
    m_base->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssSquare, QColor("#5f6368"), QColor("#9aa0a6"), 8));
    setPoints({});
}

double ParetoChart::yOf(const ParetoPoint& p) const {
    return std::max(p.maxAbsError, m_floor);
}

QVector<int> ParetoChart::front() const {
    QVector<const ParetoPoint*> sorted;
    for (const auto& p : m_points)
        if (p.latencyMs > 0 && p.maxAbsError >= 0) sorted << &p;
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
        return a->latencyMs != b->latencyMs ? a->latencyMs < b->latencyMs : a->maxAbsError < b->maxAbsError;
    });
    // Walking from fastest to slowest, a point is on the front when it is more accurate than every faster
    // one.
    QVector<int> ids;
    double best = std::numeric_limits<double>::infinity();
    for (const auto* p : sorted)
        if (p->maxAbsError < best) {
            best = p->maxAbsError;
            ids << p->id;
        }
    return ids;
}

void ParetoChart::setPoints(QVector<ParetoPoint> points) {
    m_points = std::move(points);
    clearItems();
    double minErr = std::numeric_limits<double>::infinity(), maxErr = 0, maxMs = 0,
           minMs = std::numeric_limits<double>::infinity();
    for (const auto& p : m_points) {
        if (p.maxAbsError > 0) minErr = std::min(minErr, p.maxAbsError);
        maxErr = std::max(maxErr, p.maxAbsError);
        if (p.latencyMs > 0) {
            maxMs = std::max(maxMs, p.latencyMs);
            minMs = std::min(minMs, p.latencyMs);
        }
    }
    // Exact results (error 0) sit on a floor line two decades under the smallest non-zero error.
    m_floor = std::isfinite(minErr) ? minErr / 100 : 1e-9;
    m_all->data()->clear();
    m_base->data()->clear();
    m_front->data()->clear();
    const QVector<int> frontIds = front();
    QVector<double> fx, fy;
    for (int id : frontIds)
        for (const auto& p : m_points)
            if (p.id == id) {
                fx << p.latencyMs;
                fy << yOf(p);
            }
    m_front->setData(fx, fy, true);
    const QFont f(QStringLiteral("DejaVu Sans"), 8);
    for (const auto& p : m_points) {
        if (p.latencyMs <= 0 || p.maxAbsError < 0) continue;
        (p.baseline ? m_base : m_all)->addData(p.latencyMs, yOf(p));
        auto* t = new QCPItemText(this);
        t->position->setCoords(p.latencyMs, yOf(p));
        t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        t->setPadding(QMargins(6, 0, 0, 4));
        t->setText(p.maxAbsError == 0 && !p.baseline ? p.label + tr(" (exact)") : p.label);
        t->setFont(f);
        t->setColor(frontIds.contains(p.id) ? QColor("#b04a1a") : QColor("#3c4043"));
    }
    const double span = std::isfinite(minMs) ? std::max(maxMs - minMs, maxMs * 0.1) : 1;
    xAxis->setRange(std::isfinite(minMs) ? std::max(0.0, minMs - span * 0.15) : 0,
                    maxMs > 0 ? maxMs + span * 0.35 : 1);
    yAxis->setRange(m_floor / 3, std::max(maxErr, m_floor * 10) * 5);
    replot(QCustomPlot::rpQueuedReplot);
}

int ParetoChart::pointAt(const QPoint& pos) const {
    int best = -1;
    double bestD = 12 * 12;
    for (int i = 0; i < m_points.size(); ++i) {
        const auto& p = m_points[i];
        if (p.latencyMs <= 0 || p.maxAbsError < 0) continue;
        const double dx = xAxis->coordToPixel(p.latencyMs) - pos.x();
        const double dy = yAxis->coordToPixel(yOf(p)) - pos.y();
        if (dx * dx + dy * dy < bestD) {
            bestD = dx * dx + dy * dy;
            best = i;
        }
    }
    return best;
}

void ParetoChart::mousePressEvent(QMouseEvent* event) {
    QCustomPlot::mousePressEvent(event);
    const int i = pointAt(event->pos());
    if (event->button() == Qt::LeftButton && i >= 0) Q_EMIT experimentActivated(m_points[i].id);
}

} // namespace opstudio::ui
