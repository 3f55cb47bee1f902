// The options of `serve`, `generate` and `chat` from three places besides the command line, each
// below the one before: a flag on the command line > a ROCMFORGE_* environment variable > the
// config file > the built-in default (docs/configuration.md).
//
// The config file is a small TOML-like text: `key = value` lines, `# comments`, and `[serve]`,
// `[generate]`, `[chat]` sections; keys are the long option names without dashes (`ctx-size = 2048`),
// a key before any section applies to every one of the three commands that has the option, and a
// section's key overrides it for that command. The file is read from `--config FILE`, else
// $ROCMFORGE_CONFIG, else the first of default_config_paths() that exists.
//
// CLI11 reads environment variables itself (only for options the command line left unset), but it
// puts its own config files above the environment; so the config file's values become the options'
// defaults instead, which both the command line and the environment override.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/result.h"

namespace rf::cli {

inline constexpr const char* kConfigEnv = "ROCMFORGE_CONFIG";

struct ConfigEntry {
    std::string section;  // empty: before any section, for every command
    std::string key;
    std::string value;
    int line = 0;
};

struct ConfigFile {
    std::string path;
    std::vector<ConfigEntry> entries;
};

// The entries of a config file's text; an error names `path`, the line and what is wrong.
Result<ConfigFile> parse_config(std::string_view text, const std::string& path);

// The variable of an option: ROCMFORGE_ and its long name in capitals, '-' as '_' (ctx-size:
// ROCMFORGE_CTX_SIZE).
std::string env_name(std::string_view long_name);

// Where a config file is looked for when neither --config nor $ROCMFORGE_CONFIG names one:
// $XDG_CONFIG_HOME/rocmforge/rocmforge.conf (or ~/.config/...), then /etc/rocmforge/rocmforge.conf.
std::vector<std::filesystem::path> default_config_paths();

// The config file for these arguments: --config FILE (or --config=FILE), else $ROCMFORGE_CONFIG (both
// must exist), else the first default path that exists; nullopt when there is none.
Result<std::optional<std::string>> config_path(const std::vector<std::string>& args,
                                               const std::vector<std::filesystem::path>& defaults);

// Adds `--config FILE` to `cmd` (for its help and so that the parser accepts it; the file is read
// before parsing, by apply_settings).
void add_config_option(CLI::App& cmd);

// Adds --config to the commands named `commands` and gives each of their configurable options its
// environment variable and,
// from `file` (may be null), its default. An unknown key, a key for a command that lacks the option
// or a value the option refuses is an error naming the file and line.
Status apply_settings(CLI::App& app, const std::vector<std::string>& commands, const ConfigFile* file);

}  // namespace rf::cli
