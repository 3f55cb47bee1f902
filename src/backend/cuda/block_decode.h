// Per-block decoders of the GGUF weight formats for the GPU kernels. The same header compiles as
// CUDA/HIP device code and as plain host C++, so tests/gpu checks it on the CPU against the reference
// dequantizers (src/quant) and the quant zoo: every value is bit-exact, computed with the same f32
// operations in the same order as quant::dequantize_row.
//
// decode_unit<T>(block, unit, out) writes values [32 * unit, 32 * unit + 32) of one block
// (unit < BlockTraits<T>::kValues / 32). F32, F16 and BF16 count 32 consecutive values as a block.
//
// Rules that keep host and device results identical:
//  - Blocks are only 2-byte aligned in memory (MXFP4's 17-byte blocks not even that), so every
//    multi-byte field is assembled from byte loads; nothing is read through a wider pointer.
//  - No library calls: half/bf16 widening is done on bit patterns, codebooks are packed constants.
//  - nvcc contracts a * b + c into a fused multiply-add in device code by default, which can change
//    the rounding of x = d * q + m. Products that feed an addition go through mul_rn (__fmul_rn on
//    the device, which is never contracted). (For these formats the products happen to be exact in
//    f32 -- an F16 scale times a small integer -- so this is a safeguard, not a fix.) Host code must
//    be built with -ffp-contract=off, as rf_quant is. Device code must not be built with
//    --use_fast_math / -ftz=true: F16 scales, and the values they give, may be subnormal.
//  - One difference remains: a NaN scale (never in a real file) gives NaN on both, but a GPU returns
//    its canonical NaN where the x86 reference keeps the NaN operand's payload.
#pragma once

#include <cstdint>

#include "gguf/tensor_type.h"

#if defined(__CUDACC__) || defined(__HIPCC__)
#define RF_HOST_DEVICE __host__ __device__ inline __attribute__((always_inline))
#else
#define RF_HOST_DEVICE inline
#endif

// Set while compiling for the GPU (nvcc and hipcc preprocess the source once per target).
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#define RF_DEVICE_PASS 1
#define RF_UNROLL _Pragma("unroll")
#else
#define RF_DEVICE_PASS 0
#define RF_UNROLL
#endif

namespace rf::gpu {

// ---- exact arithmetic and loads ------------------------------------------------------------------

// a * b rounded to nearest even, never fused with a following addition.
RF_HOST_DEVICE float mul_rn(float a, float b) {
#if RF_DEVICE_PASS
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

// a / b correctly rounded on the device even under -prec-div=false.
RF_HOST_DEVICE float div_rn(float a, float b) {
#if RF_DEVICE_PASS
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

RF_HOST_DEVICE float bits_to_float(uint32_t u) { return __builtin_bit_cast(float, u); }
RF_HOST_DEVICE uint32_t float_to_bits(float f) { return __builtin_bit_cast(uint32_t, f); }

// Little-endian fields, from bytes at any alignment.
RF_HOST_DEVICE uint32_t load_u16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8); }
RF_HOST_DEVICE uint32_t load_u32(const uint8_t* p) { return load_u16(p) | (load_u16(p + 2) << 16); }

// IEEE binary16 -> f32, exact (as quant::fp16_to_f32).
RF_HOST_DEVICE float half_to_float(uint32_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));        // Inf / NaN
    if (exponent != 0) return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));  // normal
    // Zero or subnormal: mantissa * 2^-24, exact in f32 (a 10-bit integer times a power of two).
    return bits_to_float(sign | float_to_bits(static_cast<float>(mantissa) * 0x1p-24f));
}

// bfloat16 is the upper half of an f32.
RF_HOST_DEVICE float bf16_to_float(uint32_t h) { return bits_to_float(h << 16); }

RF_HOST_DEVICE float load_half(const uint8_t* p) { return half_to_float(load_u16(p)); }

// MXFP4 block scale 2^(e - 128) (the E2M1 values are stored doubled); e = 0, 1 give subnormals.
RF_HOST_DEVICE float e8m0_to_float_half(uint32_t e) {
    return bits_to_float(e < 2 ? (0x00200000u << e) : ((e - 1) << 23));
}

// ---- codebooks -----------------------------------------------------------------------------------
// Packed into integer constants so that a lookup is a shift in registers on the device, with no
// table in memory (which host-only constexpr arrays could not provide there anyway).

namespace detail {
inline constexpr int8_t kIq4nlLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr uint64_t pack_bytes(const int8_t* v) {
    uint64_t word = 0;
    for (int i = 7; i >= 0; --i) word = (word << 8) | static_cast<uint8_t>(v[i]);
    return word;
}
inline constexpr uint64_t kIq4nlLow = pack_bytes(kIq4nlLevels);       // levels 0..7, byte i = level i
inline constexpr uint64_t kIq4nlHigh = pack_bytes(kIq4nlLevels + 8);  // levels 8..15
}  // namespace detail

// IQ4_NL / IQ4_XS: the 16 non-uniform levels of a 4-bit index (quant::kValuesIq4nl).
RF_HOST_DEVICE int iq4nl_level(uint32_t i) {
    const uint64_t word = (i & 8) ? detail::kIq4nlHigh : detail::kIq4nlLow;
    return static_cast<int8_t>(static_cast<uint8_t>(word >> (8 * (i & 7))));
}

// MXFP4: E2M1 magnitudes doubled to integers, 0 1 2 3 4 6 8 12 (nibble k of the constant); index bit
// 3 is the sign (quant::kValuesMxfp4).
RF_HOST_DEVICE int mxfp4_level(uint32_t i) {
    const int magnitude = static_cast<int>((0xC8643210u >> (4 * (i & 7))) & 15u);
    return (i & 8) ? -magnitude : magnitude;
}

// ---- block sizes ---------------------------------------------------------------------------------

template <TensorType T> struct BlockTraits;  // only the formats below have a decoder
template <> struct BlockTraits<TensorType::F32> { static constexpr int kValues = 32, kBytes = 128; };
template <> struct BlockTraits<TensorType::F16> { static constexpr int kValues = 32, kBytes = 64; };
template <> struct BlockTraits<TensorType::BF16> { static constexpr int kValues = 32, kBytes = 64; };
template <> struct BlockTraits<TensorType::Q4_0> { static constexpr int kValues = 32, kBytes = 18; };
template <> struct BlockTraits<TensorType::Q4_1> { static constexpr int kValues = 32, kBytes = 20; };
template <> struct BlockTraits<TensorType::Q5_0> { static constexpr int kValues = 32, kBytes = 22; };
template <> struct BlockTraits<TensorType::Q5_1> { static constexpr int kValues = 32, kBytes = 24; };
template <> struct BlockTraits<TensorType::Q8_0> { static constexpr int kValues = 32, kBytes = 34; };
template <> struct BlockTraits<TensorType::Q2_K> { static constexpr int kValues = 256, kBytes = 84; };
template <> struct BlockTraits<TensorType::Q3_K> { static constexpr int kValues = 256, kBytes = 110; };
template <> struct BlockTraits<TensorType::Q4_K> { static constexpr int kValues = 256, kBytes = 144; };
template <> struct BlockTraits<TensorType::Q5_K> { static constexpr int kValues = 256, kBytes = 176; };
template <> struct BlockTraits<TensorType::Q6_K> { static constexpr int kValues = 256, kBytes = 210; };
template <> struct BlockTraits<TensorType::IQ4_NL> { static constexpr int kValues = 32, kBytes = 18; };
template <> struct BlockTraits<TensorType::IQ4_XS> { static constexpr int kValues = 256, kBytes = 136; };
template <> struct BlockTraits<TensorType::MXFP4> { static constexpr int kValues = 32, kBytes = 17; };

template <TensorType T>
RF_HOST_DEVICE void decode_unit(const uint8_t* block, int unit, float (&out)[32]) = delete;

// ---- plain floats: 32 consecutive little-endian values -------------------------------------------

template <>
RF_HOST_DEVICE void decode_unit<TensorType::F32>(const uint8_t* block, int, float (&out)[32]) {
    RF_UNROLL for (int j = 0; j < 32; ++j) out[j] = bits_to_float(load_u32(block + 4 * j));
}

template <>
RF_HOST_DEVICE void decode_unit<TensorType::F16>(const uint8_t* block, int, float (&out)[32]) {
    RF_UNROLL for (int j = 0; j < 32; ++j) out[j] = half_to_float(load_u16(block + 2 * j));
}

template <>
RF_HOST_DEVICE void decode_unit<TensorType::BF16>(const uint8_t* block, int, float (&out)[32]) {
    RF_UNROLL for (int j = 0; j < 32; ++j) out[j] = bf16_to_float(load_u16(block + 2 * j));
}

// ---- legacy 32-value blocks ----------------------------------------------------------------------
// Value j < 16 is the low nibble of qs[j], value j + 16 its high nibble; for the 5-bit types bit j
// of the little-endian uint32 qh is value j's fifth bit.

// Q4_0: d f16 @0, qs[16] @2; x = d * (nibble - 8).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q4_0>(const uint8_t* block, int, float (&out)[32]) {
    const float d = load_half(block);
    const uint8_t* qs = block + 2;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        out[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
        out[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
}

// Q4_1: d f16 @0, m f16 @2, qs[16] @4; x = d * nibble + m.
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q4_1>(const uint8_t* block, int, float (&out)[32]) {
    const float d = load_half(block), m = load_half(block + 2);
    const uint8_t* qs = block + 4;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        out[j] = mul_rn(static_cast<float>(qs[j] & 0x0f), d) + m;
        out[j + 16] = mul_rn(static_cast<float>(qs[j] >> 4), d) + m;
    }
}

// Q5_0: d f16 @0, qh u32 @2, qs[16] @6; x = d * (5-bit value - 16).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q5_0>(const uint8_t* block, int, float (&out)[32]) {
    const float d = load_half(block);
    const uint32_t qh = load_u32(block + 2);
    const uint8_t* qs = block + 6;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
        const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
        out[j] = static_cast<float>(lo - 16) * d;
        out[j + 16] = static_cast<float>(hi - 16) * d;
    }
}

// Q5_1: d f16 @0, m f16 @2, qh u32 @4, qs[16] @8; x = d * 5-bit value + m.
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q5_1>(const uint8_t* block, int, float (&out)[32]) {
    const float d = load_half(block), m = load_half(block + 2);
    const uint32_t qh = load_u32(block + 4);
    const uint8_t* qs = block + 8;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
        const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
        out[j] = mul_rn(static_cast<float>(lo), d) + m;
        out[j + 16] = mul_rn(static_cast<float>(hi), d) + m;
    }
}

// Q8_0: d f16 @0, int8 qs[32] @2; x = d * q.
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q8_0>(const uint8_t* block, int, float (&out)[32]) {
    const float d = load_half(block);
    RF_UNROLL for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
}

// ---- K-quants: 256-value super-blocks ------------------------------------------------------------
// Q2_K/Q3_K/Q6_K keep 2-bit fields of 128 values in 32 bytes: unit u (values 32u..32u+31) is bits
// 2 * (u % 4) of bytes 32 * (u / 4) + 0..31; its two 16-value sub-blocks have scales 2u and 2u + 1.

// Q3_K scale j: low 4 bits in the nibbles of bytes 0..7, top 2 bits in bytes 8..11; stored + 32.
RF_HOST_DEVICE int q3k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? (scales[j] & 0x0f) : (scales[j - 8] >> 4);
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

// Q4_K/Q5_K scale and min of sub-block j: 6 bits each, packed in 12 bytes.
RF_HOST_DEVICE void k4_scale_min(const uint8_t* q, int j, int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q2_K: scales[16] @0 (low nibble scale, high nibble min), qs[64] @16, d f16 @80, dmin f16 @82;
// x = d * sc * q - dmin * m, q in 0..3.
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q2_K>(const uint8_t* block, int unit, float (&out)[32]) {
    const float d = load_half(block + 80), min = load_half(block + 82);
    const uint8_t* q = block + 16 + 32 * (unit >> 2);
    const int shift = 2 * (unit & 3);
    RF_UNROLL for (int g = 0; g < 2; ++g) {
        const uint8_t sc = block[2 * unit + g];
        const float dl = d * static_cast<float>(sc & 0x0f);
        const float ml = mul_rn(min, static_cast<float>(sc >> 4));
        RF_UNROLL for (int l = 0; l < 16; ++l)
            out[16 * g + l] = mul_rn(dl, static_cast<float>((q[16 * g + l] >> shift) & 3)) - ml;
    }
}

// Q3_K: hmask[32] @0 (bit u of hmask[i]: value 32u + i is non-negative), qs[64] @32, scales[12] @96,
// d f16 @108; x = d * (sc - 32) * q, q = low 2 bits - (hmask bit ? 0 : 4).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q3_K>(const uint8_t* block, int unit, float (&out)[32]) {
    const float d_all = load_half(block + 108);
    const uint8_t* q = block + 32 + 32 * (unit >> 2);
    const int shift = 2 * (unit & 3);
    RF_UNROLL for (int g = 0; g < 2; ++g) {
        const float dl = d_all * static_cast<float>(q3k_scale(block + 96, 2 * unit + g));
        RF_UNROLL for (int l = 0; l < 16; ++l) {
            const int low = (q[16 * g + l] >> shift) & 3;
            const int value = low - (((block[16 * g + l] >> unit) & 1) ? 0 : 4);
            out[16 * g + l] = dl * static_cast<float>(value);
        }
    }
}

// Q4_K: d f16 @0, dmin f16 @2, scales[12] @4, qs[128] @16; unit u is the low (u even) or high
// nibbles of qs[32 * (u / 2) + 0..31]; x = d * sc * q - dmin * m.
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q4_K>(const uint8_t* block, int unit, float (&out)[32]) {
    int sc, m;
    k4_scale_min(block + 4, unit, sc, m);
    const float dl = load_half(block) * static_cast<float>(sc);
    const float ml = mul_rn(load_half(block + 2), static_cast<float>(m));
    const uint8_t* q = block + 16 + 32 * (unit >> 1);
    const int shift = 4 * (unit & 1);
    RF_UNROLL for (int l = 0; l < 32; ++l) out[l] = mul_rn(dl, static_cast<float>((q[l] >> shift) & 0x0f)) - ml;
}

// Q5_K: like Q4_K with qh[32] @16 (bit u of qh[l]: the fifth bit of value 32u + l), qs[128] @48.
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q5_K>(const uint8_t* block, int unit, float (&out)[32]) {
    int sc, m;
    k4_scale_min(block + 4, unit, sc, m);
    const float dl = load_half(block) * static_cast<float>(sc);
    const float ml = mul_rn(load_half(block + 2), static_cast<float>(m));
    const uint8_t* qh = block + 16;
    const uint8_t* q = block + 48 + 32 * (unit >> 1);
    const int shift = 4 * (unit & 1);
    RF_UNROLL for (int l = 0; l < 32; ++l) {
        const int value = ((q[l] >> shift) & 0x0f) + (((qh[l] >> unit) & 1) ? 16 : 0);
        out[l] = mul_rn(dl, static_cast<float>(value)) - ml;
    }
}

// Q6_K: ql[128] @0, qh[64] @128, int8 scales[16] @192, d f16 @208. Unit u = 4h + s: low (s < 2) or
// high nibbles of ql[64h + 32(s & 1) + l], bits 2s of qh[32h + l] on top; scale 8h + 2s + l / 16;
// x = d * sc * (q - 32).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::Q6_K>(const uint8_t* block, int unit, float (&out)[32]) {
    const float d = load_half(block + 208);
    const int h = unit >> 2, s = unit & 3;
    const uint8_t* ql = block + 64 * h + 32 * (s & 1);
    const uint8_t* qh = block + 128 + 32 * h;
    const int8_t* scales = reinterpret_cast<const int8_t*>(block + 192 + 8 * h + 2 * s);
    const int nibble_shift = 4 * (s >> 1);
    RF_UNROLL for (int l = 0; l < 32; ++l) {
        const int q = (((ql[l] >> nibble_shift) & 0x0f) | (((qh[l] >> (2 * s)) & 3) << 4)) - 32;
        out[l] = d * static_cast<float>(scales[l / 16]) * static_cast<float>(q);
    }
}

// ---- non-linear 4-bit formats --------------------------------------------------------------------

// IQ4_NL: d f16 @0, qs[16] @2 (nibbles as Q4_0); x = d * level(nibble).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::IQ4_NL>(const uint8_t* block, int, float (&out)[32]) {
    const float d = load_half(block);
    const uint8_t* qs = block + 2;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        out[j] = d * static_cast<float>(iq4nl_level(qs[j] & 0x0f));
        out[j + 16] = d * static_cast<float>(iq4nl_level(qs[j] >> 4));
    }
}

// IQ4_XS: d f16 @0, scales_h u16 @2 (2 bits per unit), scales_l[4] @4 (a nibble per unit), qs[128] @8
// (unit u: nibbles of qs[16u + 0..15] as Q4_0); x = d * (scale - 32) * level(nibble).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::IQ4_XS>(const uint8_t* block, int unit, float (&out)[32]) {
    const int low = (block[4 + unit / 2] >> (4 * (unit % 2))) & 0x0f;
    const int high = static_cast<int>(load_u16(block + 2) >> (2 * unit)) & 3;
    const float dl = load_half(block) * static_cast<float>((low | (high << 4)) - 32);
    const uint8_t* qs = block + 8 + 16 * unit;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        out[j] = dl * static_cast<float>(iq4nl_level(qs[j] & 0x0f));
        out[j + 16] = dl * static_cast<float>(iq4nl_level(qs[j] >> 4));
    }
}

// MXFP4: E8M0 exponent e @0, qs[16] @1 (nibbles as Q4_0, 17-byte blocks: odd addresses occur);
// x = level(nibble) * 2^(e - 128).
template <>
RF_HOST_DEVICE void decode_unit<TensorType::MXFP4>(const uint8_t* block, int, float (&out)[32]) {
    const float d = e8m0_to_float_half(block[0]);
    const uint8_t* qs = block + 1;
    RF_UNROLL for (int j = 0; j < 16; ++j) {
        out[j] = static_cast<float>(mxfp4_level(qs[j] & 0x0f)) * d;
        out[j + 16] = static_cast<float>(mxfp4_level(qs[j] >> 4)) * d;
    }
}

}  // namespace rf::gpu
