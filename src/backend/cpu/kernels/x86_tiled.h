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

#include <type_traits>

#include "backend/cpu/kernels/x86_gemm_kquants.h"
#include "backend/cpu/kernels/x86_gemv16_kquants.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

// The 4 activation bytes at xq in every 32-bit lane.
RF_ALWAYS_INLINE inline __m512i broadcast4(const uint8_t* xq) {
    int32_t x4;
    std::memcpy(&x4, xq, 4);
    return _mm512_set1_epi32(x4);
}

// The 16 rows' dot (lane r = row r) of Words words of unsigned bytes u with the activation bytes
// at xq (word k: bytes 4k..4k+3), plus `init`, in two dependency chains.
template <int Words>
RF_ALWAYS_INLINE inline __m512i dot_words(const __m512i* u, const uint8_t* xq, __m512i init = _mm512_setzero_si512()) {
    __m512i dot[2] = {init, _mm512_setzero_si512()};
    for (int k = 0; k < Words; ++k) dot[k & 1] = _mm512_dpbusd_epi32(dot[k & 1], u[k], broadcast4(xq + 4 * k));
    return _mm512_add_epi32(dot[0], dot[1]);
}

// isum[t] += scale * (dot_words(u, token t's activation bytes at xq + t * act_stride) >> Shift)
// (Shift 4: u holds high nibbles in place, 16 times their value; the division is exact).
template <int Words, int NT, int Shift = 0>
RF_ALWAYS_INLINE inline void add_scaled_words(const __m512i* u, __m512i scale, const uint8_t* xq, size_t act_stride,
                                              __m512i (&isum)[NT]) {
    for (int t = 0; t < NT; ++t) {
        __m512i dot = dot_words<Words>(u, xq + t * act_stride);
        if constexpr (Shift != 0) dot = _mm512_srai_epi32(dot, Shift);
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot, scale));
    }
}

// Q4_0 and Q8_0. Per block: the 16 rows' F16 scales (32 bytes, in the first segment, n_blocks *
// 32 bytes long), then the packed values word by word (the second segment): Q4_0 word k holds
// elements 4k..4k+3 in its low nibbles and 16+4k..16+4k+3 in its high ones, Q8_0 word k elements
// 4k..4k+3 as signed bytes (dotted + 128, with 128 * sum(x) taken back off).
template <typename Format>
struct Tiled32 {
    static constexpr bool kNibbles = std::is_same_v<Format, Q4_0>;
    static constexpr int kWords = kNibbles ? 4 : 8;
    static constexpr int kOffset = kNibbles ? Q4_0::kOffset : 128;

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* tile, size_t row_bytes, __m512i /*row_offsets*/,
                       const uint8_t* act, size_t act_stride, float* out, size_t out_stride) {
        const uint8_t* scales = tile;
        const uint8_t* values = tile + n_blocks * 32;
        each_block<NT, Format::kBytes, true>(n_blocks, tile, row_bytes, out, out_stride,
                                             [&](int64_t b, const uint8_t*, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            const uint8_t* vb = values + b * 64 * kWords;
            // u[k]: the unsigned bytes dotted with activation word k (elements 4k..4k+3). For few
            // tokens Q4_0's high nibbles stay in place, as 16 times their value: a chain of their
            // own, divided by 16 at the end, saves a shift per word and costs one per token.
            constexpr bool kHighInPlace = kNibbles && NT < 4;
            __m512i u[8];
            for (int k = 0; k < kWords; ++k) {
                const __m512i raw = _mm512_loadu_si512(vb + 64 * k);
                if constexpr (kNibbles) {
                    const __m512i low4 = _mm512_set1_epi8(0x0f);
                    u[k] = _mm512_and_si512(raw, low4);
                    u[k + 4] = kHighInPlace ? _mm512_andnot_si512(low4, raw) : _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
                } else {
                    u[k] = _mm512_xor_si512(raw, _mm512_set1_epi8(static_cast<char>(0x80)));
                }
            }
            const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * 32)));
            for (int t = 0; t < NT; ++t) {
                const uint8_t* xb = act + t * act_stride + b * static_cast<int64_t>(sizeof(ActBlockQ8_0));
                const uint8_t* xq = xb + offsetof(ActBlockQ8_0, qs);
                int32_t sum;
                std::memcpy(&sum, xb + offsetof(ActBlockQ8_0, sum), 4);
                // The offset is taken off where the dot starts (integers: exact).
                const __m512i offset = _mm512_set1_epi32(-kOffset * sum);
                __m512i total;
                if constexpr (kHighInPlace) {
                    __m512i high = _mm512_setzero_si512();
                    for (int k = 0; k < 4; ++k) high = _mm512_dpbusd_epi32(high, u[k + 4], broadcast4(xq + 16 + 4 * k));
                    total = _mm512_add_epi32(dot_words<4>(u, xq, offset), _mm512_srai_epi32(high, 4));
                } else {
                    total = dot_words<8>(u, xq, offset);
                }
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(load_f32(xb))), acc[t]);
            }
        });
    }
};

// Q4_K: 36 words per super-block: d and dmin, the 12 bytes of packed 6-bit scales and mins, then
// the nibbles (word 8p + k: elements 4k..4k+3 of sub-block 2p low, of sub-block 2p + 1 high).
// The integer sums are exact and the float steps those of the other paths (x86_gemv16_kquants.h).
struct TiledQ4K {
    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* tile, size_t row_bytes, __m512i /*row_offsets*/,
                       const uint8_t* act, size_t act_stride, float* out, size_t out_stride) {
        const __m512i low4 = _mm512_set1_epi8(0x0f);
        each_block<NT, sizeof(quant::BlockQ4_K), (NT <= 2)>(n_blocks, tile, row_bytes, out, out_stride,
                                                           [&](int64_t b, const uint8_t*, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            const uint8_t* wb = tile + b * 36 * 64;
            const auto word = [&](int i) { return _mm512_loadu_si512(wb + 64 * i); };
            const __m512i head = word(0);
            __m512i scales[2], mins[2];
            Q4KRows16<false>::unpack_scales(word(1), word(2), word(3), scales, mins);
            __m512i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
            const uint8_t* xq = act + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs);
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p) {
                __m512i raw[8];
                for (int k = 0; k < 8; ++k) raw[k] = word(4 + 8 * p + k);
                __m512i u[8];
                for (int k = 0; k < 8; ++k) u[k] = _mm512_and_si512(raw[k], low4);
                add_scaled_words<8>(u, byte_of(scales[p / 2], 2 * (p % 2)), xq + 64 * p, act_stride, isum);
                // Odd sub-blocks: for few tokens the high nibbles stay in place (as in Tiled32).
                const int c = 2 * p + 1;
                const __m512i scale = byte_of(scales[c / 4], c % 4);
                if constexpr (NT < 4) {
                    for (int k = 0; k < 8; ++k) u[k] = _mm512_andnot_si512(low4, raw[k]);
                    add_scaled_words<8, NT, 4>(u, scale, xq + 32 * c, act_stride, isum);
                } else {
                    for (int k = 0; k < 8; ++k) u[k] = _mm512_and_si512(_mm512_srli_epi16(raw[k], 4), low4);
                    add_scaled_words<8>(u, scale, xq + 32 * c, act_stride, isum);
                }
            }
            __m512i min_pairs[8];
            for (int k = 0; k < 8; ++k) min_pairs[k] = byte_pair_of(mins[k / 4], k % 4);
            const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
            const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16)));
            finish_corrected_block(min_pairs, isum, d, dmin, act + b * sizeof(BlockQ8_K), act_stride, acc);
        });
    }
};

// Q6_K: 52 words per super-block (the low 4 bits: words 0..31, the high 2 bits: 32..47, the
// signed scales: 48..51), then, in the second segment, the 16 rows' F16 d per super-block. Chunk
// c = 4h + s of 32 values takes nibble s / 2 of low-bit words 16h + 8(s % 2) + k and bits 2s, 2s+1
// of high-bit words 32 + 8h + k (k = 0..7; words 0..3 are sub-block 2c, 4..7 sub-block 2c + 1).
// From 32 tokens on the tile is decoded once into the many-token products' form instead.
struct TiledQ6K {
    static constexpr int64_t kBlockBytes = 52 * 64;

    // The 16 rows' 6-bit values of chunk c of super-block wb, unsigned (nibble | 2 bits << 4).
    RF_ALWAYS_INLINE static void chunk(const uint8_t* wb, int c, __m512i (&u)[8]) {
        const int h = c / 4, s = c % 4;
        // Bits 2s, 2s + 1 of the high-bit bytes go to bits 4, 5. Masked first (0x33 or 0xcc, the
        // same mask for chunks s and s + 2, so the unrolled loop computes it once per word), the
        // 16-bit shift brings nothing else into bits 4..7; bits 0..3 are taken from `lo`.
        const __m512i low4 = _mm512_set1_epi8(0x0f), pairs = _mm512_set1_epi8(static_cast<char>(s % 2 ? 0xcc : 0x33));
        for (int k = 0; k < 8; ++k) {
            const __m512i low = _mm512_loadu_si512(wb + 64 * (16 * h + 8 * (s % 2) + k));
            const __m512i high = _mm512_and_si512(_mm512_loadu_si512(wb + 64 * (32 + 8 * h + k)), pairs);
            const __m512i lo = s / 2 ? _mm512_srli_epi16(low, 4) : low;
            u[k] = _mm512_ternarylogic_epi32(lo, shift_bits(high, 4 - 2 * s), low4, 0xe4);  // (lo & low4) | (hi & ~low4)
        }
    }
    RF_ALWAYS_INLINE static void scale_words(const uint8_t* wb, __m512i (&words)[4]) {
        for (int i = 0; i < 4; ++i) words[i] = _mm512_loadu_si512(wb + 64 * (48 + i));
    }
    static __m512 block_d(const uint8_t* tile, int64_t n_blocks, int64_t b) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + n_blocks * kBlockBytes + b * 32)));
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* tile, size_t row_bytes, __m512i /*row_offsets*/,
                       const uint8_t* act, size_t act_stride, float* out, size_t out_stride) {
        each_block<NT, sizeof(quant::BlockQ6_K), (NT <= 2)>(n_blocks, tile, row_bytes, out, out_stride,
                                                           [&](int64_t b, const uint8_t*, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            const uint8_t* wb = tile + b * kBlockBytes;
            __m512i words[4];
            scale_words(wb, words);
            __m512i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
            const uint8_t* xq = act + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs);
            // Unrolled, so that each chunk's shifts are constants (not branches on a variable).
#pragma GCC unroll 8
            for (int c = 0; c < 8; ++c) {
                __m512i u[8];
                chunk(wb, c, u);
                add_scaled_words<4>(u, Q6KRows16::scale_of(words, 2 * c), xq + 32 * c, act_stride, isum);
                add_scaled_words<4>(u + 4, Q6KRows16::scale_of(words, 2 * c + 1), xq + 32 * c + 16, act_stride, isum);
            }
            __m512i pairs[8];  // values stored as u - 2^5
            Q6KRows16::offset_pairs(words, pairs);
            const __m512 d = block_d(tile, n_blocks, b);
            finish_corrected_block(pairs, isum, d, d, act + b * sizeof(BlockQ8_K), act_stride, acc);
        });
    }

    // The tile in the form of x86_gemm_kquants.h (values, scales, correction weights, d).
    static void pack(int64_t n_blocks, const uint8_t* tile, PackedSuperTile& packed) {
        constexpr int R = PackedSuperTile::kRows;
        packed.reserve(n_blocks);
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t* wb = tile + b * kBlockBytes;
#pragma GCC unroll 8
            for (int c = 0; c < 8; ++c) {
                __m512i u[8];
                chunk(wb, c, u);
                for (int k = 0; k < 8; ++k) _mm512_storeu_si512(packed.values + b * (8 * 8 * R * 4) + 32 * R * c + 4 * R * k, u[k]);
            }
            __m512i words[4];
            scale_words(wb, words);
            for (int j = 0; j < 16; ++j) _mm512_storeu_si512(packed.scales + b * 16 * R + R * j, Q6KRows16::scale_of(words, j));
            __m512i pairs[8];
            Q6KRows16::offset_pairs(words, pairs);
            for (int k = 0; k < 8; ++k) _mm512_storeu_si512(packed.corr + b * 16 * R + 2 * R * k, pairs[k]);
            const __m512 d = block_d(tile, n_blocks, b);
            _mm512_storeu_ps(packed.d + b * R, d);
            _mm512_storeu_ps(packed.corr_scale + b * R, d);
        }
    }

    static void run(int64_t cols, const uint8_t* tile, size_t row_bytes, int n_rows, const uint8_t* act,
                    size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
        if (n_tok < 32)
            return in_place_rows16<TiledQ6K, SuperBlocks<Q6_K>, 256, 8>(cols, tile, row_bytes, n_rows, act, act_stride,
                                                                        n_tok, out, out_stride);
        thread_local PackedSuperTile packed;
        const int64_t n_blocks = cols / 256;
        pack(n_blocks, tile, packed);
        super_tile_token_groups<Q6_K>(n_blocks, packed, act, act_stride, n_tok, out, out_stride, n_rows);
    }
};

// Whole tiles only: matmul.cpp sends the rows past the last tile to the other products.
TileGemmFn tiled_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return in_place_rows16<Tiled32<Q4_0>, Blocks32<Q4_0>, 32, 8>;
        case TensorType::Q8_0: return in_place_rows16<Tiled32<Q8_0>, Blocks32<Q8_0>, 32, 8>;
        case TensorType::Q4_K: return in_place_rows16<TiledQ4K, SuperBlocks<Q4_K>, 256, 8>;
        case TensorType::Q6_K: return TiledQ6K::run;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS

#endif
