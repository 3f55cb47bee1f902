#include "cli/settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "core/text_file.h"

namespace rf::cli {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool is_key(std::string_view key) {
    return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

// A value: "text" (with \" and \\ escapes) or bare text up to a # comment.
Result<std::string> parse_value(std::string_view raw) {
    raw = trim(raw);
    if (raw.empty() || raw.front() != '"') {
        const size_t comment = raw.find('#');
        return std::string(trim(raw.substr(0, comment)));
    }
    std::string value;
    for (size_t i = 1; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '\\' && i + 1 < raw.size()) {
            value += raw[++i];
        } else if (c == '"') {
            const std::string_view rest = trim(raw.substr(i + 1));
            if (!rest.empty() && rest.front() != '#') return make_error("text after the closing quote");
            return value;
        } else {
            value += c;
        }
    }
    return make_error("the quoted value has no closing quote");
}

// Options that name one run's input or output form, not a setting: never from the environment or
// a file. `generate --host` is a server's URL, while serve's is the address to listen on.
bool configurable(const std::string& command, const CLI::Option& opt) {
    if (opt.get_lnames().empty()) return false;
    static const char* const kNever[] = {"help", "config", "prompt", "file", "json", "top-logits", "special"};
    const std::string& name = opt.get_lnames().front();
    for (const char* never : kNever)
        if (name == never) return false;
    return !(command == "generate" && name == "host");
}

// The configurable option of `cmd` that `key` names (any of its long names), or null.
CLI::Option* option_for(const std::string& command, CLI::App& cmd, const std::string& key) {
    CLI::Option* opt = cmd.get_option_no_throw("--" + key);
    return opt && configurable(command, *opt) ? opt : nullptr;
}

}  // namespace

Result<ConfigFile> parse_config(std::string_view text, const std::string& path) {
    ConfigFile file{.path = path, .entries = {}};
    std::string section;
    int number = 0;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        const std::string_view line = trim(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++number;
        if (line.empty() || line.front() == '#') continue;
        if (line.front() == '[') {
            const size_t close = line.find(']');
            const std::string_view rest = close == std::string_view::npos ? "" : trim(line.substr(close + 1));
            if (close == std::string_view::npos || !is_key(trim(line.substr(1, close - 1))) ||
                (!rest.empty() && rest.front() != '#'))
                return make_error("{}:{}: a section is written [name]", path, number);
            section = std::string(trim(line.substr(1, close - 1)));
            continue;
        }
        const size_t eq = line.find('=');
        const std::string_view key = eq == std::string_view::npos ? line : trim(line.substr(0, eq));
        if (eq == std::string_view::npos || !is_key(key))
            return make_error("{}:{}: expected key = value, got '{}'", path, number, line);
        auto value = parse_value(line.substr(eq + 1));
        if (!value) return make_error("{}:{}: {}", path, number, value.error().message);
        std::string name(key);
        std::replace(name.begin(), name.end(), '_', '-');  // ctx_size as ctx-size
        file.entries.push_back({.section = section, .key = std::move(name), .value = std::move(*value), .line = number});
    }
    return file;
}

std::string env_name(std::string_view long_name) {
    std::string name = "ROCMFORGE_";
    for (const char c : long_name) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

std::vector<std::filesystem::path> default_config_paths() {
    std::vector<std::filesystem::path> paths;
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    const char* home = std::getenv("HOME");
    if (xdg && *xdg) paths.push_back(std::filesystem::path(xdg) / "rocmforge" / "rocmforge.conf");
    else if (home && *home) paths.push_back(std::filesystem::path(home) / ".config" / "rocmforge" / "rocmforge.conf");
    paths.emplace_back("/etc/rocmforge/rocmforge.conf");
    return paths;
}

Result<std::optional<std::string>> config_path(const std::vector<std::string>& args,
                                               const std::vector<std::filesystem::path>& defaults) {
    std::optional<std::string> named;
    std::string from = "--config";
    for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--") break;
        if (args[i] == "--config") {
            if (i + 1 >= args.size()) return make_error("--config needs a file");
            named = args[++i];
        } else if (args[i].starts_with("--config=")) {
            named = args[i].substr(9);
        }
    }
    if (!named) {
        if (const char* env = std::getenv(kConfigEnv); env && *env) {
            named = env;
            from = kConfigEnv;
        }
    }
    std::error_code ec;
    if (named) {
        if (!std::filesystem::is_regular_file(*named, ec))
            return make_error("{}: the config file '{}' does not exist", from, *named);
        return named;
    }
    for (const auto& path : defaults)
        if (std::filesystem::is_regular_file(path, ec)) return std::optional<std::string>(path.string());
    return std::optional<std::string>();
}

void add_config_option(CLI::App& cmd) {
    // The value was used before parsing; the parser only needs to accept it.
    cmd.add_option("--config", "Read option defaults from this file (default: $ROCMFORGE_CONFIG, else "
                               "~/.config/rocmforge/rocmforge.conf, else /etc/rocmforge/rocmforge.conf)");
}

Status apply_settings(CLI::App& app, const std::vector<std::string>& commands, const ConfigFile* file) {
    std::map<std::string, CLI::App*> apps;
    for (const std::string& name : commands) {
        CLI::App* cmd = app.get_subcommand_ptr(name).get();
        if (!cmd) return make_error("internal: no command '{}'", name);
        apps[name] = cmd;
        if (!cmd->get_option_no_throw("--config")) add_config_option(*cmd);
        for (CLI::Option* opt : cmd->get_options())
            if (configurable(name, *opt)) opt->envname(env_name(opt->get_lnames().front()));
    }
    if (!file) return ok_status();
    // A command's own section first, so that it wins over a key before any section.
    for (const bool sectioned : {false, true}) {
        for (const ConfigEntry& e : file->entries) {
            if (e.section.empty() == sectioned) continue;
            const std::string where = fmt::format("{}:{}", file->path, e.line);
            if (sectioned && !apps.count(e.section))
                return make_error("{}: unknown section [{}] (the sections are [serve], [generate] and [chat])", where,
                                  e.section);
            bool used = false;
            for (const auto& [name, cmd] : apps) {
                if (sectioned && name != e.section) continue;
                CLI::Option* opt = option_for(name, *cmd, e.key);
                if (!opt) continue;
                used = true;
                try {
                    opt->run_callback_for_default()->default_val(e.value);
                } catch (const CLI::Error& err) {
                    return make_error("{}: {} = {}: {}", where, e.key, e.value, err.what());
                }
            }
            if (!used)
                return make_error("{}: '{}' is not an option of {}", where, e.key,
                                  sectioned ? "`" + e.section + "`" : "serve, generate or chat");
        }
    }
    return ok_status();
}

}  // namespace rf::cli
