#pragma once
// Run ▸ Profile…: threads, timed runs, warm-up runs, and a value for every symbolic input dim.
#include "jobs/profile_job.h"

#include <QDialog>
#include <QMap>

class QCheckBox;
class QSpinBox;

namespace opstudio::ui {

class ProfileSettingsDialog : public QDialog {
    Q_OBJECT
public:
    /// `symbols`: symbolic dims of the model's inputs ("batch", "seq").
    ProfileSettingsDialog(const ProfileSettings& initial, const QStringList& symbols, QWidget* parent = nullptr);
    ProfileSettings settings() const;

    /// Symbolic dim names used by the graph's real inputs, sorted.
    static QStringList symbolicDims(const ir::Graph& graph);

private:
    QSpinBox* m_threads;
    QSpinBox* m_runs;
    QSpinBox* m_warmup;
    QCheckBox* m_roofline;
    QMap<QString, QSpinBox*> m_dims;
};

} // namespace opstudio::ui
