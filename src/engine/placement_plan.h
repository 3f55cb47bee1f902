// Placing a model between a GPU and the CPU (`--gpu-layers N|auto`, `--output-on gpu|cpu`): the
// first layers on the GPU, the rest on the CPU. With `auto`, as many layers as fit in the GPU's
// free memory once the forward state, the output head and each layer's share of the KV cache (one
// sequence's full context; the pool then takes what memory is left) are counted.
// A layer holding a weight format the GPU cannot compute with, even converted, stays on the CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "gguf/reader.h"
#include "model/placement.h"

namespace rf::engine {

inline constexpr int64_t kAutoLayers = -1;

struct SplitRequest {
    int64_t gpu_layers = kAutoLayers;  // kAutoLayers: as many as fit; the layer count or more: all
    bool output_on_gpu = true;
};

// What the plan counted, for `inspect --plan` and the load's log line.
struct PlanEstimate {
    std::vector<uint64_t> layer_weight_bytes;  // per layer, as the GPU would hold them
    std::vector<bool> layer_supported;         // per layer: the GPU can hold every weight
    uint64_t layer_kv_bytes = 0;               // one layer's KV cache for one sequence's full context
    uint64_t embedding_bytes = 0, output_bytes = 0, state_bytes = 0;
    uint64_t gpu_free_bytes = 0;               // 0: not known
    uint64_t gpu_budget_bytes = 0;             // what the plan let the GPU part take
    std::vector<std::string> notes;            // why the plan differs from the request
};

// The placement for `request` over the model in `file`. An Error when the request cannot be met
// (a layer count beyond the model's is clamped, not an error).
Result<model::Placement> plan_split(const gguf::File& file, const model::HParams& hp, Backend& gpu, Backend& cpu,
                                    const SplitRequest& request, const EngineOptions& options,
                                    PlanEstimate* estimate = nullptr);

}  // namespace rf::engine
