#include "engine/placement_plan.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "engine/kv_cache.h"
#include "model/forward_state.h"
#include "quant/quantize.h"

namespace rf::engine {

namespace {

// The layer of a "blk.N." tensor, or -1.
int64_t layer_of(const std::string& name) {
    if (!name.starts_with("blk.")) return -1;
    int64_t layer = -1;
    const char* begin = name.data() + 4;
    const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), layer);
    return ec == std::errc() && end != begin && *end == '.' ? layer : -1;
}

// Bytes the backend holds the tensor in (1-D parameters become f32), or nothing when it cannot.
std::optional<uint64_t> held_bytes(const Backend& backend, const gguf::TensorInfo& t) {
    if (t.shape.size() < 2) return t.n_elements * sizeof(float);
    const int64_t cols = static_cast<int64_t>(t.shape[0]);
    const Backend::WeightSupport support = backend.weight_support(t.type, cols);
    if (!support.supported) return std::nullopt;
    if (support.held_as == t.type) return t.n_bytes;
    auto row = quant::quantized_size(support.held_as, static_cast<size_t>(cols));
    if (!row) return std::nullopt;
    return *row * t.rows();
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / (1ull << 30); }

}  // namespace

Result<model::Placement> plan_split(const gguf::File& file, const model::HParams& file_hp, Backend& gpu, Backend& cpu,
                                    const SplitRequest& request, const EngineOptions& options,
                                    PlanEstimate* estimate_out) {
    model::HParams hp = file_hp;
    if (const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight"); embd && embd->shape.size() == 2)
        hp.n_vocab = static_cast<int64_t>(embd->shape[1]);  // the logits' width, as the model loader sets it
    PlanEstimate e;
    const auto n_layers = static_cast<size_t>(hp.n_layer);
    e.layer_weight_bytes.assign(n_layers, 0);
    e.layer_supported.assign(n_layers, true);
    bool tied = true;
    for (const gguf::TensorInfo& t : file.tensors()) {
        const std::optional<uint64_t> bytes = held_bytes(gpu, t);
        const int64_t layer = layer_of(t.name);
        if (layer >= 0 && layer < hp.n_layer) {
            if (!bytes) e.layer_supported[static_cast<size_t>(layer)] = false;
            e.layer_weight_bytes[static_cast<size_t>(layer)] += bytes.value_or(0);
        } else if (t.name == "token_embd.weight") {
            e.embedding_bytes = bytes.value_or(0);
        } else if (t.name == "output.weight" || t.name == "output_norm.weight") {
            tied = tied && t.name != "output.weight";
            e.output_bytes += bytes.value_or(0);
        }
    }
    if (tied) e.output_bytes += e.embedding_bytes;

    // A layer on the GPU needs room for one sequence's full context: the engine then sizes the KV
    // pool to the memory left (as when the whole model is on the GPU), instead of the plan moving
    // layers to the CPU to make room for every sequence's context.
    const int64_t n_ctx = options.n_ctx > 0 ? options.n_ctx : hp.n_ctx_train;
    const int64_t blocks_per_seq = (n_ctx + options.block_size - 1) / options.block_size;
    e.layer_kv_bytes = static_cast<uint64_t>(
        gpu.kv_block_bytes(KvCache::shape(hp, options.block_size, options.kv_type, 0, 1)) * blocks_per_seq);
    e.state_bytes = model::ForwardState::planned_bytes(hp, std::min(options.n_batch, n_ctx * options.max_sequences),
                                                       blocks_per_seq * options.max_sequences);
    RF_ASSIGN_OR_RETURN(MemoryInfo memory, gpu.memory());
    e.gpu_free_bytes = memory.free_bytes;

    bool output_on_gpu = request.output_on_gpu;
    int64_t gpu_layers = std::min<int64_t>(request.gpu_layers, hp.n_layer);
    if (request.gpu_layers == kAutoLayers) {
        // Unknown free memory: everything is tried on the GPU, as a lone GPU backend would be.
        uint64_t budget = memory.free_bytes == 0 ? UINT64_MAX
                                                 : static_cast<uint64_t>(options.memory_fraction *
                                                                         static_cast<double>(memory.free_bytes));
        e.gpu_budget_bytes = budget;
        const auto take = [&](uint64_t bytes) {
            if (bytes > budget) return false;
            budget -= bytes;
            return true;
        };
        if (!take(e.state_bytes)) {
            e.notes.push_back(fmt::format("the GPU's {:.2f} GiB free do not hold the forward state ({:.2f} GiB)",
                                          gib(memory.free_bytes), gib(e.state_bytes)));
            budget = 0;
            output_on_gpu = false;
        } else if (output_on_gpu && !take(e.output_bytes)) {
            e.notes.push_back(fmt::format("the output head ({:.2f} GiB) does not fit the GPU: it runs on the CPU",
                                          gib(e.output_bytes)));
            output_on_gpu = false;
        }
        gpu_layers = 0;
        while (gpu_layers < hp.n_layer &&
               take(e.layer_weight_bytes[static_cast<size_t>(gpu_layers)] + e.layer_kv_bytes))
            ++gpu_layers;
        if (gpu_layers < hp.n_layer)
            e.notes.push_back(fmt::format("{} of {} layers fit in the GPU's {:.2f} GiB free ({:.2f} GiB of weights "
                                          "and {:.2f} GiB of KV cache per layer)",
                                          gpu_layers, hp.n_layer, gib(memory.free_bytes),
                                          gib(e.layer_weight_bytes.empty() ? 0 : e.layer_weight_bytes[0]),
                                          gib(e.layer_kv_bytes)));
    }
    // Layers the GPU cannot hold end the GPU part (it stays one run of first layers).
    for (int64_t il = 0; il < gpu_layers; ++il) {
        if (e.layer_supported[static_cast<size_t>(il)]) continue;
        e.notes.push_back(fmt::format("layer {} holds a weight format the GPU cannot compute with: it and the "
                                      "layers after it run on the CPU",
                                      il));
        gpu_layers = il;
    }
    if (estimate_out) *estimate_out = e;
    return model::Placement::split(gpu, cpu, hp.n_layer, gpu_layers, output_on_gpu);
}

}  // namespace rf::engine
