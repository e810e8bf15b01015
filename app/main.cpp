// opstudio: the Qt 6 studio. Wiring only: arguments, the window, and the --screenshot mode that
// loads (and optionally profiles) a model, renders the window to a PNG and exits.
#include "docks/operators_panel.h"
#include "input_dims.h"
#include "mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName("OpStudio");
    QApplication::setOrganizationName("OpStudio");
    QApplication::setApplicationVersion(OPSTUDIO_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("Run, profile and optimize ONNX models on the CPU.");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model", "ONNX model to open.", "[MODEL]");
    QCommandLineOption profileOption("profile", "Profile the model once it is loaded.");
    QCommandLineOption screenshotOption("screenshot", "Render the main window to FILE.png and exit.", "FILE");
    QCommandLineOption runsOption("runs", "Timed runs for --profile (default 20).", "N", "20");
    QCommandLineOption threadsOption("threads", "Threads for --profile (default: 1 with --screenshot, else all cores).", "N");
    QCommandLineOption dimOption("dim", "Value of a symbolic input dim, e.g. --dim W=320 (repeatable).", "NAME=V");
    parser.addOptions({profileOption, screenshotOption, runsOption, threadsOption, dimOption});
    parser.process(app);
    std::map<std::string, int64_t> dims;
    QString dimError;
    if (!opstudio::ui::parseDimSpecs(parser.values(dimOption), dims, &dimError)) {
        std::fprintf(stderr, "error: %s\n", qPrintable(dimError));
        return 2;
    }

    const QString model = parser.positionalArguments().value(0);
    const QString screenshot = parser.value(screenshotOption);
    const bool headless = !screenshot.isEmpty();

    opstudio::ui::MainWindow::Options options;
    options.persistSettings = !headless; // screenshots are reproducible: default layout, no recent files
    opstudio::ui::MainWindow window(options);
    window.setCommandLineDims(dims);
    int exitCode = 0;
    if (headless) {
        // No modal boxes: errors go to stderr and the Log dock, and the picture is still written (it shows them).
        window.setErrorReporter([&exitCode](const QString& title, const QString& message) {
            std::fprintf(stderr, "error: %s: %s\n", qPrintable(title), qPrintable(QString(message).replace('\n', ' ')));
            exitCode = 1;
        });
        // Symbolic dims without --dim take the proposed values (listed in the Log dock).
        window.setInputDimsAsker([](QVector<opstudio::ui::InputDim>&) { return true; });
        window.resize(1600, 1000);
    }
    window.show();

    auto finish = [&] {
        if (!headless) return;
        // Let the docks settle at their final sizes before grabbing.
        QTimer::singleShot(200, &window, [&] {
            const bool ok = window.saveScreenshot(screenshot);
            if (!ok) std::fprintf(stderr, "error: cannot write %s\n", qPrintable(screenshot));
            QCoreApplication::exit(ok ? exitCode : 1);
        });
    };
    QObject::connect(&window, &opstudio::ui::MainWindow::loadFailed, &window, [&] { finish(); });
    QObject::connect(&window, &opstudio::ui::MainWindow::profileFailed, &window, [&] { finish(); });
    QObject::connect(&window, &opstudio::ui::MainWindow::modelLoaded, &window, [&] {
        if (parser.isSet(profileOption)) {
            opstudio::ui::ProfileSettings settings = window.profileSettings();
            settings.runs = parser.value(runsOption).toInt() > 0 ? parser.value(runsOption).toInt() : 20;
            // One thread by default for screenshots: the picture should not depend on machine load.
            if (parser.isSet(threadsOption)) settings.threads = std::max(1, parser.value(threadsOption).toInt());
            else if (headless) settings.threads = 1;
            window.startProfile(settings);
        } else {
            finish();
        }
    });
    QObject::connect(&window, &opstudio::ui::MainWindow::profileFinished, &window, [&] {
        if (!headless) return;
        // Show the hottest node in Properties so the screenshot has every pane filled.
        if (auto p = window.lastProfile()) {
            const opstudio::profile::NodeProfile* best = nullptr;
            for (const auto& n : p->nodes)
                if (n.depth == 0 && (!best || n.time.median > best->time.median)) best = &n;
            if (best) window.selectNode(best->id);
        }
        finish();
    });

    if (!model.isEmpty()) window.openFile(model);
    else if (headless) finish();
    return app.exec();
}
