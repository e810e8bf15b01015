#pragma once
// One function per subcommand; each adds its CLI11 subcommand and, when that subcommand is
// chosen, sets `action` to the code that runs it (returning the exit code). To add a command:
// write app/cli/<name>_command.cpp defining addXCommand and add one line to kCommands in cli_main.cpp.
#include <CLI/CLI.hpp>

#include <functional>

namespace opstudio::cli {

using CommandAction = std::function<int()>;

void addInfoCommand(CLI::App& app, CommandAction& action);
void addOptimizeCommand(CLI::App& app, CommandAction& action);
void addRunCommand(CLI::App& app, CommandAction& action);
void addProfileCommand(CLI::App& app, CommandAction& action);
void addLayoutCommand(CLI::App& app, CommandAction& action);
void addCompareCommand(CLI::App& app, CommandAction& action);
void addReportCommand(CLI::App& app, CommandAction& action);
void addPassesCommand(CLI::App& app, CommandAction& action);
void addGenerateCommand(CLI::App& app, CommandAction& action);
void addPerplexityCommand(CLI::App& app, CommandAction& action);

} // namespace opstudio::cli
