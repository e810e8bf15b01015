#include "docks/latency_panel.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QStackedLayout>
#include <QTabBar>
#include <QToolButton>
#include <QVBoxLayout>

namespace opstudio::ui {

LatencyPanel::LatencyPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    m_tabs = new QTabBar(this);
    m_tabs->addTab(tr("By op type"));
    m_tabs->addTab(tr("Top nodes"));
    m_tabs->setDrawBase(false);
    m_tabs->setExpanding(false);
    m_tabs->setUsesScrollButtons(false);
    m_topN = new QSpinBox(this);
    m_topN->setRange(5, 200);
    m_topN->setValue(20);
    m_topN->setPrefix(tr("top "));
    m_topN->setEnabled(false);
    m_total = new QLabel(this);
    m_total->setStyleSheet("color: #5b6770;");
    auto* exportButton = new QToolButton(this);
    exportButton->setText(tr("Export…"));
    exportButton->setToolTip(tr("Save the chart as PNG or PDF"));
    bar->addWidget(m_tabs);
    bar->addWidget(m_topN);
    bar->addStretch(1);
    bar->addWidget(m_total);
    bar->addWidget(exportButton);
    layout->addLayout(bar);

    m_stack = new QStackedLayout;
    m_empty = new QLabel(tr("No profile yet.\nRun ▸ Profile… (F5) to measure every operator."), this);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setStyleSheet("color: #8d979f;");
    m_chart = new LatencyChart(this);
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_chart);
    layout->addLayout(m_stack, 1);

    connect(m_tabs, &QTabBar::currentChanged, this, [this](int i) {
        m_chart->setMode(i == 0 ? LatencyChart::Mode::OpTypes : LatencyChart::Mode::TopNodes);
        m_topN->setEnabled(i == 1);
    });
    connect(m_topN, &QSpinBox::valueChanged, m_chart, &LatencyChart::setTopN);
    connect(exportButton, &QToolButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), "latency.png", tr("PNG image (*.png);;PDF (*.pdf)"));
        if (!path.isEmpty()) exportChart(path);
    });
}

void LatencyPanel::setProfile(std::shared_ptr<const profile::Profile> profile) {
    m_stack->setCurrentIndex(profile ? 1 : 0);
    m_total->setText(profile ? tr("total %1 ms · %2 runs").arg(profile->total.median, 0, 'f', 3).arg(profile->runs) : QString());
    m_chart->setProfile(std::move(profile));
}

bool LatencyPanel::exportChart(const QString& path) {
    if (path.endsWith(".pdf", Qt::CaseInsensitive)) return m_chart->savePdf(path, 1000, 600);
    return m_chart->savePng(path, 1000, 600, 2.0);
}

} // namespace opstudio::ui
