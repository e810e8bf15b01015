// opstudio-cli: headless entry point. Wiring only; subcommands live in app/cli/.
// Contract for scripts: exit code 0 on success; otherwise non-zero and exactly one
// `error: ...` line on stderr, whatever went wrong (bad arguments, bad files, out of memory).
#include "cli/commands.h"

#include "opstudio/util/error.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>

namespace {

using AddCommand = void (*)(CLI::App&, opstudio::cli::CommandAction&);

// Every subcommand, in the order `--help` lists them.
constexpr AddCommand kCommands[] = {
    opstudio::cli::addInfoCommand,
    opstudio::cli::addRunCommand,
    opstudio::cli::addProfileCommand,
    opstudio::cli::addOptimizeCommand,
    opstudio::cli::addPassesCommand,
    opstudio::cli::addLayoutCommand,
    opstudio::cli::addCompareCommand,
    opstudio::cli::addReportCommand,
    opstudio::cli::addGenerateCommand,
    opstudio::cli::addPerplexityCommand,
};

std::string oneLine(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

int fail(const std::string& message) {
    std::fflush(stdout);
    std::cerr << "error: " << oneLine(message) << std::endl;
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    try {
        CLI::App app{"opstudio-cli: run, profile and optimize ONNX models on the CPU", "opstudio-cli"};
        app.set_version_flag("--version", std::string(OPSTUDIO_VERSION));
        app.require_subcommand(1);
        opstudio::cli::CommandAction action;
        for (AddCommand add : kCommands) add(app, action);
        try {
            app.parse(argc, argv);
        } catch (const CLI::CallForHelp& e) {
            return app.exit(e);
        } catch (const CLI::CallForAllHelp& e) {
            return app.exit(e);
        } catch (const CLI::CallForVersion& e) {
            return app.exit(e);
        } catch (const CLI::ParseError& e) {
            const int code = e.get_exit_code();
            fail(e.what());
            return code != 0 ? code : 2;
        }
        if (!action) return fail("no command given (see --help)");
        return action();
    } catch (const opstudio::Error& e) {
        return fail(e.describe());
    } catch (const std::bad_alloc&) {
        return fail("out of memory");
    } catch (const std::exception& e) {
        return fail(e.what());
    } catch (...) {
        return fail("unexpected failure");
    }
}
