// rocmforge: the command-line entry point. Sub-commands live in cmd_*.cpp.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "build_info.h"
#include "core/text_file.h"
#include "cli/commands.h"
#include "cli/settings.h"

namespace {

// When the first argument is neither an option nor a command: says so on stderr, with the list of
// commands, and returns true.
bool unknown_command(const CLI::App& app, const std::vector<std::string>& args) {
    if (args.size() < 2 || args[1].empty() || args[1][0] == '-') return false;
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_name() == args[1]) return false;
        names.push_back(sub->get_name());
    }
    fmt::print(stderr, "error: unknown command '{}'; the commands are: {}\nRun with --help for more information.\n",
               args[1], fmt::join(names, ", "));
    return true;
}

// The environment and the config file, for the commands that take them (serve, generate, chat).
// The config file is read only for those commands, so that a broken one cannot stop `inspect` or
// `bench`.
rf::Status apply_settings(CLI::App& app, const std::vector<std::string>& args) {
    const std::vector<std::string> commands = {"serve", "generate", "chat"};
    const bool configured = args.size() > 1 && std::find(commands.begin(), commands.end(), args[1]) != commands.end();
    std::optional<std::string> path;
    if (configured) {
        RF_ASSIGN_OR_RETURN(path, rf::cli::config_path(args, rf::cli::default_config_paths()));
    }
    std::optional<rf::cli::ConfigFile> file;
    if (path) {
        RF_ASSIGN_OR_RETURN(std::string text, rf::read_text_file(*path));
        RF_ASSIGN_OR_RETURN(file, rf::cli::parse_config(text, *path));
    }
    return rf::cli::apply_settings(app, commands, file ? &*file : nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ROCmForge: LLM inference for GGUF models", "rocmforge"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "rocmforge 0.1.0 (commit " ROCMFORGE_COMMIT ")");
    app.option_defaults()->always_capture_default();  // help shows every default (commands inherit it)

    rf::cli::CommandContext ctx;
    rf::cli::add_inspect_command(app, ctx);
    rf::cli::add_pull_command(app, ctx);
    rf::cli::add_models_command(app, ctx);
    rf::cli::add_generate_command(app, ctx);
    rf::cli::add_chat_command(app, ctx);
    rf::cli::add_quantize_command(app, ctx);
    rf::cli::add_bench_command(app, ctx);
    rf::cli::add_perplexity_command(app, ctx);
    rf::cli::add_template_command(app, ctx);
    rf::cli::add_tokenize_command(app, ctx);
    rf::cli::add_serve_command(app, ctx);
    rf::cli::add_status_command(app, ctx);
    rf::cli::add_cancel_command(app, ctx);
    rf::cli::add_devices_command(app, ctx);
#ifdef ROCMFORGE_HAVE_CONTEXT
    rf::cli::add_context_command(app, ctx);
#endif

    std::vector<std::string> args = rf::cli::translate_llama_spellings(argc, argv);
    if (unknown_command(app, args)) return rf::cli::kExitUsage;
    // Below the command line: ROCMFORGE_* variables, then the config file (docs/configuration.md).
    if (rf::Status set = apply_settings(app, args); !set.ok()) {
        fmt::print(stderr, "error: {}\n", set.error().message);
        return rf::cli::kExitUsage;
    }
    try {
        std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed, without argv[0]
        args.pop_back();
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);  // prints help/version or the usage error
        return code == 0 ? rf::cli::kExitOk : rf::cli::kExitUsage;
    }
    std::fflush(stdout);
    return ctx.exit_code;
}
