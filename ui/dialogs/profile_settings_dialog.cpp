#include "dialogs/profile_settings_dialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QSet>
#include <QSpinBox>
#include <QThread>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

namespace opstudio::ui {

ProfileSettingsDialog::ProfileSettingsDialog(const ProfileSettings& initial, const QStringList& symbols, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Profile"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_threads = new QSpinBox(this);
    m_threads->setRange(1, std::max(1, QThread::idealThreadCount()));
    m_threads->setValue(std::clamp(initial.threads, 1, m_threads->maximum()));
    m_runs = new QSpinBox(this);
    m_runs->setRange(1, 10000);
    m_runs->setValue(initial.runs);
    m_warmup = new QSpinBox(this);
    m_warmup->setRange(0, 1000);
    m_warmup->setValue(initial.warmup);
    m_roofline = new QCheckBox(tr("Place operators on this machine's roofline"), this);
    m_roofline->setChecked(initial.roofline);
    form->addRow(tr("Threads:"), m_threads);
    form->addRow(tr("Timed runs:"), m_runs);
    form->addRow(tr("Warm-up runs:"), m_warmup);
    form->addRow(QString(), m_roofline);
    layout->addLayout(form);

    if (!symbols.isEmpty()) {
        auto* box = new QGroupBox(tr("Symbolic dimensions"), this);
        auto* dimForm = new QFormLayout(box);
        for (const QString& s : symbols) {
            auto* spin = new QSpinBox(box);
            spin->setRange(1, 1 << 20);
            auto it = initial.dims.find(s.toStdString());
            spin->setValue(it == initial.dims.end() ? 1 : static_cast<int>(it->second));
            dimForm->addRow(s + ":", spin);
            m_dims.insert(s, spin);
        }
        layout->addWidget(box);
    }
    auto* note = new QLabel(tr("Inputs are seeded random tensors. Times are medians over the timed runs."), this);
    note->setWordWrap(true);
    note->setStyleSheet("color: #5b6770;");
    layout->addWidget(note);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Profile"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

ProfileSettings ProfileSettingsDialog::settings() const {
    ProfileSettings s;
    s.threads = m_threads->value();
    s.runs = m_runs->value();
    s.warmup = m_warmup->value();
    s.roofline = m_roofline->isChecked();
    for (auto it = m_dims.begin(); it != m_dims.end(); ++it) s.dims[it.key().toStdString()] = it.value()->value();
    return s;
}

QStringList ProfileSettingsDialog::symbolicDims(const ir::Graph& graph) {
    QSet<QString> set;
    for (const auto& name : graph.realInputs())
        if (const ir::Value* v = graph.findValue(name); v && v->shape)
            for (const auto& d : *v->shape)
                if (!d.known() && !d.symbol.empty()) set.insert(QString::fromStdString(d.symbol));
    QStringList out(set.begin(), set.end());
    out.sort();
    return out;
}

} // namespace opstudio::ui
