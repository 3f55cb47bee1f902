// Internal: the loader of each architecture, registered in registry.cpp.
#pragma once

#include "model/model.h"
#include "model/weight_loader.h"

namespace rf::model {

using ArchLoader = Result<std::unique_ptr<Model>> (*)(const gguf::File& file, const Placement& placement, HParams hp);

Result<std::unique_ptr<Model>> load_llama(const gguf::File& file, const Placement& placement, HParams hp);
Result<std::unique_ptr<Model>> load_qwen2(const gguf::File& file, const Placement& placement, HParams hp);
Result<std::unique_ptr<Model>> load_qwen3(const gguf::File& file, const Placement& placement, HParams hp);
Result<std::unique_ptr<Model>> load_phi3(const gguf::File& file, const Placement& placement, HParams hp);
Result<std::unique_ptr<Model>> load_gemma2(const gguf::File& file, const Placement& placement, HParams hp);

}  // namespace rf::model
