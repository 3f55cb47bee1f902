// Where the context store lives when no --db is given: $ROCMFORGE_CONTEXT_DIR, else the XDG data
// directory ($XDG_DATA_HOME, or ~/.local/share) under rocmforge/context.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/result.h"
#include "engine/embedder.h"

namespace rf::context {

using Environment = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> process_environment(const char* name);

// `explicit_dir` (from --db) when not empty, else as above; an Error when not even HOME is set.
Result<std::string> store_dir(const std::string& explicit_dir, const Environment& env = process_environment);

// The name a store keeps an embedding model's vectors under: the file name and the pooling
// ("llama.gguf#mean"), so that the CLI and the server share vectors of the same model.
std::string embedding_model_key(const std::string& model_path, engine::Pooling pooling);

}  // namespace rf::context
