#include "docks/log_panel.h"

#include <QDateTime>
#include <QFontDatabase>

namespace opstudio::ui {

LogPanel::LogPanel(QWidget* parent) : QPlainTextEdit(parent) {
    setReadOnly(true);
    setMaximumBlockCount(5000);
    QFont f = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    f.setPointSize(9);
    setFont(f);
}

void LogPanel::append(Level level, const QString& message) {
    const QString time = QDateTime::currentDateTime().toString("HH:mm:ss");
    const char* color = level == Level::Error ? "#b3261e" : level == Level::Warning ? "#9a6700" : "#39424a";
    const char* tag = level == Level::Error ? "error" : level == Level::Warning ? "warn" : "info";
    appendHtml(QStringLiteral("<span style='color:#8d979f'>%1</span> <span style='color:%2'><b>%3</b> %4</span>")
                   .arg(time, color, tag, message.toHtmlEscaped()));
}

} // namespace opstudio::ui
