// Options, loading and Ctrl-C handling shared by `generate` and `chat`.
#include "cli/generation_options.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include "backend/backend_factory.h"
#include "cli/cli_habits.h"
#include "cli/default_model.h"
#include "cli/model_summary.h"
#include "gguf/reader.h"
#include "model/hparams.h"

namespace rf::cli {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }
}  // namespace

InterruptGuard::InterruptGuard() {
    g_interrupted = false;
    previous_ = std::signal(SIGINT, on_interrupt);
}
InterruptGuard::~InterruptGuard() { std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_); }
const std::atomic<bool>* InterruptGuard::flag() const { return &g_interrupted; }
void InterruptGuard::clear() { g_interrupted = false; }

void add_runtime_options(CLI::App& cmd, RuntimeOptions& o) {
    cmd.add_option("-m,--model", o.model_path,
                   "GGUF model file, or REPO[:QUANT|:FILE] from the hub, pulled into the models cache when missing "
                   "(default: the demo model)");
    cmd.add_flag("--offline", o.offline, "Never download: -m REPO:QUANT must be in the models cache (also ROCMFORGE_OFFLINE=1)");
    cmd.add_option("-t,--threads", o.threads, "CPU threads (0: one per core)")->check(number_in(0, 1024));
    cmd.add_option("-c,--ctx-size", o.n_ctx, "Context size in tokens (0: the model's training context)")
        ->check(number_in(0, 1 << 24))
        ->each([&o](const std::string&) { o.n_ctx_given = true; });
    cmd.add_option("-b,--batch-size", o.n_batch, "Tokens per prompt-processing step")->check(number_in(1, 65536));
    add_kv_type_options(cmd, o.kv_type);
    add_loading_flags(cmd, o.loading);
    add_device_flags(cmd, o.device);
}

void add_sampling_options(CLI::App& cmd, SamplingOptions& o) {
    auto& s = o.params;
    cmd.add_option("--temp", s.temperature, "Temperature (0: greedy)")->check(number_in(0.0, 100.0));
    cmd.add_option("--top-k", s.top_k, "Keep the K most likely tokens (0: off)")->check(number_in(0, 1 << 30));
    cmd.add_option("--top-p", s.top_p, "Nucleus sampling mass (1: off)")->check(number_in(0.0, 1.0));
    cmd.add_option("--min-p", s.min_p, "Drop tokens below this fraction of the best (0: off)")->check(number_in(0.0, 1.0));
    cmd.add_option("--typical-p", s.typical_p, "Locally typical sampling mass (1: off)")->check(number_in(0.0, 1.0));
    cmd.add_option("--repeat-penalty", s.repeat_penalty, "Penalty for repeated tokens (1: off)")->check(number_in(0.0, 100.0));
    cmd.add_option("--repeat-last-n", s.penalty_window, "Recent tokens the penalties consider")->check(number_in(0, 1 << 20));
    cmd.add_option("--frequency-penalty", s.frequency_penalty, "Lowers a token's logit per occurrence")->check(number_in(-100.0, 100.0));
    cmd.add_option("--presence-penalty", s.presence_penalty, "Lowers a seen token's logit once")->check(number_in(-100.0, 100.0));
    cmd.add_option("-s,--seed", o.seed, "Random seed (-1: random)")->check(number_in(-1, 4294967295.0));
    cmd.add_option("--logit-bias", o.logit_bias, "TOKEN_ID=BIAS (repeatable; BIAS may be -inf)");
    cmd.add_option("--stop", o.stop, "Stop when this text is generated (repeatable)");
    cmd.add_flag("--ignore-eos", o.ignore_eos, "Keep generating past end-of-generation tokens");
}

Result<engine::SamplerParams> sampling_params(const SamplingOptions& o) {
    engine::SamplerParams p = o.params;
    p.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : std::random_device{}();
    for (const std::string& item : o.logit_bias) {
        const size_t eq = item.find('=');
        try {
            if (eq == std::string::npos) throw std::invalid_argument(item);
            const std::string value = item.substr(eq + 1);
            const float bias = value == "-inf" ? -INFINITY : std::stof(value);
            p.logit_bias.emplace_back(std::stoi(item.substr(0, eq)), bias);
        } catch (const std::exception&) {
            return make_error("--logit-bias expects TOKEN_ID=BIAS, got '{}'", item);
        }
    }
    RF_TRY(engine::validate(p));
    return p;
}

void add_loading_flags(CLI::App& cmd, WeightLoading& loading) {
    cmd.add_flag("--mmap,!--no-mmap", loading.mmap,
                 "Map the model file instead of reading it into memory on huge pages: shared with other "
                 "processes and the page cache, slower to generate from (implies --no-repack)");
    cmd.add_flag("--no-repack", loading.no_repack,
                 "Keep the weights as stored in the file instead of interleaving them for the CPU kernels");
}

FileLoad file_load(const WeightLoading& loading, const Backend& backend) {
    return loading.mmap || backend.name() != "cpu" ? FileLoad::Map : FileLoad::Copy;
}

FileLoad file_load(const WeightLoading& loading, const BackendSet& backends) {
    return file_load(loading, backends.cpu ? *backends.cpu : *backends.main);
}

std::string placement_line(const engine::LoadedModel& loaded) {
    std::string line = loaded.model->placement().describe();
    if (!loaded.plan.notes.empty()) line += fmt::format(" ({})", fmt::join(loaded.plan.notes, "; "));
    return line;
}

namespace {
// "auto" or a count of layers.
Result<int64_t> parse_gpu_layers(const std::string& text) {
    if (text == "auto") return engine::kAutoLayers;
    int64_t n = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 0 || n > (1 << 20))
        return make_error("--gpu-layers takes a number of layers or auto, not '{}'", text);
    return n;
}
}  // namespace

void add_device_flags(CLI::App& cmd, DeviceOptions& device) {
    cmd.add_option("--device", device.device, "Where to compute: cpu, cuda, or auto (a GPU when one is usable)")
        ->check([](const std::string& v) {
            auto kind = parse_device_kind(v);
            return kind ? std::string() : kind.error().message;
        });
    cmd.add_option("--gpu", device.gpu, "Which GPU (an index of `rocmforge devices`)")->check(number_in(0, 1023));
    cmd.add_option("--gpu-layers,--n-gpu-layers", device.gpu_layers,
                   "Layers on the GPU (llama.cpp's -ngl): the first N layers run there and the rest on the CPU; "
                   "auto: as many as fit in the GPU's free memory [default with a GPU: auto; 0 with --device auto: "
                   "the CPU only]")
        ->check([](const std::string& v) {
            auto n = parse_gpu_layers(v);
            return n ? std::string() : n.error().message;
        });
    cmd.add_option("--tensor-parallel,--tensor-parallel-size,--tp", device.tensor_parallel,
                   "Share every layer out over N GPUs (--gpu and the N - 1 after it): attention heads, feed-forward "
                   "width and vocabulary split, partial sums added through NCCL (1: one GPU on the same path)")
        ->check(number_in(1, 64));
    cmd.add_option("--output-on", device.output_on,
                   "Where the output head (final norm and vocabulary product) runs when layers are split")
        ->check(CLI::IsMember({"gpu", "cpu"}))
        ->capture_default_str();
}

void add_kv_type_options(CLI::App& cmd, KvTypeOptions& o) {
    cmd.add_option("--kv-type", o.kv, "KV cache type")->check(CLI::IsMember({"f32", "f16"}));
    cmd.add_option("--cache-type-k", o.k, "KV cache type of the keys (llama.cpp's -ctk; the same as the values)")
        ->check(CLI::IsMember({"f32", "f16"}));
    cmd.add_option("--cache-type-v", o.v, "KV cache type of the values (llama.cpp's -ctv; the same as the keys)")
        ->check(CLI::IsMember({"f32", "f16"}));
}

Result<KvType> kv_type(const KvTypeOptions& o) {
    std::string type = o.kv;
    for (const std::string* part : {&o.k, &o.v}) {
        if (part->empty()) continue;
        if (part != &o.k && !o.k.empty() && *part != o.k)
            return make_error("keys and values share one cache type here: --cache-type-k {} and --cache-type-v {} differ",
                              o.k, *part);
        type = *part;
    }
    return type == "f16" ? KvType::F16 : KvType::F32;
}

void print_notice(std::string_view level, const std::string& text) { fmt::print(stderr, "{}: {}\n", level, text); }

void warn_about_context(int64_t n_ctx, int64_t n_ctx_train, const Notice& notice) {
    if (n_ctx_train > 0 && n_ctx > n_ctx_train)
        notice("warning", fmt::format("a context of {} tokens is longer than the {} the model was trained for; "
                                      "expect worse output past that",
                                      n_ctx, n_ctx_train));
}

namespace {

// --tensor-parallel N: N GPUs from --gpu on, one rank each, and their NCCL group.
Result<BackendSet> make_tensor_parallel_backends(const DeviceOptions& device, DeviceKind kind, const Notice& notice) {
    if (!device.gpu_layers.empty())
        return make_error("--tensor-parallel puts every layer on the GPUs: it does not combine with --gpu-layers");
    if (kind == DeviceKind::Cpu) return make_error("--tensor-parallel {} needs GPUs, not --device cpu", device.tensor_parallel);
    BackendSet set;
    std::vector<Backend*> ranks;
    for (int r = 0; r < device.tensor_parallel; ++r) {
        auto created = rf::create_backend({.device = DeviceKind::Cuda, .gpu_index = device.gpu + r});
        if (!created) return make_error("--tensor-parallel {}: GPU {}: {}", device.tensor_parallel, device.gpu + r,
                                        created.error().message);
        auto backend = std::make_unique<InstrumentedBackend>(std::move(created->backend));
        ranks.push_back(backend.get());
        (r == 0 ? set.main : set.peers.emplace_back()) = std::move(backend);
    }
    RF_ASSIGN_OR_RETURN(set.group, create_collective_group(ranks));
    notice("note", fmt::format("tensor parallel over {} GPU(s) from GPU {}", device.tensor_parallel, device.gpu));
    return set;
}

}  // namespace

Result<BackendSet> make_backends(const DeviceOptions& device, int threads, const WeightLoading& loading,
                                 const Notice& notice) {
    RF_ASSIGN_OR_RETURN(DeviceKind kind, parse_device_kind(device.device));
    engine::SplitRequest split{.output_on_gpu = device.output_on != "cpu"};
    if (!device.gpu_layers.empty()) {
        RF_ASSIGN_OR_RETURN(split.gpu_layers, parse_gpu_layers(device.gpu_layers));
    }
    if (split.gpu_layers == 0 && kind == DeviceKind::Auto) {
        kind = DeviceKind::Cpu;  // -ngl 0: the CPU, as llama.cpp users expect
    } else if (split.gpu_layers > 0 && kind == DeviceKind::Cpu) {
        return make_error("--gpu-layers {} asks for the GPU and --device cpu for the CPU", device.gpu_layers);
    }
    if (device.tensor_parallel > 0) return make_tensor_parallel_backends(device, kind, notice);
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0 && threads > static_cast<int>(cores))
        notice("warning", fmt::format("-t {} is more threads than the {} cores here: expect them to wait on each other",
                                      threads, cores));
    const BackendOptions cpu_options{.device = DeviceKind::Cpu, .threads = threads, .repack = !loading.no_repack};
    BackendOptions options = cpu_options;
    options.device = kind;
    options.gpu_index = device.gpu;
    RF_ASSIGN_OR_RETURN(CreatedBackend created, rf::create_backend(options));
    // A build without GPU support has only the CPU to choose: nothing fell back.
    if (!created.note.empty() && cuda_compiled()) {
        std::string note = created.note;
        std::replace(note.begin(), note.end(), '\n', ' ');
        notice("note", note);
    }
    BackendSet set{.main = std::make_unique<InstrumentedBackend>(std::move(created.backend)), .cpu = nullptr, .split = split};
    if (const char* plan = std::getenv("ROCMFORGE_INJECT_FAULT"); plan && *plan) {
        RF_ASSIGN_OR_RETURN(FaultInjector faults, FaultInjector::parse(plan));
        set.main->inject_faults(faults);
        notice("warning", fmt::format("ROCMFORGE_INJECT_FAULT={}: {} calls will fail on purpose", plan, set.main->name()));
    }
    if (set.main->name() != "cpu") {
        // The CPU takes the layers the GPU does not (its threads sleep while the GPU computes).
        RF_ASSIGN_OR_RETURN(CreatedBackend cpu, rf::create_backend(cpu_options));
        set.cpu = std::make_unique<InstrumentedBackend>(std::move(cpu.backend));
    }
    return set;
}

MappedFile::Progress load_progress() {
    if (!isatty(STDERR_FILENO)) return {};
    return [](size_t done, size_t total) {
        fmt::print(stderr, "\rloading model: {:3d}%", static_cast<int>(100 * done / total));
        if (done == total) fmt::print(stderr, "\r{:20}\r", "");
    };
}

Result<std::unique_ptr<LoadedSession>> load_session(const RuntimeOptions& o) {
    RF_ASSIGN_OR_RETURN(const KvType kv, kv_type(o.kv_type));
    const auto started = std::chrono::steady_clock::now();
    auto session = std::make_unique<LoadedSession>();
    RF_ASSIGN_OR_RETURN(session->model_path, model_or_demo(o.model_path, print_notice, o.offline));
    RF_ASSIGN_OR_RETURN(session->backends, make_backends(o.device, o.threads, o.loading));
    RF_ASSIGN_OR_RETURN(session->loaded,
                        engine::LoadedModel::load(session->model_path, session->backends.devices(),
                                                  {.n_ctx = o.n_ctx,
                                                   .n_batch = o.n_batch,
                                                   .max_sequences = o.max_sequences,
                                                   .block_size = 16,
                                                   .kv_type = kv},
                                                  file_load(o.loading, session->backends), load_progress()));
    const model::HParams& hp = session->loaded.model->hparams();
    if (o.n_ctx_given) warn_about_context(session->loaded.engine->n_ctx(), hp.n_ctx_train);
    if (isatty(STDERR_FILENO)) {  // on a terminal only: scripts read stdout and stderr together
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        fmt::print(stderr, "loaded {} ({}, {} layers) on {} ({}) in {:.2f} s; context {} tokens\n", session->model_path,
                   format_bytes(session->loaded.file->file_size()), hp.n_layer, session->backend().name(),
                   session->backend().device_name(), seconds, session->loaded.engine->n_ctx());
        if (session->backends.cpu) fmt::print(stderr, "placement: {}\n", placement_line(session->loaded));
    }
    return session;
}

}  // namespace rf::cli
