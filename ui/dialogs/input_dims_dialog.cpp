#include "dialogs/input_dims_dialog.h"

#include <QDialogButtonBox>
#include <QGridLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <limits>

namespace opstudio::ui {

InputDimsDialog::InputDimsDialog(const QString& modelName, const QVector<InputDim>& dims, QWidget* parent)
    : QDialog(parent), m_dims(dims) {
    setWindowTitle(tr("Input dimensions"));
    auto* layout = new QVBoxLayout(this);
    auto* intro = new QLabel(tr("<b>%1</b> has inputs with symbolic dimensions. Profiling feeds random inputs of a "
                                "concrete shape: choose a value for each symbol. The values are remembered for this model.")
                                 .arg(modelName.toHtmlEscaped()),
                             this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    auto* grid = new QGridLayout;
    grid->addWidget(new QLabel(tr("<b>Symbol</b>"), this), 0, 0);
    grid->addWidget(new QLabel(tr("<b>Used by</b>"), this), 0, 1);
    grid->addWidget(new QLabel(tr("<b>Value</b>"), this), 0, 2);
    grid->addWidget(new QLabel(tr("<b>From</b>"), this), 0, 3);
    for (int i = 0; i < m_dims.size(); ++i) {
        const InputDim& d = m_dims[i];
        auto* spin = new QSpinBox(this);
        spin->setRange(1, std::numeric_limits<int>::max());
        spin->setValue(static_cast<int>(std::min<qint64>(d.value, std::numeric_limits<int>::max())));
        spin->setObjectName("dim:" + d.symbol);
        m_spins.push_back(spin);
        QString from = inputDimSourceName(d.source);
        if (!d.reason.isEmpty()) from += " (" + d.reason + ")";
        auto* fromLabel = new QLabel(from, this);
        fromLabel->setStyleSheet("color: #5b6770;");
        grid->addWidget(new QLabel(d.symbol, this), i + 1, 0);
        grid->addWidget(new QLabel(d.usedBy, this), i + 1, 1);
        grid->addWidget(spin, i + 1, 2);
        grid->addWidget(fromLabel, i + 1, 3);
    }
    layout->addLayout(grid);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Profile"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

QVector<InputDim> InputDimsDialog::dims() const {
    QVector<InputDim> out = m_dims;
    for (int i = 0; i < out.size(); ++i) {
        const qint64 v = m_spins[i]->value();
        if (v != out[i].value) {
            out[i].value = v;
            out[i].source = InputDim::Source::Remembered; // the user's choice, kept for next time
            out[i].reason.clear();
        }
    }
    return out;
}

QSpinBox* InputDimsDialog::spinBox(const QString& symbol) const {
    for (int i = 0; i < m_dims.size(); ++i)
        if (m_dims[i].symbol == symbol) return m_spins[i];
    return nullptr;
}

} // namespace opstudio::ui
