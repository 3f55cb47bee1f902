#include "hub/model_cache.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace rf::hub {
namespace {

namespace fs = std::filesystem;

bool is_gguf(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".gguf";
}

}  // namespace

fs::path models_dir() {
    if (const char* env = std::getenv("ROCMFORGE_MODELS_DIR"); env && *env) return env;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "rocmforge" / "models";
    if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "rocmforge" / "models";
    return fs::path(".cache") / "rocmforge" / "models";
}

bool offline_from_env() {
    const char* v = std::getenv("ROCMFORGE_OFFLINE");
    return v && *v && std::string(v) != "0";
}

bool cache_entry(const fs::path& dir, const fs::path& path, CachedModel& entry) {
    const fs::path rel = path.lexically_relative(dir);
    auto it = rel.begin();
    if (rel.empty() || *it == "..") return false;
    std::vector<std::string> parts(rel.begin(), rel.end());
    if (parts.size() < 3) return false;
    entry.repo = parts[0] + "/" + parts[1];
    entry.file.clear();
    for (size_t i = 2; i < parts.size(); ++i) entry.file += (i > 2 ? "/" : "") + parts[i];
    entry.quant = quant_of(entry.file);
    entry.path = path;
    return true;
}

std::vector<CachedModel> cached_models(const fs::path& dir) {
    std::vector<CachedModel> models;
    std::error_code ec;
    auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!is_gguf(it->path()) || !it->is_regular_file(ec)) continue;
        CachedModel m;
        if (!cache_entry(dir, it->path(), m)) continue;
        m.size = static_cast<int64_t>(it->file_size(ec));
        models.push_back(std::move(m));
    }
    std::sort(models.begin(), models.end(), [](const CachedModel& a, const CachedModel& b) { return a.path < b.path; });
    return models;
}

Result<std::string> resolve_or_pull(const ModelRef& ref, const fs::path& dir, const PullOptions& options,
                                    const HubNotice& notice) {
    if (!options.force) {
        std::vector<HubFile> local;
        for (const CachedModel& m : cached_models(dir))
            if (m.repo == ref.repo) local.push_back({m.file, m.size, ""});
        auto found = pick_gguf(ref, local);
        if (found) return (dir / ref.repo / found->path).string();
    }
    const std::string name = ref.repo + (ref.file.empty() ? (ref.quant.empty() ? "" : ":" + ref.quant) : ":" + ref.file);
    if (options.offline)
        return make_error("{} is not in the models cache ({}) and downloading is off (--offline or ROCMFORGE_OFFLINE); "
                          "pull it first with: rocmforge pull {}",
                          name, dir.string(), name);
    RF_ASSIGN_OR_RETURN(const std::vector<HubFile> files, list_repo_files(options.hub, ref.repo));
    RF_ASSIGN_OR_RETURN(const HubFile file, pick_gguf(ref, files));
    const fs::path in_repo(file.path);
    if (in_repo.is_absolute() || std::find(in_repo.begin(), in_repo.end(), "..") != in_repo.end())
        return make_error("the hub listed the file '{}', which would land outside the models cache", file.path);
    const fs::path dest = dir / ref.repo / in_repo;
    notice(fmt::format("pulling {} from {} ({}{})", file.path, ref.repo, options.hub.endpoint,
                       file.size >= 0 ? fmt::format(", {} bytes", file.size) : std::string()));
    RF_TRY(download_file(options.hub, ref.repo, file, dest.string(), notice));
    return dest.string();
}

}  // namespace rf::hub
