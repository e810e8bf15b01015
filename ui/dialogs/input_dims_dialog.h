#pragma once
// Asked once before the first profile of a model with symbolic input dims: one row per symbol with
// where it is used, a value prefilled by proposeInputDims, and where that value came from.
#include "input_dims.h"

#include <QDialog>

class QSpinBox;

namespace opstudio::ui {

class InputDimsDialog : public QDialog {
    Q_OBJECT
public:
    InputDimsDialog(const QString& modelName, const QVector<InputDim>& dims, QWidget* parent = nullptr);
    /// The dims with the values in the spin boxes (an edited value's source becomes what the user typed).
    QVector<InputDim> dims() const;
    /// The spin box of a symbol (tests fill them like a user), nullptr when unknown.
    QSpinBox* spinBox(const QString& symbol) const;

private:
    QVector<InputDim> m_dims;
    QVector<QSpinBox*> m_spins;
};

} // namespace opstudio::ui
