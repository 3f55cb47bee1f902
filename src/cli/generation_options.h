// What `generate` and `chat` share: model/runtime options, sampling options, loading, and Ctrl-C
// handling that stops generation cleanly instead of killing the process.
#pragma once

#include <atomic>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "engine/loaded_model.h"
#include "engine/sampler.h"

namespace rf::cli {

// How the weights get into memory (every command that loads a model for generation).
struct WeightLoading {
    bool mmap = false;       // map the file instead of reading it into memory on huge pages
    bool no_repack = false;  // keep the weights as stored instead of interleaving them for the kernels
};
void add_loading_flags(CLI::App& cmd, WeightLoading& loading);
FileLoad file_load(const WeightLoading& loading);
cpu::CpuBackendOptions cpu_backend_options(int threads, const WeightLoading& loading);

struct RuntimeOptions {
    std::string model_path;
    int threads = 0;
    int64_t n_ctx = 4096;
    int64_t n_batch = 256;
    std::string kv_type = "f32";
    WeightLoading loading;
};

struct SamplingOptions {
    engine::SamplerParams params;
    std::optional<uint64_t> seed;
    std::vector<std::string> logit_bias;  // "ID=BIAS"
    std::vector<std::string> stop;
    bool ignore_eos = false;
};

void add_runtime_options(CLI::App& cmd, RuntimeOptions& options);
// Percentages of a model read into memory on stderr, when stderr is a terminal.
MappedFile::Progress load_progress();
void add_sampling_options(CLI::App& cmd, SamplingOptions& options);
// The sampler parameters, with the seed drawn when none was given; an Error for bad values.
Result<engine::SamplerParams> sampling_params(const SamplingOptions& options);

struct LoadedSession {
    std::unique_ptr<Backend> backend;
    engine::LoadedModel loaded;
};
// Loads the model on a CPU backend with the requested threads, context and KV type.
Result<std::unique_ptr<LoadedSession>> load_session(const RuntimeOptions& options);

// While alive, Ctrl-C sets a flag (checked between tokens) instead of ending the process.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    const std::atomic<bool>* flag() const;
    void clear();

private:
    void (*previous_)(int) = nullptr;
};

}  // namespace rf::cli
