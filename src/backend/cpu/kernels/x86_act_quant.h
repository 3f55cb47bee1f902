// Activation quantizers for the kernels (see x86_simd.h for how this file is compiled): the same
// bytes as rf::quant::quantize_row followed by the widening in activations.cpp, computed 8 floats
// at a time. Every step is an IEEE operation the reference does too (max, one division, one
// product per value, the same rounding rule), so the results are bit-identical; the tests check.
#pragma once

#include <cmath>
#include <limits>

#include "backend/cpu/kernels/x86_simd.h"
#include "quant/block_formats.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// f32 -> F16 (round to nearest even) -> f32, as storing a scale in a block and reading it back.
inline float through_f16(float v) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
}

// Rounds half away from zero (std::round) exactly: |v| - floor(|v|) is exact below 2^23.
inline __m256 round_half_away(__m256 v) {
    const __m256 a = abs8(v);
    const __m256 floor = _mm256_floor_ps(a);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, floor), _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                    _mm256_set1_ps(1.0f));
    return _mm256_or_ps(_mm256_add_ps(floor, up), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
}

// Four vectors of int32-valued floats (each within int8) -> 32 int8 in order.
inline __m256i pack32_i8(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256i ab = _mm256_packs_epi32(_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
    const __m256i cd = _mm256_packs_epi32(_mm256_cvtps_epi32(c), _mm256_cvtps_epi32(d));
    // packs works per 128-bit lane: restore the order of the 8-value groups afterwards.
    const __m256i bytes = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline int32_t sum_i8(__m256i q) {
    const __m256i pairs = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
    return hsum_i32(pairs);
}

// All-ones lanes where |v| is finite (false for NaN and Inf).
inline __m256 finite8(__m256 v) {
    return _mm256_cmp_ps(abs8(v), _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ);
}

// True when every one of the n values is finite.
inline bool all_finite(const float* x, int64_t n) {
    __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int64_t i = 0; i < n; i += 8) ok = _mm256_and_ps(ok, finite8(_mm256_loadu_ps(x + i)));
    return _mm256_movemask_ps(ok) == 0xff;
}

// One 32-block as Q8_0/Q8_1 round it: d = amax / 127 (65504 where F16 would overflow), levels
// round(x / d) clamped to +-127. Returns the levels; d is the unrounded f32 scale.
inline __m256i q8_block(const float* x, float& d) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        amax = _mm256_max_ps(abs8(v[i]), amax);
    }
    d = hmax8(amax) / 127.0f;
    if (std::isinf(through_f16(d))) d = 65504.0f;
    const __m256 inverse = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (int i = 0; i < 4; ++i)
        v[i] = _mm256_min_ps(_mm256_max_ps(round_half_away(_mm256_mul_ps(v[i], inverse)), lo), hi);
    return pack32_i8(v[0], v[1], v[2], v[3]);
}

bool act_quant_q8_0(const float* x, int64_t cols, uint8_t* dst) {
    if (!all_finite(x, cols)) return false;
    for (int64_t b = 0; b < cols / 32; ++b, x += 32, dst += sizeof(ActBlockQ8_0)) {
        float d;
        const __m256i q = q8_block(x, d);
        ActBlockQ8_0 out{through_f16(d), sum_i8(q), {}};
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.qs), q);
        std::memcpy(dst, &out, sizeof out);
    }
    return true;
}

bool act_quant_q8_1(const float* x, int64_t cols, uint8_t* dst) {
    if (!all_finite(x, cols)) return false;
    for (int64_t b = 0; b < cols / 32; ++b, x += 32, dst += sizeof(ActBlockQ8_1)) {
        float d;
        const __m256i q = q8_block(x, d);
        ActBlockQ8_1 out{through_f16(d), through_f16(static_cast<float>(sum_i8(q)) * d), {}};
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.qs), q);
        std::memcpy(dst, &out, sizeof out);
    }
    return true;
}

// Q8_K: the scale comes from the first value of largest magnitude (with its sign), levels are
// clamped to -128..127 first and then rounded to nearest even, plus the sums of each 16 levels.
bool act_quant_q8_k(const float* x, int64_t cols, uint8_t* dst) {
    if (!all_finite(x, cols)) return false;
    for (int64_t b = 0; b < cols / 256; ++b, x += 256, dst += sizeof(quant::BlockQ8_K)) {
        quant::BlockQ8_K block{};
        __m256 amax = _mm256_setzero_ps();
        for (int i = 0; i < 32; ++i) amax = _mm256_max_ps(abs8(_mm256_loadu_ps(x + 8 * i)), amax);
        const float top = hmax8(amax);
        if (top != 0) {
            int first = 0;
            while (std::fabs(x[first]) != top) ++first;
            const float iscale = -127.0f / x[first];
            const __m256 scale = _mm256_set1_ps(iscale);
            const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
            for (int g = 0; g < 8; ++g) {
                __m256 v[4];
                for (int i = 0; i < 4; ++i) {
                    const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(x + 32 * g + 8 * i), scale);
                    v[i] = _mm256_round_ps(_mm256_min_ps(_mm256_max_ps(s, lo), hi),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                }
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(block.qs + 32 * g), pack32_i8(v[0], v[1], v[2], v[3]));
            }
            block.d = 1.0f / iscale;
        }
        for (int g = 0; g < 16; ++g) {
            const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs + 16 * g));
            const __m256i wide = _mm256_cvtepi8_epi16(q);
            const __m256i pairs = _mm256_madd_epi16(wide, _mm256_set1_epi16(1));
            block.bsums[g] = static_cast<int16_t>(hsum_i32(pairs));
        }
        std::memcpy(dst, &block, sizeof block);
    }
    return true;
}

ActQuantFn act_quantizer_of(ActFormat format) {
    switch (format) {
        case ActFormat::Q8_0: return act_quant_q8_0;
        case ActFormat::Q8_1: return act_quant_q8_1;
        case ActFormat::Q8_K: return act_quant_q8_k;
        case ActFormat::F32: break;
    }
    return nullptr;
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
