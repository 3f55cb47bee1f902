// The rounding the CPU reference applies to activations before a product with a weight matrix
// (cpu::activation_format in src/backend/cpu/reference_matmul.cpp): the values that
// quant::quantize_row followed by quant::dequantize_row give, bit-exact, on host and device.
// Inputs must be finite for the Q8 formats (quantize_row rejects anything else); F16/BF16 take any
// value. Same arithmetic rules as block_decode.h: products and quotients that feed further
// arithmetic use mul_rn/div_rn, rounding to integers is done with exact integer/float steps.
#pragma once

#include <cstdint>

#include "backend/cuda/block_decode.h"
#include "gguf/tensor_type.h"

namespace rf::gpu {

enum class ActRounding { None, F16, BF16, Q8_0, Q8_1, Q8_K };

RF_HOST_DEVICE constexpr ActRounding act_rounding_for(TensorType weight) {
    switch (weight) {
        case TensorType::F16: return ActRounding::F16;
        case TensorType::BF16: return ActRounding::BF16;
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0:
        case TensorType::IQ4_NL: case TensorType::MXFP4:
            return ActRounding::Q8_0;
        case TensorType::Q4_1: case TensorType::Q5_1:
            return ActRounding::Q8_1;
        case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
        case TensorType::Q6_K: case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ2_S:
        case TensorType::IQ3_XXS: case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M:
        case TensorType::IQ4_XS: case TensorType::TQ1_0: case TensorType::TQ2_0:
            return ActRounding::Q8_K;
        default: return ActRounding::None;  // F32 and types without a matmul
    }
}

// ---- F16 / BF16: round to nearest even (as quant::f32_to_fp16 / f32_to_bf16) ----------------------

RF_HOST_DEVICE uint32_t float_to_half_bits(float f) {
    const uint32_t bits = float_to_bits(f);
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u) return sign | 0x7e00u;                 // NaN -> quiet NaN
    if (abs >= 0x477ff000u) return sign | 0x7c00u;                // >= 65520 (or Inf) -> Inf
    if (abs >= 0x38800000u) {                                     // normal half (>= 2^-14)
        const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // ties to even on bit 13
        return sign | ((rounded - (112u << 23)) >> 13);
    }
    if (abs < 0x33000000u) return sign;                           // < 2^-25: rounds to zero
    // Subnormal half: value / 2^-24 rounded to an integer, ties to even (may carry into normal).
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - (abs >> 23);                     // 14..24
    uint32_t q = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u))) ++q;
    return sign | q;
}

RF_HOST_DEVICE uint32_t float_to_bf16_bits(float f) {
    const uint32_t bits = float_to_bits(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return ((bits >> 16) | 0x0040u) & 0xffffu;  // quiet NaN
    return ((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16) & 0xffffu;
}

RF_HOST_DEVICE float round_act_f16(float x) { return half_to_float(float_to_half_bits(x)); }
RF_HOST_DEVICE float round_act_bf16(float x) { return bf16_to_float(float_to_bf16_bits(x)); }

// ---- Q8_0 / Q8_1: 32 values -----------------------------------------------------------------------
// d = max|x| / 127 (saturated to 65504 where F16 would overflow), q = round-half-away(x * (1 / d))
// clamped to +-127, stored d rounded to F16; the result is q * F16(d). Q8_1 only adds a sum that
// dequantization ignores, so both give the same values.

RF_HOST_DEVICE float abs_float(float x) { return bits_to_float(float_to_bits(x) & 0x7fffffffu); }

// std::clamp(std::round(v), -127, 127) as an int. Clamping first changes nothing for finite v.
// NaN (0 * Inf, when 1 / d overflows for a block of tiny values) gives 0, as the reference's
// float -> int8 conversion does on x86; the result is then +-0 either way, since F16(d) is 0.
RF_HOST_DEVICE int q8_level(float v) {
    if (v != v) return 0;
    v = v < -127.0f ? -127.0f : (v > 127.0f ? 127.0f : v);
    const float a = abs_float(v);
    int q = static_cast<int>(a);                          // truncation
    if (a - static_cast<float>(q) >= 0.5f) ++q;           // exact: a < 2^23
    return v < 0.0f ? -q : q;
}

// The scale of a Q8_0 block whose largest magnitude is amax: `inverse` multiplies the values
// before q8_level, `stored` (F16-rounded) is what a level is worth.
struct Q8Scale {
    float inverse, stored;
};
RF_HOST_DEVICE Q8Scale q8_0_scale(float amax) {
    float d = div_rn(amax, 127.0f);
    if ((float_to_half_bits(d) & 0x7fffu) == 0x7c00u) d = 65504.0f;  // F16 would be Inf: saturate
    return {d != 0.0f ? div_rn(1.0f, d) : 0.0f, half_to_float(float_to_half_bits(d))};
}

// One block as int8 levels and their scale (the few-token products' input, cuda_gemv.cu).
RF_HOST_DEVICE float quantize_act_block_q8_0(const float* in, int8_t* q) {
    float amax = 0.0f;
    RF_UNROLL for (int j = 0; j < 32; ++j) {
        const float a = abs_float(in[j]);
        amax = amax < a ? a : amax;
    }
    const Q8Scale scale = q8_0_scale(amax);
    RF_UNROLL for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(q8_level(mul_rn(in[j], scale.inverse)));
    return scale.stored;
}

RF_HOST_DEVICE void round_act_block_q8_0(const float* in, float* out) {
    int8_t q[32];
    const float d = quantize_act_block_q8_0(in, q);
    RF_UNROLL for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(q[j]) * d;
}

RF_HOST_DEVICE void round_act_block_q8_1(const float* in, float* out) { round_act_block_q8_0(in, out); }

// ---- Q8_K: 256 values ----------------------------------------------------------------------------
// The first value of largest magnitude, max, maps to -127: q = round-half-even(x * (-127 / max))
// clamped to -128..127, d = 1 / (-127 / max) kept in f32; the result is d * q. All zeros give +0.

// quant::round_clamp: clamp (NaN -> lo), then round to nearest even by adding and subtracting
// 1.5 * 2^23 (two separate additions: nothing to contract).
RF_HOST_DEVICE int round_clamp(float v, int lo, int hi) {
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    v = v > flo ? v : flo;
    v = v < fhi ? v : fhi;
    constexpr float kRoundingBias = 12582912.0f;
    return static_cast<int>((v + kRoundingBias) - kRoundingBias);
}

// The levels of a Q8_K block whose first value of largest magnitude is max (nonzero): a value x
// becomes q8_k_level(iscale * x), worth d = 1 / iscale.
RF_HOST_DEVICE float q8_k_iscale(float max) { return div_rn(-127.0f, max); }
RF_HOST_DEVICE int q8_k_level(float iscale, float x) { return round_clamp(mul_rn(iscale, x), -128, 127); }

RF_HOST_DEVICE float quantize_act_block_q8_k(const float* in, int8_t* q) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; ++j) {
        const float a = abs_float(in[j]);
        if (a > amax) {
            amax = a;
            max = in[j];
        }
    }
    if (amax == 0.0f) {
        for (int j = 0; j < 256; ++j) q[j] = 0;
        return 0.0f;
    }
    const float iscale = q8_k_iscale(max);
    for (int j = 0; j < 256; ++j) q[j] = static_cast<int8_t>(q8_k_level(iscale, in[j]));
    return div_rn(1.0f, iscale);
}

RF_HOST_DEVICE void round_act_block_q8_k(const float* in, float* out) {
    int8_t q[256];
    const float d = quantize_act_block_q8_k(in, q);
    for (int j = 0; j < 256; ++j) out[j] = d * static_cast<float>(q[j]);
}

}  // namespace rf::gpu
