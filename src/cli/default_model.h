// The model `generate`, `chat` and `serve` use when no -m is given: the small demo model the
// project ships (docs/demo-model.md), so that a fresh build can show text without a download.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/generation_options.h"
#include "core/result.h"

namespace rf::cli {

inline constexpr const char* kDemoModelFile = ROCMFORGE_DEMO_MODEL_FILE;  // set by CMakeLists.txt

// Where the demo model may be, in the order looked: next to the binary (<bindir>/../share/rocmforge,
// an installed or staged tree; <bindir>/demo), the install prefix this build was configured with,
// and the source tree the binary was built from.
std::vector<std::filesystem::path> demo_model_places();

// The first of `places` that holds the demo model, or an error naming every place looked.
Result<std::string> find_demo_model(const std::vector<std::filesystem::path>& places);

// The model file -m names: `given` when it is an existing path or does not read as a hub model;
// for REPO, REPO:FILE or REPO:QUANT (hub/model_ref.h) the file in the models cache, pulled from
// the hub when missing unless `offline` (or ROCMFORGE_OFFLINE=1); without -m the demo model. A
// note says which file when it is not the one given.
Result<std::string> model_or_demo(const std::string& given, const Notice& notice = print_notice, bool offline = false);

}  // namespace rf::cli
