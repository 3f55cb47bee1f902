// rocmforge: the command-line entry point. Sub-commands live in cmd_*.cpp.
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"ROCmForge: LLM inference for GGUF models"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "rocmforge 0.1.0");

    rf::cli::CommandContext ctx;
    rf::cli::add_inspect_command(app, ctx);
    rf::cli::add_models_command(app, ctx);
    rf::cli::add_generate_command(app, ctx);
    rf::cli::add_chat_command(app, ctx);
    rf::cli::add_quantize_command(app, ctx);
    rf::cli::add_bench_command(app, ctx);
    rf::cli::add_template_command(app, ctx);
    rf::cli::add_tokenize_command(app, ctx);
    rf::cli::add_serve_command(app, ctx);
    rf::cli::add_status_command(app, ctx);
    rf::cli::add_cancel_command(app, ctx);
    rf::cli::add_devices_command(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);  // prints help/version or the usage error
        return code == 0 ? rf::cli::kExitOk : rf::cli::kExitUsage;
    }
    std::fflush(stdout);
    return ctx.exit_code;
}
