// What `generate` and `chat` share: model/runtime options, sampling options, loading, and Ctrl-C
// handling that stops generation cleanly instead of killing the process.
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "backend/backend.h"
#include "backend/instrumented_backend.h"
#include "engine/loaded_model.h"
#include "engine/sampler.h"

namespace rf::cli {

// How the weights get into memory (every command that loads a model for generation).
struct WeightLoading {
    bool mmap = false;       // map the file instead of reading it into memory on huge pages
    bool no_repack = false;  // keep the weights as stored instead of interleaving them for the kernels
};
void add_loading_flags(CLI::App& cmd, WeightLoading& loading);
// How the model file is read for `backend`: as the flags say on the CPU, which computes from the
// file's bytes; mapped for a GPU, which copies the weights to its memory and needs no second copy.
FileLoad file_load(const WeightLoading& loading, const Backend& backend);

// Where the model runs (every command that loads a model for generation).
struct DeviceOptions {
    std::string device = "auto";  // cpu, cuda, auto (a GPU when there is one, else the CPU)
    int gpu = 0;                  // which GPU
    std::string gpu_layers;       // --gpu-layers / llama.cpp's -ngl: a count or "auto" (empty: not given)
    std::string output_on = "gpu";  // the output head's backend in a split: gpu or cpu
    int tensor_parallel = 0;      // --tensor-parallel N: GPUs gpu .. gpu + N - 1 share every layer (0: off)
};
void add_device_flags(CLI::App& cmd, DeviceOptions& device);

// The backends the flags ask for: `main` computes (a GPU, or the CPU), and `cpu` is there when the
// layers may be split between the GPU and the CPU, as `split` says. Each counts the operations it
// runs (what ran where).
struct BackendSet {
    std::unique_ptr<InstrumentedBackend> main, cpu;
    engine::SplitRequest split;
    // --tensor-parallel N: ranks 1..N-1 (rank 0 is main) and the collective the ranks sum with.
    std::vector<std::unique_ptr<InstrumentedBackend>> peers;
    std::unique_ptr<CollectiveGroup> group;
    engine::Devices devices() const {
        engine::Devices d{.main = main.get(), .cpu = cpu.get(), .split = split, .peers = {}, .group = group.get()};
        for (const auto& p : peers) d.peers.push_back(p.get());
        return d;
    }
};
// Where the loading helpers' warnings and notes go (level "warning" or "note", one line of text):
// by default stderr as "warning: ..." / "note: ...", as the command line's own messages; serve
// hands them to its log, so that a JSON log stays JSON.
using Notice = std::function<void(std::string_view level, const std::string& text)>;
void print_notice(std::string_view level, const std::string& text);
// The backends the flags ask for (threads and repacking apply to the CPU). With a GPU, layers are
// placed by --gpu-layers (default auto: as many as fit). When auto falls back to the CPU in a
// build with GPU support, says why in one note.
Result<BackendSet> make_backends(const DeviceOptions& device, int threads, const WeightLoading& loading,
                                 const Notice& notice = print_notice);
// How the model file is read for `backends`: as the flags say when the CPU may compute from it.
FileLoad file_load(const WeightLoading& loading, const BackendSet& backends);
// One line for the log: where each part of the loaded model runs, and why when a split differs
// from the request ("cuda: layers 0-20, output; cpu: embedding, layers 21-31 (21 of 32 layers fit ...)").
std::string placement_line(const engine::LoadedModel& loaded);
// A warning for a context longer than the model was trained for.
void warn_about_context(int64_t n_ctx, int64_t n_ctx_train, const Notice& notice = print_notice);

// The KV cache type from --kv-type and llama.cpp's --cache-type-k / --cache-type-v (one type for both).
struct KvTypeOptions {
    std::string kv = "f32", k, v;
};
void add_kv_type_options(CLI::App& cmd, KvTypeOptions& o);
Result<KvType> kv_type(const KvTypeOptions& o);

struct RuntimeOptions {
    std::string model_path;  // a file, or REPO[:FILE|:QUANT] from the hub (default_model.h)
    bool offline = false;    // --offline: -m REPO:QUANT only from the models cache
    int threads = 0;
    int64_t n_ctx = 4096;
    bool n_ctx_given = false;  // -c on the command line (only then a context past training warns)
    int64_t n_batch = 256;
    KvTypeOptions kv_type;
    WeightLoading loading;
    DeviceOptions device;
    int64_t max_sequences = 1;  // sequences the engine holds at once (bench --parallel)
};

struct SamplingOptions {
    engine::SamplerParams params;
    int64_t seed = -1;  // -1: drawn at random
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
    std::string model_path;  // the file loaded: -m, or the demo model without it
    BackendSet backends;
    engine::LoadedModel loaded;
    // The backend that runs the model's layers (the first of its placement), for reports.
    const Backend& backend() const { return *loaded.model->placement().backends.front(); }
};
// Loads the model (-m, or without it the demo model: default_model.h) on the requested backend with the requested threads, context and KV type.
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
