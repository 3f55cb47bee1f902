#include "quant/model_quantizer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <thread>

#include "gguf/writer.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace rf::quant {
namespace {

using T = TensorType;

// general.file_type values follow the numbering GGUF loaders share (e.g. 15 = mostly Q4_K_M).
const QuantizePreset kPresets[] = {
    {"F32", T::F32, 0, {}, {}},
    {"F16", T::F16, 1, {}, {}},
    {"BF16", T::BF16, 32, {}, {}},
    {"Q4_0", T::Q4_0, 2, T::Q6_K, {}},
    {"Q4_1", T::Q4_1, 3, T::Q6_K, {}},
    {"Q8_0", T::Q8_0, 7, {}, {}},
    {"Q5_0", T::Q5_0, 8, T::Q6_K, {}},
    {"Q5_1", T::Q5_1, 9, T::Q6_K, {}},
    {"Q2_K", T::Q2_K, 10, T::Q6_K, T::Q4_K},
    {"Q3_K_S", T::Q3_K, 11, T::Q6_K, {}},
    {"Q3_K_M", T::Q3_K, 12, T::Q6_K, T::Q5_K},
    {"Q3_K_L", T::Q3_K, 13, T::Q6_K, T::Q6_K},
    {"Q4_K_S", T::Q4_K, 14, T::Q6_K, T::Q5_K},
    {"Q4_K_M", T::Q4_K, 15, T::Q6_K, T::Q6_K},
    {"Q5_K_S", T::Q5_K, 16, T::Q6_K, {}},
    {"Q5_K_M", T::Q5_K, 17, T::Q6_K, T::Q6_K},
    {"Q6_K", T::Q6_K, 18, T::Q6_K, {}},
    {"IQ4_NL", T::IQ4_NL, 25, T::Q6_K, {}},
    {"IQ4_XS", T::IQ4_XS, 30, T::Q6_K, {}},
    {"MXFP4", T::MXFP4, 38, T::Q8_0, {}},
    // Single-type presets: every matrix, output included, in the named type.
    {"Q2_K_ONLY", T::Q2_K, 10, T::Q2_K, {}},
    {"Q3_K", T::Q3_K, 12, T::Q3_K, {}},
    {"Q4_K", T::Q4_K, 15, T::Q4_K, {}},
    {"Q5_K", T::Q5_K, 17, T::Q5_K, {}},
};

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return std::toupper((unsigned char)x) == std::toupper((unsigned char)y); });
}

// Layer index of "blk.N.*" names, or -1.
int64_t layer_of(const std::string& name) {
    if (!name.starts_with("blk.")) return -1;
    size_t end = name.find('.', 4);
    if (end == std::string::npos) return -1;
    try {
        return std::stoll(name.substr(4, end - 4));
    } catch (...) {
        return -1;
    }
}

// Layers whose attn_v / ffn_down get more bits in the mixed presets: the first and last eighth of
// the network and every third layer between (the quantization-sensitivity rule the _M presets use).
bool wants_more_bits(int64_t layer, uint64_t n_layers) {
    if (layer < 0 || n_layers == 0) return false;
    const int64_t n = static_cast<int64_t>(n_layers);
    return layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
}

// Falls back to a type whose block divides the row when the preferred one does not.
TensorType fit_row(TensorType preferred, uint64_t row_length) {
    if (row_length % tensor_type_info(preferred).block_size == 0) return preferred;
    if (row_length % 32 == 0) return T::Q8_0;
    return T::F16;
}

bool is_weight_matrix(const gguf::TensorInfo& t) {
    // Routers stay in full precision: their small outputs decide which experts run.
    return t.shape.size() >= 2 && t.name.ends_with(".weight") && t.name.find("ffn_gate_inp") == std::string::npos;
}

Result<std::vector<uint8_t>> convert_tensor(const gguf::TensorInfo& t, TensorType type, int threads) {
    const uint64_t cols = t.shape[0], rows = t.rows();
    RF_ASSIGN_OR_RETURN(size_t out_row_bytes, quantized_size(type, cols));
    const size_t in_row_bytes = t.n_bytes / rows;
    std::vector<uint8_t> out(out_row_bytes * rows);
    std::vector<Status> results(threads, ok_status());
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&, w] {
            std::vector<float> row(cols);
            for (uint64_t r = w; r < rows; r += threads) {
                Status st = dequantize_row(t.type, {t.data + r * in_row_bytes, in_row_bytes}, row);
                if (st) st = quantize_row(type, row, {out.data() + r * out_row_bytes, out_row_bytes});
                if (!st) {
                    results[w] = make_error("tensor '{}' row {}: {}", t.name, r, st.error().message);
                    return;
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();
    for (const Status& st : results) RF_TRY(st);
    return out;
}

}  // namespace

std::optional<QuantizePreset> find_preset(std::string_view name) {
    for (const QuantizePreset& p : kPresets) {
        if (iequals(p.name, name)) return p;
    }
    return std::nullopt;
}

std::vector<std::string> preset_names() {
    std::vector<std::string> names;
    for (const QuantizePreset& p : kPresets) names.push_back(p.name);
    return names;
}

TensorType choose_type(const QuantizePreset& preset, const gguf::TensorInfo& tensor, uint64_t n_layers) {
    if (!is_weight_matrix(tensor)) return tensor.type;
    TensorType type = preset.base;
    const bool is_output = tensor.name == "output.weight";
    if (is_output && preset.output) type = *preset.output;
    const bool sensitive = tensor.name.find("attn_v.weight") != std::string::npos ||
                           tensor.name.find("ffn_down") != std::string::npos;
    if (sensitive && preset.sensitive && wants_more_bits(layer_of(tensor.name), n_layers)) type = *preset.sensitive;
    return fit_row(type, tensor.shape[0]);
}

Status quantize_model(const gguf::File& input, const std::string& output_path, const QuantizeOptions& options) {
    std::error_code ec;
    if (std::filesystem::exists(output_path, ec) && std::filesystem::equivalent(input.path(), output_path, ec)) {
        return make_error("refusing to overwrite the input file {}", input.path());
    }
    const std::string arch = input.architecture();
    const uint64_t n_layers = input.get_uint_or(arch + ".block_count", 0).value_or(0);
    // Tied embeddings serve as the output matrix too, so they take the output's type.
    const bool tied = input.find_tensor("output.weight") == nullptr;

    gguf::Writer writer;
    for (const auto& entry : input.metadata()) writer.set(entry.key, entry.value);
    writer.set("general.file_type", gguf::Value::u32(options.preset.file_type));
    writer.set("general.quantization_version", gguf::Value::u32(2));

    const int threads = std::max(1, options.threads);
    const auto& tensors = input.tensors();
    for (size_t i = 0; i < tensors.size(); ++i) {
        const gguf::TensorInfo& t = tensors[i];
        TensorType type = choose_type(options.preset, t, n_layers);
        if (tied && t.name == "token_embd.weight" && options.preset.output)
            type = fit_row(*options.preset.output, t.shape[0]);
        std::vector<uint8_t> bytes;
        if (type == t.type) {
            bytes.assign(t.data, t.data + t.n_bytes);
        } else {
            RF_ASSIGN_OR_RETURN(bytes, convert_tensor(t, type, threads));
        }
        RF_TRY(writer.add_tensor(t.name, type, t.shape, std::move(bytes)));
        if (options.progress) options.progress(i, tensors.size(), t.name, type);
    }
    return writer.write_file(output_path);
}

}  // namespace rf::quant
