#include "docks/properties_panel.h"

#include "docks/weight_stats.h"
#include "node_format.h"
#include "op_metadata.h"

#include <QComboBox>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>
#include <qcustomplot.h>

namespace opstudio::ui {

namespace {
QString section(const QString& title) {
    return QStringLiteral("<p style='margin-top:10px; margin-bottom:2px; color:#5b6770; font-weight:bold;'>%1</p>").arg(title);
}
QString row(const QString& a, const QString& b, const QString& c = QString()) {
    QString r = QStringLiteral("<tr><td style='padding-right:10px; color:#39424a;'>%1</td><td style='padding-right:10px;'>%2</td>").arg(a, b);
    if (!c.isNull()) r += QStringLiteral("<td style='color:#5b6770;'>%1</td>").arg(c);
    return r + "</tr>";
}
} // namespace

PropertiesPanel::PropertiesPanel(QWidget* parent) : QWidget(parent) {
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    outer->addWidget(scroll);
    auto* content = new QWidget(scroll);
    auto* layout = new QVBoxLayout(content);
    layout->setContentsMargins(10, 8, 10, 8);
    m_header = new QLabel(content);
    m_header->setTextFormat(Qt::RichText);
    m_header->setWordWrap(true);
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_doc = new QLabel(content);
    m_doc->setWordWrap(true);
    m_doc->setStyleSheet("color: #39424a;");
    m_body = new QLabel(content);
    m_body->setTextFormat(Qt::RichText);
    m_body->setWordWrap(true);
    m_body->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_body->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    layout->addWidget(m_header);
    layout->addWidget(m_doc);
    layout->addWidget(m_body);

    m_weightBox = new QWidget(content);
    auto* wl = new QVBoxLayout(m_weightBox);
    wl->setContentsMargins(0, 6, 0, 0);
    auto* wt = new QLabel(tr("<b style='color:#5b6770'>Weights</b>"), m_weightBox);
    m_weightCombo = new QComboBox(m_weightBox);
    m_stats = new QLabel(m_weightBox);
    m_stats->setTextFormat(Qt::RichText);
    m_histogram = new QCustomPlot(m_weightBox);
    m_histogram->setMinimumHeight(150);
    m_histogram->setMaximumHeight(220);
    const QFont f(QStringLiteral("DejaVu Sans"), 7);
    m_histogram->xAxis->setTickLabelFont(f);
    m_histogram->yAxis->setTickLabelFont(f);
    m_histogram->yAxis->grid()->setPen(QPen(QColor("#e3e6e9")));
    m_histogram->xAxis->grid()->setVisible(false);
    m_bars = new QCPBars(m_histogram->xAxis, m_histogram->yAxis);
    m_bars->setPen(Qt::NoPen);
    m_bars->setBrush(QColor("#2f6db5"));
    wl->addWidget(wt);
    wl->addWidget(m_weightCombo);
    wl->addWidget(m_stats);
    wl->addWidget(m_histogram);
    layout->addWidget(m_weightBox);
    layout->addStretch(1);
    scroll->setWidget(content);
    connect(m_weightCombo, &QComboBox::currentIndexChanged, this, &PropertiesPanel::showWeight);
    clear();
}

QString PropertiesPanel::headerText() const { return m_header->text(); }

void PropertiesPanel::clear() {
    m_graph = nullptr;
    m_node = ir::kNoNode;
    m_header->setText(tr("<span style='color:#8d979f'>Select a node in the graph, the table or the chart.</span>"));
    m_doc->clear();
    m_doc->hide();
    m_body->clear();
    m_weightBox->hide();
}

void PropertiesPanel::showNode(const ir::Graph* graph, ir::NodeId id, const profile::NodeProfile* prof) {
    const ir::Node* n = graph ? graph->node(id) : nullptr;
    if (!n) {
        clear();
        return;
    }
    m_graph = graph;
    m_node = id;
    const QString op = QString::fromStdString(n->opType);
    const OpCategory& cat = OpMetadata::instance().category(op);
    m_header->setText(QStringLiteral("<span style='font-size:14pt; font-weight:bold;'>%1</span>"
                                     "&nbsp;&nbsp;<span style='background:%2; color:white;'>&nbsp;%3&nbsp;</span>"
                                     "<br><span style='color:#5b6770;'>%4%5</span>")
                          .arg(op.toHtmlEscaped(), cat.color.name(), cat.name.toHtmlEscaped(), nodeDisplayName(*n).toHtmlEscaped(),
                               n->domain.empty() ? QString() : " · " + QString::fromStdString(n->domain).toHtmlEscaped()));
    const QString doc = OpMetadata::instance().doc(op);
    m_doc->setText(doc);
    m_doc->setVisible(!doc.isEmpty());

    QString html;
    if (prof) {
        html += section(tr("Measured"));
        html += "<table>";
        html += row(tr("median"), QString::number(prof->time.median, 'f', 3) + " ms", tr("p90 %1 ms").arg(prof->time.p90, 0, 'f', 3));
        html += row(tr("share"), QString::number(prof->share * 100, 'f', 1) + " %");
        if (prof->cost.flops > 0) html += row(tr("FLOPs"), humanCount(prof->cost.flops), QString::number(prof->gflops, 'f', 1) + " GFLOP/s");
        html += row(tr("bytes"), humanBytes(prof->cost.bytes()), QString::number(prof->gbps, 'f', 1) + " GB/s");
        if (!prof->bound.empty())
            html += row(tr("bound"), QString::fromStdString(prof->bound), tr("%1 % of roofline").arg(prof->rooflinePercent, 0, 'f', 0));
        if (!prof->kernelPath.empty()) html += row(tr("kernel"), QString::fromStdString(prof->kernelPath));
        html += "</table>";
    }
    if (!n->attributes.empty()) {
        html += section(tr("Attributes"));
        html += "<table>";
        for (const auto& a : n->attributes)
            html += row(QString::fromStdString(a.name).toHtmlEscaped(), attributeValueText(a).toHtmlEscaped());
        html += "</table>";
    }
    auto valueRows = [&](const std::vector<std::string>& names) {
        QString t = "<table>";
        for (const auto& name : names) {
            if (name.empty()) continue;
            QString dtype, shape;
            if (const ir::Tensor* c = graph->constantValue(name)) {
                dtype = QString::fromLatin1(ir::dtypeName(c->dtype()).data());
                shape = bracketShape(c->shape());
            } else if (const ir::Value* v = graph->findValue(name)) {
                dtype = QString::fromLatin1(ir::dtypeName(v->dtype).data());
                shape = valueShapeText(v->shape);
            }
            t += row(QString::fromStdString(name).toHtmlEscaped(), dtype, shape);
        }
        return t + "</table>";
    };
    html += section(tr("Inputs")) + valueRows(n->inputs);
    html += section(tr("Outputs")) + valueRows(n->outputs);
    const auto subs = n->subgraphs();
    if (!subs.empty()) {
        html += section(tr("Bodies (double-click the node to open)"));
        html += "<table>";
        for (const ir::Graph* g : subs)
            html += row(QString::fromStdString(g->name).toHtmlEscaped(), tr("%1 nodes").arg(g->totalNodeCount()));
        html += "</table>";
    }
    m_body->setText(html);

    m_weightNames.clear();
    m_weightCombo->blockSignals(true);
    m_weightCombo->clear();
    for (const auto& name : n->inputs) {
        const ir::Tensor* t = name.empty() ? nullptr : graph->constantValue(name);
        if (!t || t->dtype() == ir::DType::String) continue;
        m_weightNames << QString::fromStdString(name);
        m_weightCombo->addItem(QString::fromStdString(name) + "  " + bracketShape(t->shape()));
    }
    m_weightCombo->blockSignals(false);
    m_weightBox->setVisible(!m_weightNames.isEmpty());
    if (!m_weightNames.isEmpty()) showWeight(0);
}

void PropertiesPanel::showWeight(int index) {
    if (!m_graph || index < 0 || index >= m_weightNames.size()) return;
    const ir::Tensor* t = m_graph->constantValue(m_weightNames[index].toStdString());
    if (!t) return;
    const WeightStats s = computeWeightStats(*t);
    m_stats->setText(QStringLiteral("<table>") + row(tr("shape"), bracketShape(t->shape()), QString::fromLatin1(ir::dtypeName(t->dtype()).data())) +
                     row(tr("elements"), humanCount(static_cast<double>(t->numel())), humanBytes(static_cast<double>(t->byteSize()))) +
                     row(tr("min / max"), QString::number(s.min, 'g', 4) + " / " + QString::number(s.max, 'g', 4)) +
                     row(tr("mean / std"), QString::number(s.mean, 'g', 4) + " / " + QString::number(s.std, 'g', 4)) +
                     row(tr("zeros"), QString::number(s.zeroFraction * 100, 'f', 2) + " %", s.sampled ? tr("(sampled)") : QString()) +
                     "</table>");
    QVector<double> keys(s.binCenters.begin(), s.binCenters.end()), values(s.binCounts.begin(), s.binCounts.end());
    m_bars->setData(keys, values, true);
    if (keys.size() > 1) m_bars->setWidth((keys[1] - keys[0]) * 0.95);
    double maxCount = 1;
    for (double v : values) maxCount = std::max(maxCount, v);
    const double pad = keys.size() > 1 ? (keys[1] - keys[0]) : 0.5;
    m_histogram->xAxis->setRange(keys.isEmpty() ? 0 : keys.front() - pad, keys.isEmpty() ? 1 : keys.back() + pad);
    m_histogram->yAxis->setRange(0, maxCount * 1.05);
    m_histogram->replot();
}

} // namespace opstudio::ui
