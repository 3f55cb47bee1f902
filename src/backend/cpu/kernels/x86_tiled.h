// Products over weights interleaved 16 rows at a time (weight_tiles.h), with VNNI (included by
// avx512_kernels.cpp).
//
// The in-place kernels of x86_gemv16.h assemble each 512-bit register from four 16-byte row
// pieces (three inserts) and gather the 16 rows' scales; both cost more than the arithmetic. Here
// one aligned load holds the same 4 bytes of a block of all 16 rows, so lane r of a dpbusd with 4
// broadcast activation bytes is row r's partial dot: no inserts, no gather, no reduction across
// lanes. The float work per block and token is the same vector op in the same order as in the
// other paths, so the results are bit-identical.
#pragma once

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include "backend/cpu/kernels/x86_gemv16.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

struct TiledQ4_0 {
    static constexpr size_t kScaleBytes = 16 * 2;
    static constexpr size_t kValueBytes = 16 * 16;

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* tile, size_t row_bytes, __m512i /*row_offsets*/,
                       const uint8_t* act, size_t act_stride, float* out, size_t out_stride) {
        const uint8_t* scales = tile;
        const uint8_t* values = tile + n_blocks * static_cast<int64_t>(kScaleBytes);
        each_block<NT, Q4_0::kBytes, true>(n_blocks, tile, row_bytes, out, out_stride,
                                           [&](int64_t b, const uint8_t*, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            // Word k of the 16 rows: low nibbles are elements 4k..4k+3, high nibbles 16+4k..16+4k+3.
            const uint8_t* vb = values + b * static_cast<int64_t>(kValueBytes);
            const __m512i mask = _mm512_set1_epi8(0x0f);
            __m512i lo[4], hi[4];
            for (int k = 0; k < 4; ++k) {
                const __m512i raw = _mm512_loadu_si512(vb + 64 * k);
                lo[k] = _mm512_and_si512(raw, mask);
                hi[k] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), mask);
            }
            const __m512 d = _mm512_cvtph_ps(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * static_cast<int64_t>(kScaleBytes))));
            for (int t = 0; t < NT; ++t) {
                const uint8_t* xb = act + t * act_stride + b * static_cast<int64_t>(sizeof(ActBlockQ8_0));
                const uint8_t* xq = xb + offsetof(ActBlockQ8_0, qs);
                __m512i dot_lo = _mm512_setzero_si512(), dot_hi = _mm512_setzero_si512();
                for (int k = 0; k < 4; ++k) {
                    int32_t x_lo, x_hi;
                    std::memcpy(&x_lo, xq + 4 * k, 4);
                    std::memcpy(&x_hi, xq + 16 + 4 * k, 4);
                    dot_lo = _mm512_dpbusd_epi32(dot_lo, lo[k], _mm512_set1_epi32(x_lo));
                    dot_hi = _mm512_dpbusd_epi32(dot_hi, hi[k], _mm512_set1_epi32(x_hi));
                }
                int32_t sum;
                std::memcpy(&sum, xb + offsetof(ActBlockQ8_0, sum), 4);
                const __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(dot_lo, dot_hi), _mm512_set1_epi32(Q4_0::kOffset * sum));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, _mm512_set1_ps(load_f32(xb))), acc[t]);
            }
        });
    }

    // Whole tiles only: matmul.cpp sends the rows past the last tile to the row kernels.
    static constexpr TileGemmFn run = in_place_rows16<TiledQ4_0, Blocks32<Q4_0>, 32, 8>;
};

TileGemmFn tiled_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return TiledQ4_0::run;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS

#endif
