// The local models cache: $ROCMFORGE_MODELS_DIR, else $XDG_CACHE_HOME/rocmforge/models, else
// ~/.cache/rocmforge/models, holding each pulled file as <dir>/<owner>/<name>/<file in the repo>.
// `pull` writes there, `models` lists it, and -m REPO:QUANT finds (or pulls) its file there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "hub/hub_client.h"
#include "hub/model_ref.h"

namespace rf::hub {

std::filesystem::path models_dir();

// A GGUF file found under the cache: which repo it came from and which file it is there.
struct CachedModel {
    std::string repo, file, quant;
    std::filesystem::path path;
    int64_t size = 0;
};
// Every complete GGUF file under `dir` laid out as <owner>/<name>/<file>, sorted.
std::vector<CachedModel> cached_models(const std::filesystem::path& dir);

// The repo and file a path under `dir` stands for, when it follows the cache layout.
bool cache_entry(const std::filesystem::path& dir, const std::filesystem::path& path, CachedModel& entry);

struct PullOptions {
    HubOptions hub;
    bool offline = false;  // --offline / ROCMFORGE_OFFLINE=1: only the cache, never the network
    bool force = false;    // download again even when the file is cached
};
// True when ROCMFORGE_OFFLINE is set to something other than "" or "0".
bool offline_from_env();

// The cached file `ref` names: found in the cache, else pulled from the hub (refused offline).
// `notice` gets progress lines ("pulling ...", "resuming ...").
Result<std::string> resolve_or_pull(const ModelRef& ref, const std::filesystem::path& dir, const PullOptions& options,
                                    const HubNotice& notice);

}  // namespace rf::hub
