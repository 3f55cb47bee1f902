// Few-token products of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS with VNNI, 16 rows read in place (included by
// avx512_kernels.cpp).
//
// The layout of x86_gemv16.h: one 512-bit register holds 16 bytes of 4 rows (rows g, g+4, g+8,
// g+12). A Q4_K super-block stores the 32-value sub-blocks 2p and 2p+1 as the low and high nibbles
// of the same 32 bytes, so one load of 16 bytes per row gives half of both; a Q6_K half-chunk of
// 16 values is one 16-value sub-block. Per sub-block and token the 4 registers' dots reduce to one
// lane per row, which is multiplied by the 16 rows' scales; mins and offsets are applied from the
// activations' per-16 sums. The integer sums are exact and the float steps are those of the row
// kernels (x86_kquants.h): per super-block, acc = fma(isum, d * dx, acc), then
// acc = -(corr * (c * dx)) + acc with c = dmin (Q4_K) or d (Q6_K). The next tile is prefetched
// for 1-2 tokens only: from 4 tokens on these kernels are bound by decoding, not by memory.
#pragma once

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include "backend/cpu/kernels/x86_gemv16.h"
#include "backend/cpu/kernels/x86_kquants.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

// int16 pairs (lane r: weight of 16-sum 2k in the low half, of 2k + 1 in the high half) from the
// 16 rows' int32 weights of two 16-value sums, for one multiply-add per pair of activation sums.
inline __m512i int16_pair(__m512i even, __m512i odd) {
    return _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(odd, 16));
}

// A byte shuffle that fills each int32 lane with bytes b0..b3 of the same lane (-1: zero). One
// shuffle replaces the shift and mask (or shift, mask, shift and or) of picking a byte apart.
inline __m512i lane_bytes(int b0, int b1, int b2, int b3) {
    const auto at = [](int lane, int b) { return static_cast<char>(b < 0 ? -128 : 4 * lane + b); };
    return _mm512_broadcast_i32x4(_mm_setr_epi8(at(0, b0), at(0, b1), at(0, b2), at(0, b3), at(1, b0), at(1, b1),
                                                at(1, b2), at(1, b3), at(2, b0), at(2, b1), at(2, b2), at(2, b3),
                                                at(3, b0), at(3, b1), at(3, b2), at(3, b3)));
}

// Byte k (0..3) of each int32 lane, unsigned.
inline __m512i byte_of(__m512i v, int k) { return _mm512_shuffle_epi8(v, lane_bytes(k, -1, -1, -1)); }

// Byte k of each int32 lane, unsigned, in both int16 halves (a min that weighs two 16-sums).
inline __m512i byte_pair_of(__m512i v, int k) { return _mm512_shuffle_epi8(v, lane_bytes(k, -1, k, -1)); }

// The int16 pairs of 2^Shift times the signed bytes k and k + 1 of each int32 lane (Shift <= 8):
// each byte lands in the top of its int16 (256 times its value, sign included), then an
// arithmetic shift divides exactly.
template <int Shift>
inline __m512i signed_byte_pair_of(__m512i v, int k) {
    static_assert(Shift >= 0 && Shift <= 8);
    return _mm512_srai_epi16(_mm512_shuffle_epi8(v, lane_bytes(-1, k, -1, k + 1)), 8 - Shift);
}

// The end of a super-block with a correction (mins, or the offset of values stored as u - k):
// corr = sum over the 16-value sub-blocks j of weight_j * (sub-block j's activation sum), from
// the int16 weight pairs as the row kernels take it, then their two float steps:
// acc = fma(isum, d * dx, acc), acc = -(corr * (c * dx)) + acc.
template <int NT>
void finish_corrected_block(const __m512i (&pairs)[8], const __m512i (&isum)[NT], __m512 d, __m512 c,
                            const uint8_t* act_b, size_t act_stride, __m512 (&acc)[NT]) {
    for (int t = 0; t < NT; ++t) {
        const uint8_t* xb = act_b + t * act_stride;
        __m512i corr2[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};  // two chains
        for (int k = 0; k < 8; ++k) {
            int32_t pair;
            std::memcpy(&pair, xb + offsetof(BlockQ8_K, bsums) + 4 * k, 4);
            corr2[k & 1] = _mm512_dpwssd_epi32(corr2[k & 1], pairs[k], _mm512_set1_epi32(pair));
        }
        const __m512i corr = _mm512_add_epi32(corr2[0], corr2[1]);
        const __m512 dx = _mm512_set1_ps(load_f32(xb));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), acc[t]);
        acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(corr), _mm512_mul_ps(c, dx), acc[t]);
    }
}

// Weight pairs for values stored as u - 2^Shift: 2^Shift * scale_j for each 16-value sub-block.
template <int Shift, typename ScaleOf>
void offset_pairs(ScaleOf scale_of, __m512i (&pairs)[8]) {
    for (int k = 0; k < 8; ++k)
        pairs[k] = int16_pair(_mm512_slli_epi32(scale_of(2 * k), Shift), _mm512_slli_epi32(scale_of(2 * k + 1), Shift));
}

// v shifted left by n bits (right by -n) in 16-bit lanes, to move a bit field of every byte into
// place; the bits that cross into a neighbouring byte are masked off by the caller.
inline __m512i shift_bits(__m512i v, int n) {
    if (n > 0) return _mm512_slli_epi16(v, static_cast<unsigned>(n));
    if (n < 0) return _mm512_srli_epi16(v, static_cast<unsigned>(-n));
    return v;
}

// isum[t] += scale * (the 16 rows' dots of one 16-value sub-block u with token t's 16
// activation bytes at xq + t * act_stride), lane r = row r.
template <int NT>
inline void add_scaled_dots16(const __m512i (&u)[4], __m512i scale, const uint8_t* xq, size_t act_stride,
                              __m512i (&isum)[NT]) {
    for (int t = 0; t < NT; ++t) {
        const __m512i x = _mm512_broadcast_i32x4(load128(xq + t * act_stride));
        __m512i part[4];
        for (int g = 0; g < 4; ++g) part[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[g], x);
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(reduce_4x4(part), scale));
    }
}

// Q4_K, and Q5_K (FifthBit) whose 32 bytes of fifth bits (bit c for sub-block c) sit between
// the scales and the nibbles.
template <bool FifthBit>
struct Q4KRows16 {
    static constexpr size_t kBytes = FifthBit ? sizeof(quant::BlockQ5_K) : sizeof(quant::BlockQ4_K);
    static constexpr int kQs = FifthBit ? 48 : 16;
    static constexpr size_t kActQs = offsetof(BlockQ8_K, qs);

    // The 8 six-bit scales and mins of 16 rows from their 12 packed bytes (words w0, w1, w2, lane
    // r = row r; see Q4_K::prepare): byte c % 4 of scales[c / 4] and mins[c / 4] is sub-block c's.
    static void unpack_scales(__m512i w0, __m512i w1, __m512i w2, __m512i (&scales)[2], __m512i (&mins)[2]) {
        const __m512i six = _mm512_set1_epi32(0x3f3f3f3f), four = _mm512_set1_epi32(0x0f0f0f0f),
                      top = _mm512_set1_epi32(0x30303030);
        scales[0] = _mm512_and_si512(w0, six);
        scales[1] = _mm512_or_si512(_mm512_and_si512(w2, four), _mm512_and_si512(_mm512_srli_epi32(w0, 2), top));
        mins[0] = _mm512_and_si512(w1, six);
        mins[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(w2, 4), four),
                                  _mm512_and_si512(_mm512_srli_epi32(w1, 2), top));
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* w, size_t row_bytes, __m512i row_offsets, const uint8_t* act,
                       size_t act_stride, float* out, size_t out_stride) {
        const size_t stride = 4 * row_bytes;
        const __m512i low4 = _mm512_set1_epi8(0x0f), bit4 = _mm512_set1_epi8(0x10);
        each_block<NT, kBytes, (NT <= 2)>(n_blocks, w, row_bytes, out, out_stride,
                                          [&](int64_t b, const uint8_t* wb, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            // The 16 rows' d and dmin, and their 12 bytes of packed 6-bit scales and mins (see
            // Q4_K::prepare): lane r of each vector belongs to row r.
            const __m512i head = _mm512_i32gather_epi32(row_offsets, wb, 1);
            const __m512i w0 = _mm512_i32gather_epi32(row_offsets, wb + 4, 1);
            const __m512i w1 = _mm512_i32gather_epi32(row_offsets, wb + 8, 1);
            const __m512i w2 = _mm512_i32gather_epi32(row_offsets, wb + 12, 1);
            __m512i scales[2], mins[2];
            unpack_scales(w0, w1, w2, scales, mins);

            __m512i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
            __m512i fifth_bits[4][2];  // Q5_K: bit c of each byte is the fifth bit of chunk c
            if constexpr (FifthBit)
                for (int g = 0; g < 4; ++g)
                    for (int h = 0; h < 2; ++h) fifth_bits[g][h] = load_4x16(wb + g * row_bytes + 16 + 16 * h, stride);
            for (int p = 0; p < 4; ++p) {
                __m512i raw[4][2];
                for (int g = 0; g < 4; ++g)
                    for (int h = 0; h < 2; ++h) raw[g][h] = load_4x16(wb + g * row_bytes + kQs + 32 * p + 16 * h, stride);
                for (int nib = 0; nib < 2; ++nib) {
                    const int c = 2 * p + nib;
                    __m512i v[4][2];
                    for (int g = 0; g < 4; ++g)
                        for (int h = 0; h < 2; ++h) {
                            const __m512i nibbles = nib ? _mm512_srli_epi16(raw[g][h], 4) : raw[g][h];
                            if constexpr (FifthBit) {
                                const __m512i fifth = _mm512_and_si512(shift_bits(fifth_bits[g][h], 4 - c), bit4);
                                v[g][h] = _mm512_ternarylogic_epi32(nibbles, low4, fifth, 0xea);  // (nibbles & low4) | fifth
                            } else {
                                v[g][h] = _mm512_and_si512(nibbles, low4);
                            }
                        }
                    const __m512i scale = byte_of(scales[c / 4], c % 4);
                    for (int t = 0; t < NT; ++t) {
                        const uint8_t* xq = act + t * act_stride + b * sizeof(BlockQ8_K) + kActQs + 32 * c;
                        const __m512i x0 = _mm512_broadcast_i32x4(load128(xq));
                        const __m512i x1 = _mm512_broadcast_i32x4(load128(xq + 16));
                        __m512i part[4];
                        for (int g = 0; g < 4; ++g)
                            part[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), v[g][0], x0),
                                                          v[g][1], x1);
                        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(reduce_4x4(part), scale));
                    }
                }
            }
            // Each min weighs the sum of its sub-block's two 16-value activation sums: the min in
            // both int16 halves of a pair.
            __m512i min_pairs[8];
            for (int k = 0; k < 8; ++k) min_pairs[k] = byte_pair_of(mins[k / 4], k % 4);
            const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
            const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16)));
            finish_corrected_block(min_pairs, isum, d, dmin, act + b * sizeof(BlockQ8_K), act_stride, acc);
        });
    }
};

struct Q6KRows16 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ6_K);
    static constexpr size_t kActQs = offsetof(BlockQ8_K, qs);

    // Sub-block j's signed 8-bit scale of the 16 rows (lane r = row r), from the 4 gathered words.
    static __m512i scale_of(const __m512i (&words)[4], int j) {
        return _mm512_srai_epi32(_mm512_sllv_epi32(words[j / 4], _mm512_set1_epi32(24 - 8 * (j % 4))), 24);
    }
    // The correction weights of values stored as u - 2^5: 2^5 * scale_j, sub-blocks 2k and 2k + 1
    // in pair k (the scales of sub-blocks j = 4i..4i+3 are the bytes of words[i]).
    static void offset_pairs(const __m512i (&words)[4], __m512i (&pairs)[8]) {
        for (int k = 0; k < 8; ++k) pairs[k] = signed_byte_pair_of<5>(words[k / 2], 2 * (k % 2));
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* w, size_t row_bytes, __m512i row_offsets, const uint8_t* act,
                       size_t act_stride, float* out, size_t out_stride) {
        const size_t stride = 4 * row_bytes;
        const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
        each_block<NT, kBytes, (NT <= 2)>(n_blocks, w, row_bytes, out, out_stride,
                                          [&](int64_t b, const uint8_t* wb, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            // Scales at 192..207 and d at 208 (read from 206 so as not to run past the block).
            __m512i words[4];
            for (int i = 0; i < 4; ++i) words[i] = _mm512_i32gather_epi32(row_offsets, wb + 192 + 4 * i, 1);
            const __m512 d = _mm512_cvtph_ps(
                _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_i32gather_epi32(row_offsets, wb + 206, 1), 16)));

            __m512i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
            for (int h = 0; h < 2; ++h) {
                __m512i high[4][2];  // the 2-bit parts of chunks 4h..4h+3, per group and half
                for (int g = 0; g < 4; ++g)
                    for (int hh = 0; hh < 2; ++hh) high[g][hh] = load_4x16(wb + g * row_bytes + 128 + 32 * h + 16 * hh, stride);
                for (int pair = 0; pair < 2; ++pair) {
                    __m512i low[4][2];  // the nibbles of chunks 4h + pair (low) and 4h + pair + 2 (high)
                    for (int g = 0; g < 4; ++g)
                        for (int hh = 0; hh < 2; ++hh) low[g][hh] = load_4x16(wb + g * row_bytes + 64 * h + 32 * pair + 16 * hh, stride);
                    for (int nib = 0; nib < 2; ++nib) {
                        const int s = pair + 2 * nib, c = 4 * h + s;
                        __m512i u[4][2];  // 6-bit values of chunk c, unsigned: nibble | 2 bits << 4
                        for (int g = 0; g < 4; ++g)
                            for (int hh = 0; hh < 2; ++hh) {
                                const __m512i lo = nib ? _mm512_srli_epi16(low[g][hh], 4) : low[g][hh];
                                const __m512i hi = _mm512_and_si512(shift_bits(high[g][hh], 4 - 2 * s), bits45);
                                u[g][hh] = _mm512_ternarylogic_epi32(lo, low4, hi, 0xea);  // (lo & low4) | hi
                            }
                        const __m512i scale0 = scale_of(words, 2 * c), scale1 = scale_of(words, 2 * c + 1);
                        for (int t = 0; t < NT; ++t) {
                            const uint8_t* xq = act + t * act_stride + b * sizeof(BlockQ8_K) + kActQs + 32 * c;
                            const __m512i x0 = _mm512_broadcast_i32x4(load128(xq));
                            const __m512i x1 = _mm512_broadcast_i32x4(load128(xq + 16));
                            __m512i part0[4], part1[4];
                            for (int g = 0; g < 4; ++g) {
                                part0[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[g][0], x0);
                                part1[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[g][1], x1);
                            }
                            isum[t] = _mm512_add_epi32(
                                isum[t], _mm512_add_epi32(_mm512_mullo_epi32(reduce_4x4(part0), scale0),
                                                          _mm512_mullo_epi32(reduce_4x4(part1), scale1)));
                        }
                    }
                }
            }
            __m512i pairs[8];  // values stored as u - 2^5
            offset_pairs(words, pairs);
            finish_corrected_block(pairs, isum, d, d, act + b * sizeof(BlockQ8_K), act_stride, acc);
        });
    }
};

// Q2_K: 16-value sub-blocks of 2-bit values, each with a 4-bit scale (low nibble of byte j) and a
// 4-bit min (high nibble): value = d * scale * q - dmin * min.
struct Q2KRows16 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ2_K);
    static constexpr size_t kActQs = offsetof(BlockQ8_K, qs);

    // Nibble `high` (0 or 1) of byte j of the 16 rows' gathered scale words.
    static __m512i nibble_of(const __m512i (&words)[4], int j, int high) {
        return _mm512_and_si512(_mm512_srlv_epi32(words[j / 4], _mm512_set1_epi32(8 * (j % 4) + 4 * high)),
                                _mm512_set1_epi32(0xf));
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* w, size_t row_bytes, __m512i row_offsets, const uint8_t* act,
                       size_t act_stride, float* out, size_t out_stride) {
        const size_t stride = 4 * row_bytes;
        const __m512i low2 = _mm512_set1_epi8(3);
        each_block<NT, kBytes, (NT <= 2)>(n_blocks, w, row_bytes, out, out_stride,
                                          [&](int64_t b, const uint8_t* wb, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            __m512i words[4];
            for (int i = 0; i < 4; ++i) words[i] = _mm512_i32gather_epi32(row_offsets, wb + 4 * i, 1);
            const __m512i head = _mm512_i32gather_epi32(row_offsets, wb + 80, 1);  // d, dmin
            __m512i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
            // Half hh of chunk c is sub-block 2c + hh; each 16 bytes of qs hold that half of 4 chunks.
            for (int hh = 0; hh < 2; ++hh) {
                for (int q = 0; q < 2; ++q) {
                    __m512i bits[4];
                    for (int g = 0; g < 4; ++g) bits[g] = load_4x16(wb + g * row_bytes + 16 + 32 * q + 16 * hh, stride);
                    for (int s = 0; s < 4; ++s) {
                        const int c = 4 * q + s;
                        __m512i u[4];
                        for (int g = 0; g < 4; ++g) u[g] = _mm512_and_si512(_mm512_srli_epi16(bits[g], 2 * s), low2);
                        add_scaled_dots16(u, nibble_of(words, 2 * c + hh, 0),
                                          act + b * sizeof(BlockQ8_K) + kActQs + 32 * c + 16 * hh, act_stride, isum);
                    }
                }
            }
            __m512i min_pairs[8];
            for (int k = 0; k < 8; ++k) min_pairs[k] = int16_pair(nibble_of(words, 2 * k, 1), nibble_of(words, 2 * k + 1, 1));
            const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
            const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16)));
            finish_corrected_block(min_pairs, isum, d, dmin, act + b * sizeof(BlockQ8_K), act_stride, acc);
        });
    }
};

// Q3_K: 16-value sub-blocks of 3-bit values (2 low bits in qs, the third in hmask), stored as
// u - 4, with 6-bit signed scales packed in 12 bytes (see Q3_K::prepare).
struct Q3KRows16 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ3_K);
    static constexpr size_t kActQs = offsetof(BlockQ8_K, qs);

    // Sub-block j's scale of the 16 rows from the gathered scale words: the low 4 bits are
    // nibble j / 8 of byte j % 8, the high 2 bits sit at bit 2 * (j / 4) of byte 8 + j % 4.
    static __m512i scale_of(const __m512i (&words)[3], int j) {
        const __m512i low = _mm512_and_si512(
            _mm512_srlv_epi32(words[(j % 8) / 4], _mm512_set1_epi32(8 * (j % 4) + 4 * (j / 8))), _mm512_set1_epi32(0xf));
        const __m512i high = _mm512_and_si512(
            _mm512_srlv_epi32(words[2], _mm512_set1_epi32(8 * (j % 4) + 2 * (j / 4))), _mm512_set1_epi32(3));
        return _mm512_sub_epi32(_mm512_or_si512(low, _mm512_slli_epi32(high, 4)), _mm512_set1_epi32(32));
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* w, size_t row_bytes, __m512i row_offsets, const uint8_t* act,
                       size_t act_stride, float* out, size_t out_stride) {
        const size_t stride = 4 * row_bytes;
        const __m512i low2 = _mm512_set1_epi8(3), bit2 = _mm512_set1_epi8(4);
        each_block<NT, kBytes, (NT <= 2)>(n_blocks, w, row_bytes, out, out_stride,
                                          [&](int64_t b, const uint8_t* wb, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            __m512i words[3];
            for (int i = 0; i < 3; ++i) words[i] = _mm512_i32gather_epi32(row_offsets, wb + 96 + 4 * i, 1);
            // d at 108, read from 106 so as not to run past the 110-byte block.
            const __m512 d = _mm512_cvtph_ps(
                _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_i32gather_epi32(row_offsets, wb + 106, 1), 16)));
            __m512i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
            // Half hh of chunk c is sub-block 2c + hh. Per half, the hmask bytes serve all 8 chunks
            // and each 16 bytes of qs 4 chunks, so they are loaded once.
            for (int hh = 0; hh < 2; ++hh) {
                __m512i mask[4];
                for (int g = 0; g < 4; ++g) mask[g] = load_4x16(wb + g * row_bytes + 16 * hh, stride);
                for (int q = 0; q < 2; ++q) {
                    __m512i low[4];
                    for (int g = 0; g < 4; ++g) low[g] = load_4x16(wb + g * row_bytes + 32 + 32 * q + 16 * hh, stride);
                    for (int s = 0; s < 4; ++s) {
                        const int c = 4 * q + s;
                        __m512i u[4];
                        for (int g = 0; g < 4; ++g) {
                            const __m512i hi = _mm512_and_si512(shift_bits(mask[g], 2 - c), bit2);
                            u[g] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(low[g], 2 * s), low2, hi, 0xea);  // (lo & low2) | hi
                        }
                        add_scaled_dots16(u, scale_of(words, 2 * c + hh),
                                          act + b * sizeof(BlockQ8_K) + kActQs + 32 * c + 16 * hh, act_stride, isum);
                    }
                }
            }
            __m512i pairs[8];  // values stored as u - 2^2
            offset_pairs<2>([&](int j) { return scale_of(words, j); }, pairs);
            finish_corrected_block(pairs, isum, d, d, act + b * sizeof(BlockQ8_K), act_stride, acc);
        });
    }
};

// IQ4_XS: 32-value sub-blocks of non-linear 4-bit levels (low nibbles elements 0..15, high ones
// 16..31) with 6-bit signed scales. The levels are dotted + 128 and 128 * scale * sum(x) taken
// back off in integers, which gives the row kernel's exact sum.
struct IQ4XSRows16 {
    static constexpr size_t kBytes = sizeof(quant::BlockIQ4_XS);
    static constexpr size_t kActQs = offsetof(BlockQ8_K, qs);
    static constexpr size_t kActSums = offsetof(BlockQ8_K, bsums);

    // Sub-block j's scale of the 16 rows: 4 low bits at bit 4j of scales_l, 2 high bits at bit 2j
    // of scales_h, minus 32.
    static __m512i scale_of(__m512i low_words, __m512i high_words, int j) {
        const __m512i low = _mm512_and_si512(_mm512_srlv_epi32(low_words, _mm512_set1_epi32(4 * j)), _mm512_set1_epi32(0xf));
        const __m512i high = _mm512_and_si512(_mm512_srlv_epi32(high_words, _mm512_set1_epi32(2 * j)), _mm512_set1_epi32(3));
        return _mm512_sub_epi32(_mm512_or_si512(low, _mm512_slli_epi32(high, 4)), _mm512_set1_epi32(32));
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* w, size_t row_bytes, __m512i row_offsets, const uint8_t* act,
                       size_t act_stride, float* out, size_t out_stride) {
        const size_t stride = 4 * row_bytes;
        const __m512i low4 = _mm512_set1_epi8(0x0f);
        const __m512i table = _mm512_xor_si512(
            _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlLevels))),
            _mm512_set1_epi8(static_cast<char>(0x80)));
        each_block<NT, kBytes, (NT <= 2)>(n_blocks, w, row_bytes, out, out_stride,
                                          [&](int64_t b, const uint8_t* wb, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            const __m512i head = _mm512_i32gather_epi32(row_offsets, wb, 1);  // d, scales_h
            const __m512i low_words = _mm512_i32gather_epi32(row_offsets, wb + 4, 1);
            const __m512i high_words = _mm512_srli_epi32(head, 16);
            __m512i isum[NT], corr[NT];
            for (int t = 0; t < NT; ++t) isum[t] = corr[t] = _mm512_setzero_si512();
            for (int j = 0; j < 8; ++j) {
                __m512i lo[4], hi[4];
                for (int g = 0; g < 4; ++g) {
                    const __m512i raw = load_4x16(wb + g * row_bytes + 8 + 16 * j, stride);
                    lo[g] = _mm512_shuffle_epi8(table, _mm512_and_si512(raw, low4));
                    hi[g] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4));
                }
                const __m512i scale = scale_of(low_words, high_words, j);
                for (int t = 0; t < NT; ++t) {
                    const uint8_t* xb = act + t * act_stride + b * sizeof(BlockQ8_K);
                    const __m512i x0 = _mm512_broadcast_i32x4(load128(xb + kActQs + 32 * j));
                    const __m512i x1 = _mm512_broadcast_i32x4(load128(xb + kActQs + 32 * j + 16));
                    __m512i part[4];
                    for (int g = 0; g < 4; ++g)
                        part[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[g], x0), hi[g], x1);
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(reduce_4x4(part), scale));
                    int16_t sums[2];
                    std::memcpy(sums, xb + kActSums + 4 * j, 4);
                    corr[t] = _mm512_add_epi32(corr[t], _mm512_mullo_epi32(scale, _mm512_set1_epi32(128 * (sums[0] + sums[1]))));
                }
            }
            const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
            for (int t = 0; t < NT; ++t) {
                const __m512 dx = _mm512_set1_ps(load_f32(act + t * act_stride + b * sizeof(BlockQ8_K)));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[t], corr[t])), _mm512_mul_ps(d, dx), acc[t]);
            }
        });
    }
};

TileGemmFn gemv16_kquant_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q2_K: return in_place_rows16<Q2KRows16, SuperBlocks<Q2_K>, 256, 4>;
        case TensorType::Q3_K: return in_place_rows16<Q3KRows16, SuperBlocks<Q3_K>, 256, 4>;
        case TensorType::Q4_K: return in_place_rows16<Q4KRows16<false>, SuperBlocks<Q4_K>, 256, 4>;
        case TensorType::Q5_K: return in_place_rows16<Q4KRows16<true>, SuperBlocks<Q5_K>, 256, 4>;
        case TensorType::Q6_K: return in_place_rows16<Q6KRows16, SuperBlocks<Q6_K>, 256, 4>;
        case TensorType::IQ4_XS: return in_place_rows16<IQ4XSRows16, SuperBlocks<IQ4_XS>, 256, 4>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS

#endif
