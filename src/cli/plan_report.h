// `rocmforge inspect --plan FILE`: where each part of a model would run with the given device
// flags, context and sequences, and what each part takes, without loading the weights.
#pragma once

#include <string>

#include "cli/generation_options.h"

namespace rf::cli {

struct PlanOptions {
    DeviceOptions device;
    int64_t n_ctx = 4096;
    int64_t n_batch = 512;
    int64_t parallel = 1;
    KvTypeOptions kv_type;
    bool json = false;
};
void add_plan_options(CLI::App& cmd, PlanOptions& options);

// Prints the plan for the model at `path`; returns the exit code.
int run_plan(const std::string& path, const PlanOptions& options);

}  // namespace rf::cli
