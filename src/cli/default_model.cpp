#include "cli/default_model.h"

#include <system_error>

#include <unistd.h>

#include <fmt/format.h>

#include "hub/model_cache.h"

namespace rf::cli {

std::vector<std::filesystem::path> demo_model_places() {
    std::vector<std::filesystem::path> places;
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path bindir = exe.parent_path();
        places.push_back((bindir / ".." / "share" / "rocmforge").lexically_normal());
        places.push_back(bindir / "demo");
    }
#ifdef ROCMFORGE_INSTALL_DATADIR
    places.emplace_back(ROCMFORGE_INSTALL_DATADIR);
#endif
#ifdef ROCMFORGE_SOURCE_DIR
    places.push_back(std::filesystem::path(ROCMFORGE_SOURCE_DIR) / "demo");
#endif
    return places;
}

Result<std::string> find_demo_model(const std::vector<std::filesystem::path>& places) {
    std::string looked;
    for (const auto& place : places) {
        const std::filesystem::path file = place / kDemoModelFile;
        std::error_code ec;
        if (std::filesystem::is_regular_file(file, ec)) return file.string();
        looked += fmt::format("\n  {}", place.string());
    }
    if (looked.empty()) looked = "\n  (no place known)";
    return make_error("no model given (-m FILE) and the demo model {} is not in any of:{}", kDemoModelFile, looked);
}

namespace {

Result<std::string> hub_model(const std::string& given, const Notice& notice, bool offline) {
    RF_ASSIGN_OR_RETURN(const hub::ModelRef ref, hub::parse_model_ref(given));
    hub::PullOptions pull;
    pull.hub = hub::hub_options_from_env();
    pull.hub.progress = isatty(STDERR_FILENO) == 1;
    pull.offline = offline || hub::offline_from_env();
    RF_ASSIGN_OR_RETURN(std::string path, hub::resolve_or_pull(ref, hub::models_dir(), pull,
                                                               [&](const std::string& text) { notice("note", text); }));
    notice("note", fmt::format("-m {}: using {}", given, path));
    return path;
}

}  // namespace

Result<std::string> model_or_demo(const std::string& given, const Notice& notice, bool offline) {
    std::error_code ec;
    if (!given.empty() && !std::filesystem::exists(given, ec) && hub::looks_like_model_ref(given))
        return hub_model(given, notice, offline);
    if (!given.empty()) return given;
    RF_ASSIGN_OR_RETURN(std::string found, find_demo_model(demo_model_places()));
    notice("note", fmt::format("no -m given: using the demo model {}", found));
    return found;
}

}  // namespace rf::cli
