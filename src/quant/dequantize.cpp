#include "quant/dequantize.h"

#include <algorithm>
#include <array>
#include <string>

#include "core/checked_math.h"

#include "quant/codecs.h"

namespace rf::quant {
namespace detail {

const Codec* find_codec(TensorType type) {
    for (auto family : {plain_codecs, legacy_codecs, kquant_codecs, iquant_codecs, ternary_mxfp4_codecs}) {
        for (const Codec& codec : family()) {
            if (codec.type == type) return &codec;
        }
    }
    return nullptr;
}

}  // namespace detail

namespace {

// The codec for `n_values` values of `type` held in exactly `n_bytes` bytes (and their block
// count), or an Error saying what does not fit.
Result<const detail::Codec*> checked_codec(TensorType type, size_t n_values, size_t n_bytes, size_t& n_blocks) {
    const TensorTypeInfo* info = tensor_type_info(static_cast<uint32_t>(type));
    if (info == nullptr) return make_error("unknown tensor type id {}", static_cast<uint32_t>(type));
    const detail::Codec* codec = detail::find_codec(type);
    if (codec == nullptr) return make_error("{}: no dequantizer for this type", info->name);
    if (n_values % info->block_size != 0) {
        return make_error("{}: {} values is not a whole number of {}-value blocks", info->name, n_values,
                          info->block_size);
    }
    n_blocks = n_values / info->block_size;
    const auto expected = checked_mul(n_blocks, info->block_bytes);
    if (!expected || *expected != n_bytes) {
        return make_error("{}: {} values need {} bytes, got {}", info->name, n_values,
                          expected ? std::to_string(*expected) : std::string("more than 2^64"), n_bytes);
    }
    return codec;
}

}  // namespace

bool can_dequantize(TensorType type) { return detail::find_codec(type) != nullptr; }

Status dequantize_row(TensorType type, std::span<const uint8_t> src, std::span<float> dst) {
    size_t n_blocks = 0;
    RF_ASSIGN_OR_RETURN(const detail::Codec* codec, checked_codec(type, dst.size(), src.size(), n_blocks));
    if (n_blocks != 0) codec->dequantize(src.data(), dst.data(), n_blocks);
    return ok_status();
}

Result<double> dot_row(TensorType type, std::span<const uint8_t> row, std::span<const float> x) {
    size_t n_blocks = 0;
    RF_ASSIGN_OR_RETURN(const detail::Codec* codec, checked_codec(type, x.size(), row.size(), n_blocks));
    if (n_blocks == 0) return 0.0;
    const size_t block_size = x.size() / n_blocks;
    const size_t block_bytes = row.size() / n_blocks;
    // Dequantize a few blocks at a time into a stack buffer (256 values: one super-block, or 8
    // legacy blocks, or 256 plain values).
    std::array<float, 256> buffer;
    const size_t blocks_per_chunk = block_size >= buffer.size() ? 1 : buffer.size() / block_size;
    double sum = 0;
    for (size_t b = 0; b < n_blocks; b += blocks_per_chunk) {
        const size_t count = std::min(blocks_per_chunk, n_blocks - b);
        codec->dequantize(row.data() + b * block_bytes, buffer.data(), count);
        const float* xs = x.data() + b * block_size;
        for (size_t i = 0; i < count * block_size; ++i) sum += static_cast<double>(buffer[i]) * xs[i];
    }
    return sum;
}

}  // namespace rf::quant
