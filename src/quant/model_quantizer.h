// Quantizes a whole GGUF model: every weight matrix to a target type (or a mixed preset such as
// Q4_K_M), everything else copied as it is; metadata kept, general.file_type updated.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/reader.h"

namespace rf::quant {

struct QuantizePreset {
    std::string name;                 // "Q4_K_M", "Q8_0", ...
    TensorType base;                  // most matrices
    uint32_t file_type;               // general.file_type as GGUF loaders know it
    std::optional<TensorType> output;     // output.weight (and tied embeddings) when set
    std::optional<TensorType> sensitive;  // attn_v / ffn_down in the layers that get more bits
};

// Every preset by name (case-insensitive); nullopt for an unknown one.
std::optional<QuantizePreset> find_preset(std::string_view name);
std::vector<std::string> preset_names();

struct QuantizeOptions {
    QuantizePreset preset;
    int threads = 1;
    // Called after each tensor with (index, count, name, chosen type).
    std::function<void(size_t, size_t, const std::string&, TensorType)> progress;
};

// The type a tensor gets under `preset` (its name, shape in ggml order, and the model's layer count).
TensorType choose_type(const QuantizePreset& preset, const gguf::TensorInfo& tensor, uint64_t n_layers);

// Writes the quantized copy of `input` to `output_path`, which must not be the input file.
Status quantize_model(const gguf::File& input, const std::string& output_path, const QuantizeOptions& options);

}  // namespace rf::quant
