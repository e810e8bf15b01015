#pragma once
// Log dock: timestamped messages (loads, profiles, errors).
#include <QPlainTextEdit>

namespace opstudio::ui {

class LogPanel : public QPlainTextEdit {
    Q_OBJECT
public:
    enum class Level { Info, Warning, Error };
    explicit LogPanel(QWidget* parent = nullptr);
    void append(Level level, const QString& message);
};

} // namespace opstudio::ui
