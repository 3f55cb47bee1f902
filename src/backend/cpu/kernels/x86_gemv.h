// Few-token products for the 32-value block types, 8 weight rows at a time, straight from the
// weights as stored (included by the AVX2 variant; AVX-512 has the 16-row x86_gemv16.h).
//
// A row kernel adds each block into one scalar accumulator: a chain of dependent FMAs that caps a
// core at a few bytes per cycle. Here the 8 rows' integer block dots are reduced into the 8 lanes
// of one vector, so the float work of a block (int -> float, scale, accumulate) is one vector op
// for 8 rows and the chain is shared. Lane r does exactly what the tile products of x86_gemm.h
// and the row kernels do for row r (per block in order: acc = fma(dot, d * dx, acc), then the
// min's share), so every path gives bit-identical results.
#pragma once

#include <type_traits>

#include "backend/cpu/kernels/x86_legacy.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

// The two F16 values that start each of 8 blocks `stride` bytes apart, widened to f32: lanes of
// `low` get the first (the scale), lanes of `high` the second (the min of Q4_1/Q5_1).
inline void load8_f16_pairs(const uint8_t* p, size_t stride, __m256& low, __m256& high) {
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(stride)));
    const __m256i pairs = _mm256_i32gather_epi32(reinterpret_cast<const int*>(p), index, 1);
    const __m256i lo16 = _mm256_and_si256(pairs, _mm256_set1_epi32(0xffff));
    const __m256i hi16 = _mm256_srli_epi32(pairs, 16);
    // Pack to 16 bits per lane: [lo0..3 hi0..3 | lo4..7 hi4..7], then gather the quarters in order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo16, hi16), _MM_SHUFFLE(3, 1, 2, 0));
    low = _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
    high = _mm256_cvtph_ps(_mm256_extracti128_si256(packed, 1));
}

template <typename Format>
struct Rows8 {
    using K = Blocks32<Format>;
    static constexpr bool kMin = K::kMin;

    // Scales (and mins) of block b of the 8 rows.
    static void scales(const uint8_t* wb, size_t row_bytes, __m256& d, __m256& m) {
        if constexpr (std::is_same_v<Format, MXFP4>) {
            alignas(32) float s[8];
            for (int r = 0; r < 8; ++r) s[r] = Format::scale(wb + r * row_bytes);
            d = _mm256_load_ps(s);
            m = _mm256_setzero_ps();
        } else {
            load8_f16_pairs(wb, row_bytes, d, m);  // every other format starts with an F16 scale
        }
    }

    // The integer dot of one row's block with the activations `x` (lanes to be summed), before any
    // offset correction.
    static __m256i raw_dot(const uint8_t* wb, __m256i x) {
        if constexpr (HasOffset<Format>) {
            return dot_u8s8(_mm256_setzero_si256(), Format::unsigned_values(wb), x);
        } else if constexpr (Format::kSigned) {
            const __m256i q = Format::values(wb);
            return dot_u8s8(_mm256_setzero_si256(), _mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
        } else {
            return dot_u8s8(_mm256_setzero_si256(), Format::values(wb), x);
        }
    }

    static void one_token(int64_t n_blocks, const uint8_t* w, size_t row_bytes, const uint8_t* act, float* out) {
        __m256 acc = _mm256_setzero_ps();
        NextTilePrefetch prefetch(w, 8, row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t* wb = w + b * Format::kBytes;
            const uint8_t* a = act + b * K::kActBytes;
            prefetch.upto(static_cast<size_t>(b + 1) * Format::kBytes);
            const __m256i x = load256(a + K::kActQs);
            __m256i lanes[8];
            for (int r = 0; r < 8; ++r) lanes[r] = raw_dot(wb + r * row_bytes, x);
            __m256i dots = hsum8_i32(lanes);
            if constexpr (HasOffset<Format>) {
                int32_t sum;
                std::memcpy(&sum, a + offsetof(ActBlockQ8_0, sum), 4);
                dots = _mm256_sub_epi32(dots, _mm256_set1_epi32(sum * Format::kOffset));
            }
            __m256 d, m;
            scales(wb, row_bytes, d, m);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots), _mm256_mul_ps(d, _mm256_set1_ps(load_f32(a))), acc);
            if constexpr (kMin) acc = _mm256_fmadd_ps(m, _mm256_set1_ps(load_f32(a + offsetof(ActBlockQ8_1, s))), acc);
        }
        _mm256_storeu_ps(out, acc);
    }

    // TileGemmFn: out[t * out_stride + r]. A partial tile (fewer than 8 rows) uses the row kernel,
    // which sums in the same order.
    static void run(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                    size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
        const int64_t n_blocks = cols / 32;
        for (int64_t t = 0; t < n_tok; ++t) {
            const uint8_t* act_t = act + static_cast<size_t>(t) * act_stride;
            float* out_t = out + static_cast<size_t>(t) * out_stride;
            if (n_rows == 8) {
                one_token(n_blocks, w, row_bytes, act_t, out_t);
                continue;
            }
            for (int r = 0; r < n_rows; ++r)
                K::template run<1>(cols, w + static_cast<size_t>(r) * row_bytes, act_t, act_stride, out_t + r,
                                   out_stride);
        }
    }
};

TileGemmFn gemv_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return Rows8<Q4_0>::run;
        case TensorType::Q4_1: return Rows8<Q4_1>::run;
        case TensorType::Q5_0: return Rows8<Q5_0>::run;
        case TensorType::Q5_1: return Rows8<Q5_1>::run;
        case TensorType::Q8_0: return Rows8<Q8_0>::run;
        case TensorType::IQ4_NL: return Rows8<IQ4_NL>::run;
        case TensorType::MXFP4: return Rows8<MXFP4>::run;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
