// rocmforge generate --host URL: streams the completion from a running `rocmforge serve`,
// forwarding the sampling options, instead of loading a model.
#pragma once

#include <cstdint>
#include <string>

#include "cli/generation_options.h"
#include "cli/server_client.h"

namespace rf::cli {

// The process exit code (kExitOk, kExitError for a server or connection error).
int generate_remote(const ServerAddress& address, const std::string& prompt, int64_t n_predict,
                    const SamplingOptions& sampling, const engine::SamplerParams& params);

}  // namespace rf::cli
