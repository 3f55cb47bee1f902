// Plain (one value per "block") types: F32, F64, F16, BF16 and the integer types.
#include <array>
#include <cstring>

#include "quant/codecs.h"
#include "quant/float_convert.h"

namespace rf::quant::detail {
namespace {

// Reads the little-endian value of type T at index i.
template <typename T>
T load(const uint8_t* src, size_t i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    return v;
}

template <typename T>
void store(uint8_t* dst, size_t i, T v) {
    std::memcpy(dst + i * sizeof(T), &v, sizeof(T));
}

void dequantize_f32(const uint8_t* src, float* dst, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void dequantize_f64(const uint8_t* src, float* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(src, i));
}
void dequantize_f16(const uint8_t* src, float* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(load<uint16_t>(src, i));
}
void dequantize_bf16(const uint8_t* src, float* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load<uint16_t>(src, i));
}
template <typename Int>
void dequantize_int(const uint8_t* src, float* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<Int>(src, i));
}

void quantize_f32(const float* src, uint8_t* dst, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void quantize_f64(const float* src, uint8_t* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) store<double>(dst, i, src[i]);
}
void quantize_f16(const float* src, uint8_t* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) store<uint16_t>(dst, i, f32_to_fp16(src[i]));
}
void quantize_bf16(const float* src, uint8_t* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) store<uint16_t>(dst, i, f32_to_bf16(src[i]));
}

constexpr std::array kCodecs = {
    Codec{TensorType::F32, dequantize_f32, quantize_f32},
    Codec{TensorType::F64, dequantize_f64, quantize_f64},
    Codec{TensorType::F16, dequantize_f16, quantize_f16},
    Codec{TensorType::BF16, dequantize_bf16, quantize_bf16},
    Codec{TensorType::I8, dequantize_int<int8_t>, nullptr},
    Codec{TensorType::I16, dequantize_int<int16_t>, nullptr},
    Codec{TensorType::I32, dequantize_int<int32_t>, nullptr},
    Codec{TensorType::I64, dequantize_int<int64_t>, nullptr},
};

}  // namespace

std::span<const Codec> plain_codecs() { return kCodecs; }

}  // namespace rf::quant::detail
