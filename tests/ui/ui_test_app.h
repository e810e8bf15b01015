#pragma once
// One QApplication for the whole UI test binary (GoogleTest owns main()).
#include <QApplication>
#include <QtTest/QTest>

#include <cstdlib>

namespace opstudio::ui::uitest {

inline QApplication& app() {
    static QApplication* instance = [] {
        if (!std::getenv("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
        static int argc = 1;
        static char name[] = "opstudio_ui_tests";
        static char* argv[] = {name, nullptr};
        auto* a = new QApplication(argc, argv);
        QApplication::setApplicationName("OpStudioTests");
        QApplication::setOrganizationName("OpStudioTests");
        return a;
    }();
    return *instance;
}

/// Processes events until `pred` holds or the timeout passes.
template <typename Pred> bool waitFor(Pred pred, int timeoutMs = 60000) {
    return QTest::qWaitFor(pred, timeoutMs);
}

} // namespace opstudio::ui::uitest
