#include "context/store_dir.h"

#include <cstdlib>
#include <filesystem>

namespace rf::context {

std::optional<std::string> process_environment(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value) return std::nullopt;
    return std::string(value);
}

Result<std::string> store_dir(const std::string& explicit_dir, const Environment& env) {
    if (!explicit_dir.empty()) return explicit_dir;
    if (auto dir = env("ROCMFORGE_CONTEXT_DIR")) return *dir;
    std::filesystem::path base;
    if (auto xdg = env("XDG_DATA_HOME"); xdg && std::filesystem::path(*xdg).is_absolute()) {
        base = *xdg;  // the XDG spec ignores relative values
    } else if (auto home = env("HOME")) {
        base = std::filesystem::path(*home) / ".local" / "share";
    } else {
        return make_error("no store directory: give --db DIR or set ROCMFORGE_CONTEXT_DIR (HOME is not set)");
    }
    return (base / "rocmforge" / "context").string();
}

std::string embedding_model_key(const std::string& model_path, engine::Pooling pooling) {
    return std::filesystem::path(model_path).filename().string() + "#" + std::string(engine::pooling_name(pooling));
}

}  // namespace rf::context
