// Bit-exact conversions between f32 and the 16-bit float formats stored in GGUF files (IEEE
// binary16 "F16" and bfloat16 "BF16"), and the E8M0 scale of MXFP4. Narrowing rounds to nearest,
// ties to even; Inf keeps its sign; NaN stays NaN (quiet, sign kept). Widening is exact.
#pragma once

#include <bit>
#include <cstdint>

namespace rf::quant {

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
inline float fp16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1f) {                       // Inf / NaN
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {                   // normal
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {                   // signed zero
        bits = sign;
    } else {                                      // subnormal: value = mantissa * 2^-24
        int e = 127 - 15 + 1;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --e;
        }
        bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3ffu) << 13);
    }
    return std::bit_cast<float>(bits);
}

inline uint16_t f32_to_fp16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u) return sign | 0x7e00u;                 // NaN -> quiet NaN
    if (abs >= 0x477ff000u) return sign | 0x7c00u;                // >= 65520 (or Inf) -> Inf
    if (abs >= 0x38800000u) {                                     // normal half (>= 2^-14)
        const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // ties to even on bit 13
        return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
    }
    if (abs < 0x33000000u) return sign;                           // < 2^-25: rounds to zero
    // Subnormal half: value / 2^-24 rounded to an integer, ties to even.
    const uint32_t exponent = abs >> 23;                          // 102..112
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;      // 24 significant bits
    const uint32_t shift = 126 - exponent;                        // 14..24
    uint32_t q = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u))) ++q;           // may carry into the normal range
    return sign | static_cast<uint16_t>(q);
}

// bfloat16: the upper half of an f32.
inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
    // Ties to even; values that round past the largest finite bf16 become Inf, as they should.
    return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// MXFP4 block scale: E8M0 holds 2^(e - 127); the format's 4-bit values are stored doubled (see
// kValuesMxfp4), so the dequantizer uses half of it, 2^(e - 128). e = 0 and 1 give subnormals.
inline float e8m0_to_f32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
    return std::bit_cast<float>(bits);
}

}  // namespace rf::quant
