#include "dialogs/compare_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace opstudio::ui {

CompareDialog::CompareDialog(ExperimentStore* store, int idA, int idB, QWidget* parent)
    : QDialog(parent), m_store(store) {
    setWindowTitle(tr("Compare Experiments"));
    resize(900, 640);
    m_a = new QComboBox;
    m_b = new QComboBox;
    for (int i = 0; i < store->count(); ++i) {
        const auto e = store->at(i);
        m_a->addItem(e->name, e->id);
        m_b->addItem(e->name, e->id);
    }
    auto* swap = new QPushButton(tr("Swap"));
    auto* pick = new QHBoxLayout;
    pick->addWidget(new QLabel(tr("Before:")));
    pick->addWidget(m_a, 1);
    pick->addWidget(new QLabel(tr("After:")));
    pick->addWidget(m_b, 1);
    pick->addWidget(swap);

    m_headline = new QLabel;
    m_headline->setTextFormat(Qt::RichText);
    m_headline->setWordWrap(true);
    m_headline->setStyleSheet("font-size: 11pt; padding: 6px 2px;");

    m_byOp = new CompareChart;
    m_byNode = new CompareChart;
    m_accuracy = new QTableWidget(0, 7);
    m_accuracy->setHorizontalHeaderLabels({tr("Output"), tr("Max abs"), tr("Max rel"), tr("Cosine"),
                                           tr("SNR dB"), tr("Top-1"), tr("Mean abs")});
    m_accuracy->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_accuracy->verticalHeader()->setVisible(false);
    m_accuracy->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_accuracy->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_accuracy->setAlternatingRowColors(true);
    m_accuracyNote = new QLabel;
    m_accuracyNote->setStyleSheet("color: #4b5563;");
    m_divergence = new QLabel;
    m_divergence->setWordWrap(true);
    m_divergence->setTextFormat(Qt::RichText);
    auto* accPage = new QWidget;
    auto* accLayout = new QVBoxLayout(accPage);
    accLayout->addWidget(m_accuracyNote);
    accLayout->addWidget(m_accuracy, 1);
    accLayout->addWidget(m_divergence);

    m_tabs = new QTabWidget;
    m_tabs->addTab(m_byOp, tr("By op type"));
    m_tabs->addTab(m_byNode, tr("By node (provenance)"));
    m_tabs->addTab(accPage, tr("Accuracy"));

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(pick);
    layout->addWidget(m_headline);
    layout->addWidget(m_tabs, 1);
    layout->addWidget(buttons);

    connect(m_a, &QComboBox::currentIndexChanged, this, &CompareDialog::rebuild);
    connect(m_b, &QComboBox::currentIndexChanged, this, &CompareDialog::rebuild);
    connect(swap, &QPushButton::clicked, this, [this] { setPair(this->idB(), this->idA()); });
    connect(m_byNode, &CompareChart::rowActivated, this, [this](int row) {
        const auto& rows = m_byNode->rows();
        if (row >= 0 && row < rows.size() && !rows[row].originals.isEmpty())
            Q_EMIT nodeSelected(rows[row].originals.front());
    });
    setPair(idA, idB);
}

int CompareDialog::idA() const {
    return m_a->currentData().toInt();
}
int CompareDialog::idB() const {
    return m_b->currentData().toInt();
}

void CompareDialog::setPair(int idA, int idB) {
    const QSignalBlocker ba(m_a), bb(m_b);
    const int ia = m_a->findData(idA), ib = m_b->findData(idB);
    if (ia >= 0) m_a->setCurrentIndex(ia);
    if (ib >= 0) m_b->setCurrentIndex(ib);
    rebuild();
}

namespace {
QString num(double v, int prec = 4) {
    if (std::isnan(v)) return QStringLiteral("nan");
    return QString::number(v, 'g', prec);
}
} // namespace

void CompareDialog::rebuild() {
    const auto a = m_store->find(idA());
    const auto b = m_store->find(idB());
    const auto base = m_store->baseline();
    if (!a || !b) return;
    // Latency: measured back to back by compareModels when one side is the baseline; else the profiles.
    double aMs = a->latencyMs(), bMs = b->latencyMs();
    if (a->isBaseline() && b->compare) {
        aMs = b->compare->aMs;
        bMs = b->compare->bMs;
    } else if (b->isBaseline() && a->compare) {
        aMs = a->compare->bMs;
        bMs = a->compare->aMs;
    }
    QString speed;
    if (aMs > 0 && bMs > 0) {
        const double s = aMs / bMs;
        const QString colour = s >= 1.02 ? "#1e8e3e" : s <= 0.98 ? "#c5221f" : "#5f6368";
        speed = QStringLiteral("<b style='color:%1'>%2× %3</b>")
                    .arg(colour)
                    .arg(s >= 1 ? s : 1 / s, 0, 'f', 2)
                    .arg(s >= 1 ? tr("faster") : tr("slower"));
    }
    m_headline->setText(
        tr("<b>%1</b> %2 ms → <b>%3</b> %4 ms · %5 · nodes %6 → %7 · weights %8 → %9 MB")
            .arg(a->name.toHtmlEscaped(), aMs > 0 ? QString::number(aMs, 'f', 3) : QStringLiteral("—"),
                 b->name.toHtmlEscaped(), bMs > 0 ? QString::number(bMs, 'f', 3) : QStringLiteral("—"),
                 speed.isEmpty() ? tr("latency not measured") : speed)
            .arg(a->nodeCount())
            .arg(b->nodeCount())
            .arg(static_cast<double>(a->weightBytes()) / 1e6, 0, 'f', 2)
            .arg(static_cast<double>(b->weightBytes()) / 1e6, 0, 'f', 2));

    if (a->profile && b->profile) {
        m_byOp->setRows(compareByOpType(*a->profile, *b->profile), a->name, b->name);
        m_byNode->setRows(compareByNodeGroup(*a->model, *a->profile, *b->model, *b->profile,
                                             base ? base->model.get() : nullptr),
                          a->name, b->name, 25);
    } else {
        m_byOp->setRows({}, a->name, b->name);
        m_byNode->setRows({}, a->name, b->name);
    }

    // Accuracy is measured against the baseline: show the non-baseline side (B, else A).
    const auto subject = !b->isBaseline() ? b : a;
    m_accuracy->setRowCount(0);
    m_divergence->clear();
    if (subject->isBaseline() || !subject->compare) {
        m_accuracyNote->setText(subject->isBaseline() ? tr("Both sides are the baseline.")
                                                      : tr("%1 was not compared.").arg(subject->name));
        return;
    }
    m_accuracyNote->setText(
        tr("Outputs of %1 against the baseline (same seeded inputs).").arg(subject->name));
    const auto& cmp = *subject->compare;
    m_accuracy->setRowCount(static_cast<int>(cmp.outputs.size()));
    for (int i = 0; i < static_cast<int>(cmp.outputs.size()); ++i) {
        const auto& o = cmp.outputs[i];
        const QString snr = o.snrDb >= compare::kIdenticalSnrDb ? QStringLiteral("∞ (identical)")
                                                                : QString::number(o.snrDb, 'f', 1);
        const QString top1 =
            o.classifier ? QStringLiteral("%1 %").arg(o.top1Agreement * 100, 0, 'f', 1) : QStringLiteral("—");
        const QStringList cells = {QString::fromStdString(o.name),
                                   num(o.maxAbs),
                                   num(o.maxRel),
                                   QString::number(o.cosine, 'f', 6),
                                   snr,
                                   top1,
                                   num(o.meanAbs)};
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c > 0) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_accuracy->setItem(i, c, item);
        }
    }
    m_accuracy->resizeColumnsToContents();
    m_accuracy->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    if (cmp.firstDivergence) {
        const auto& d = *cmp.firstDivergence;
        m_divergence->setText(tr("<b style='color:#b06000'>First divergence:</b> %1 (%2), value %3: relative "
                                 "error %4, max abs %5")
                                  .arg(QString::fromStdString(d.node).toHtmlEscaped(),
                                       QString::fromStdString(d.opType).toHtmlEscaped(),
                                       QString::fromStdString(d.value).toHtmlEscaped(),
                                       num(d.relativeError, 3), num(d.maxAbs, 3)));
    } else {
        m_divergence->setText(tr("<span style='color:#1e8e3e'>No divergence: every intermediate value "
                                 "matches the baseline within tolerance.</span>"));
    }
}

} // namespace opstudio::ui
