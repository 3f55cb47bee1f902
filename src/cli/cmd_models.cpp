// rocmforge models [--dir D]...: one line per GGUF file found in the model directories; files the
// hub cache holds (hub/model_cache.h) are named by repo, file and quantization.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_summary.h"
#include "hub/model_cache.h"

namespace rf::cli {
namespace {

namespace fs = std::filesystem;

struct ModelsOptions {
    std::vector<std::string> dirs;
    bool json = false;
};

// --dir wins; otherwise the models cache (ROCMFORGE_MODELS_DIR, else the user's cache) and ./models.
std::vector<fs::path> search_dirs(const ModelsOptions& opts) {
    std::vector<fs::path> dirs(opts.dirs.begin(), opts.dirs.end());
    if (!dirs.empty()) return dirs;
    dirs.push_back(hub::models_dir());
    dirs.emplace_back("models");
    return dirs;
}

std::vector<fs::path> find_gguf_files(const fs::path& dir, std::vector<std::string>& problems) {
    std::vector<fs::path> files;
    std::error_code ec;
    auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
        problems.push_back(fmt::format("{}: {}", dir.string(), ec.message()));
        return files;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) {
            problems.push_back(fmt::format("{}: {}", dir.string(), ec.message()));
            break;
        }
        if (it->path().extension() == ".gguf" && !it->is_directory(ec)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

int run_models(const ModelsOptions& opts) {
    std::vector<std::string> problems;
    std::set<fs::path> seen;
    nlohmann::json list = nlohmann::json::array();
    size_t unreadable = 0;
    bool any_dir = false;
    for (const fs::path& dir : search_dirs(opts)) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            if (!opts.dirs.empty()) problems.push_back(fmt::format("{}: not a directory", dir.string()));
            continue;
        }
        any_dir = true;
        for (const fs::path& path : find_gguf_files(dir, problems)) {
            if (!seen.insert(fs::weakly_canonical(path, ec)).second) continue;
            auto file = gguf::File::open(path.string());
            if (!file) {
                ++unreadable;
                if (opts.json) list.push_back({{"file", path.string()}, {"valid", false}, {"error", file.error().message}});
                else fmt::print("{}  UNREADABLE: {}\n", path.string(), file.error().message);
                continue;
            }
            ModelSummary s = summarize(*file);
            hub::CachedModel cached;
            const bool from_hub = hub::cache_entry(dir, path, cached);
            if (opts.json) {
                nlohmann::json j = to_json(s);
                j["file"] = path.string();
                j["valid"] = true;
                j["file_size"] = file->file_size();
                if (from_hub) {
                    j["repo"] = cached.repo;
                    j["repo_file"] = cached.file;
                    j["quant"] = cached.quant;
                }
                list.push_back(std::move(j));
            } else if (from_hub) {
                fmt::print("{}  {}  {}  {}  {}  {} params  {}\n", cached.repo, cached.file,
                           cached.quant.empty() ? s.dominant_type : cached.quant, format_bytes(file->file_size()),
                           s.architecture.empty() ? "-" : s.architecture, format_count(s.parameters), path.string());
            } else {
                fmt::print("{}  {}  {}  {} params  {}  {}\n", path.string(), s.architecture.empty() ? "-" : s.architecture,
                           s.dominant_type.empty() ? "-" : s.dominant_type, format_count(s.parameters),
                           format_bytes(file->file_size()),
                           s.tokenizer.present ? "tokenizer " + s.tokenizer.model : "no tokenizer");
            }
        }
    }
    if (opts.json) fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    for (const auto& p : problems) fmt::print(stderr, "warning: {}\n", p);
    if (!any_dir && !opts.json) fmt::print(stderr, "no model directory found (searched {} and ./models); `rocmforge pull REPO:QUANT` fills the first\n",
                                        hub::models_dir().string());
    return (unreadable > 0 || !problems.empty()) ? kExitError : kExitOk;
}

}  // namespace

void add_models_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<ModelsOptions>();
    CLI::App* cmd = app.add_subcommand("models", "List the GGUF models found in the model directories");
    cmd->add_option("--dir", opts->dirs, "Directory to search (repeatable); default: the models cache ($ROCMFORGE_MODELS_DIR, else "
                    "$XDG_CACHE_HOME/rocmforge/models, else ~/.cache/rocmforge/models) and ./models");
    cmd->add_flag("--json", opts->json, "Machine-readable output");
    cmd->callback([opts, &ctx] { ctx.exit_code = run_models(*opts); });
}

}  // namespace rf::cli
