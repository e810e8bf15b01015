#include "charts/latency_chart.h"

#include "op_metadata.h"

#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace opstudio::ui {

LatencyChart::LatencyChart(QWidget* parent) : QCustomPlot(parent) {
    setBackground(QColor("#ffffff"));
    const QFont f(QStringLiteral("DejaVu Sans"), 8);
    yAxis->setTickLabelFont(f);
    xAxis->setTickLabelFont(f);
    xAxis->setLabelFont(f);
    xAxis->setLabel(tr("median ms per run"));
    yAxis->setRangeReversed(true); // largest bar on top
    yAxis->grid()->setVisible(false);
    xAxis->grid()->setPen(QPen(QColor("#e3e6e9"), 1));
    yAxis->setBasePen(QPen(QColor("#9aa3ab")));
    xAxis->setBasePen(QPen(QColor("#9aa3ab")));
    yAxis->setTickPen(Qt::NoPen);
    yAxis->setSubTickPen(Qt::NoPen);
    m_series = new QCPBars(yAxis, xAxis);
    m_series->setWidth(0.7);
    m_series->setPen(Qt::NoPen);
    m_series->setBrush(QColor("#e8743b"));
    m_highlight = new QCPBars(yAxis, xAxis);
    m_highlight->setWidth(0.7);
    m_highlight->setPen(QPen(QColor("#0a84ff"), 1.5));
    m_highlight->setBrush(QColor("#0a84ff"));
    setMouseTracking(true);
    rebuild();
}

void LatencyChart::setProfile(std::shared_ptr<const profile::Profile> profile) {
    m_profile = std::move(profile);
    rebuild();
}

void LatencyChart::setMode(Mode mode) {
    m_mode = mode;
    rebuild();
}

void LatencyChart::setTopN(int n) {
    m_topN = std::max(1, n);
    rebuild();
}

void LatencyChart::rebuild() {
    m_bars.clear();
    m_highlighted = -1;
    if (m_profile) {
        if (m_mode == Mode::OpTypes) {
            for (const auto& t : m_profile->opTypes) {
                Bar b;
                b.opType = QString::fromStdString(t.opType);
                b.label = QStringLiteral("%1 ×%2").arg(b.opType).arg(t.count);
                b.ms = t.totalMs;
                b.share = t.share;
                b.count = t.count;
                m_bars.push_back(b);
            }
        } else {
            std::vector<const profile::NodeProfile*> nodes;
            for (const auto& n : m_profile->nodes)
                if (n.depth == 0) nodes.push_back(&n);
            std::stable_sort(nodes.begin(), nodes.end(),
                             [](const auto* a, const auto* b) { return a->time.median > b->time.median; });
            for (size_t i = 0; i < nodes.size() && static_cast<int>(i) < m_topN; ++i) {
                Bar b;
                b.node = nodes[i]->id;
                b.opType = QString::fromStdString(nodes[i]->opType);
                QString name = QString::fromStdString(nodes[i]->name);
                if (name.size() > 28) name = "…" + name.right(27);
                b.label = name;
                b.ms = nodes[i]->time.median;
                b.share = nodes[i]->share;
                m_bars.push_back(b);
            }
        }
    }
    QVector<double> keys, values;
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    double maxMs = 0;
    for (int i = 0; i < m_bars.size(); ++i) {
        keys << i;
        values << m_bars[i].ms;
        ticker->addTick(i, m_bars[i].label);
        maxMs = std::max(maxMs, m_bars[i].ms);
    }
    yAxis->setTicker(ticker);
    m_series->setData(keys, values, true);
    m_highlight->data()->clear();
    yAxis->setRange(-0.6, std::max<double>(m_bars.size(), 1) - 0.4);
    xAxis->setRange(0, maxMs > 0 ? maxMs * 1.08 : 1);
    replot(QCustomPlot::rpQueuedReplot);
}

void LatencyChart::highlight(ir::NodeId node, const QString& opType) {
    m_highlighted = -1;
    for (int i = 0; i < m_bars.size(); ++i) {
        const bool hit = m_mode == Mode::TopNodes ? (node != ir::kNoNode && m_bars[i].node == node) : m_bars[i].opType == opType;
        if (hit) {
            m_highlighted = i;
            break;
        }
    }
    m_highlight->data()->clear();
    if (m_highlighted >= 0) m_highlight->addData(m_highlighted, m_bars[m_highlighted].ms);
    replot(QCustomPlot::rpQueuedReplot);
}

int LatencyChart::barAt(const QPoint& pos) const {
    if (m_bars.isEmpty() || !axisRect()->rect().contains(pos)) return -1;
    const double key = yAxis->pixelToCoord(pos.y());
    const int i = static_cast<int>(std::lround(key));
    if (i < 0 || i >= m_bars.size() || std::fabs(key - i) > 0.45) return -1;
    return i;
}

void LatencyChart::activateBar(int index) {
    if (index < 0 || index >= m_bars.size()) return;
    if (m_mode == Mode::TopNodes) Q_EMIT nodeActivated(m_bars[index].node);
    else Q_EMIT opTypeActivated(m_bars[index].opType);
}

void LatencyChart::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    const int i = barAt(event->pos());
    if (i < 0) {
        QToolTip::hideText();
        return;
    }
    const Bar& b = m_bars[i];
    QString text = QStringLiteral("<b>%1</b><br>%2 ms median · %3 % of total")
                       .arg(b.label.toHtmlEscaped())
                       .arg(b.ms, 0, 'f', 3)
                       .arg(b.share * 100, 0, 'f', 1);
    if (m_mode == Mode::TopNodes) text += "<br>" + b.opType.toHtmlEscaped();
    else text += QStringLiteral("<br>%1 node(s) · %2").arg(b.count).arg(OpMetadata::instance().category(b.opType).name);
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void LatencyChart::mousePressEvent(QMouseEvent* event) {
    QCustomPlot::mousePressEvent(event);
    if (event->button() == Qt::LeftButton) activateBar(barAt(event->pos()));
}

} // namespace opstudio::ui
