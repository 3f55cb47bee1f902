#include "quant/quantize.h"

#include <cmath>

#include "core/checked_math.h"
#include "quant/codecs.h"

namespace rf::quant {

bool can_quantize(TensorType type) {
    const detail::Codec* codec = detail::find_codec(type);
    return codec != nullptr && codec->quantize != nullptr;
}

Result<size_t> quantized_size(TensorType type, size_t n_elements) {
    const TensorTypeInfo* info = tensor_type_info(static_cast<uint32_t>(type));
    if (info == nullptr) return make_error("unknown tensor type id {}", static_cast<uint32_t>(type));
    if (n_elements % info->block_size != 0) {
        return make_error("{}: {} values is not a whole number of {}-value blocks", info->name, n_elements,
                          info->block_size);
    }
    const auto bytes = checked_mul(n_elements / info->block_size, info->block_bytes);
    if (!bytes || *bytes > SIZE_MAX) return make_error("{}: size of {} values overflows", info->name, n_elements);
    return static_cast<size_t>(*bytes);
}

Status quantize_row(TensorType type, std::span<const float> src, std::span<uint8_t> dst) {
    RF_ASSIGN_OR_RETURN(const size_t bytes, quantized_size(type, src.size()));  // also rejects unknown ids
    const TensorTypeInfo& info = tensor_type_info(type);
    const detail::Codec* codec = detail::find_codec(type);
    if (codec == nullptr || codec->quantize == nullptr) return make_error("{}: no quantizer for this type", info.name);
    if (dst.size() != bytes) {
        return make_error("{}: {} values need {} bytes, got {}", info.name, src.size(), bytes, dst.size());
    }
    if (info.quantized) {
        for (size_t i = 0; i < src.size(); ++i) {
            if (!std::isfinite(src[i])) {
                return make_error("{}: cannot quantize non-finite value {} at index {}", info.name, src[i], i);
            }
        }
    }
    if (!src.empty()) codec->quantize(src.data(), dst.data(), src.size() / info.block_size);
    return ok_status();
}

}  // namespace rf::quant
