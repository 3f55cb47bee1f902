// Each `rocmforge` sub-command lives in its own cmd_*.cpp and registers itself on the app through
// one add_*_command function; its callback stores the process exit code in `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli_habits.h"

namespace rf::cli {

// Exit codes shared by every command (documented in docs/cli.md).
enum ExitCode : int {
    kExitOk = 0,
    kExitError = 1,   // the command ran and failed: unreadable or invalid input, runtime error
    kExitUsage = 2,   // bad command line
};

struct CommandContext {
    int exit_code = kExitOk;
};

void add_inspect_command(CLI::App& app, CommandContext& ctx);
void add_models_command(CLI::App& app, CommandContext& ctx);
void add_pull_command(CLI::App& app, CommandContext& ctx);
void add_devices_command(CLI::App& app, CommandContext& ctx);
void add_generate_command(CLI::App& app, CommandContext& ctx);
void add_chat_command(CLI::App& app, CommandContext& ctx);
void add_quantize_command(CLI::App& app, CommandContext& ctx);
void add_bench_command(CLI::App& app, CommandContext& ctx);
void add_perplexity_command(CLI::App& app, CommandContext& ctx);
void add_template_command(CLI::App& app, CommandContext& ctx);
void add_tokenize_command(CLI::App& app, CommandContext& ctx);  // tokenize and detokenize
void add_serve_command(CLI::App& app, CommandContext& ctx);
void add_status_command(CLI::App& app, CommandContext& ctx);
void add_cancel_command(CLI::App& app, CommandContext& ctx);
void add_context_command(CLI::App& app, CommandContext& ctx);  // only with ROCMFORGE_CONTEXT

}  // namespace rf::cli
