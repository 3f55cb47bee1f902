// Few-token products for the 32-value block types with VNNI, 16 weight rows read in place
// (included by avx512_kernels.cpp).
//
// The tile products of x86_gemm.h repack 16 rows so that every dpbusd advances all of them; that
// repacking costs more than it saves when only a few tokens use the tile. Here nothing is
// written: one 512-bit register holds a half-block (16 bytes, elements 0..15 or 16..31) of 4
// rows, so decoding is a load and a mask, and one dpbusd with the token's half-block broadcast
// to the four 128-bit lanes gives 4 partial sums per row. Four such registers (rows g, g+4, g+8,
// g+12 in register g) reduce with six unpacks and three adds to one register whose lane r is row
// r's exact block dot. The float work is then one vector op per token for all 16 rows, as in the
// tile products and in the same order (per block: acc = fma(dot, d * dx, acc), then the min's
// share), so every path stays bit-identical.
#pragma once

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include <algorithm>
#include <utility>

#include "backend/cpu/kernels/x86_gemm.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

// The raw bytes of a block as this kernel reads them, per format: where the 16 bytes of packed
// values start, whether they are nibbles (low: elements 0..15, high: 16..31) or whole bytes, an
// optional 16-level table, where the fifth bits are, and what to subtract per unit of sum(x) so
// that dotting unsigned bytes gives the signed dot.
enum class Packing { Nibbles, Bytes };
enum class BlockScale { F16, F16WithMin, E8M0 };

template <Packing P, int Qs, int Qh, int Offset, const int8_t* Levels, BlockScale Scale>
struct Layout {
    static constexpr Packing kPacking = P;
    static constexpr int kQs = Qs, kQh = Qh, kOffset = Offset;
    static constexpr const int8_t* kLevels = Levels;
    static constexpr BlockScale kScale = Scale;
};
template <typename Format>
struct HalfBlocks;
template <> struct HalfBlocks<Q4_0> : Layout<Packing::Nibbles, 2, -1, 8, nullptr, BlockScale::F16> {};
template <> struct HalfBlocks<Q4_1> : Layout<Packing::Nibbles, 4, -1, 0, nullptr, BlockScale::F16WithMin> {};
template <> struct HalfBlocks<Q5_0> : Layout<Packing::Nibbles, 6, 2, 16, nullptr, BlockScale::F16> {};
template <> struct HalfBlocks<Q5_1> : Layout<Packing::Nibbles, 8, 4, 0, nullptr, BlockScale::F16WithMin> {};
// Signed bytes and levels are made unsigned by adding 128 (a flipped sign bit).
template <> struct HalfBlocks<Q8_0> : Layout<Packing::Bytes, 2, -1, 128, nullptr, BlockScale::F16> {};
template <> struct HalfBlocks<IQ4_NL> : Layout<Packing::Nibbles, 2, -1, 128, kIq4nlLevels, BlockScale::F16> {};
template <> struct HalfBlocks<MXFP4> : Layout<Packing::Nibbles, 1, -1, 128, kMxfp4Levels, BlockScale::E8M0> {};

// 16 bytes of each of the 4 rows p, p + stride, p + 2 * stride, p + 3 * stride, one row per
// 128-bit lane. Masked broadcasts rather than inserts: their merge runs on either vector port,
// an insert only on the shuffle port (single-core Q4_0 products from the L2: 26 -> 27 GB/s).
inline __m512i load_4x16(const uint8_t* p, size_t stride) {
    __m512i v = _mm512_castsi128_si512(load128(p));
    v = _mm512_mask_broadcast_i32x4(v, 0x00f0, load128(p + stride));
    v = _mm512_mask_broadcast_i32x4(v, 0x0f00, load128(p + 2 * stride));
    return _mm512_mask_broadcast_i32x4(v, 0xf000, load128(p + 3 * stride));
}

// Lane r (of 16) = the sum of the 4 int32 lanes of row r, where register g holds rows g, g+4,
// g+8, g+12 in its four 128-bit lanes. Exact, so the order of the additions does not matter.
inline __m512i reduce_4x4(const __m512i (&v)[4]) {
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

// Byte offsets of 16 consecutive rows, for gathering a 4-byte word of each.
inline __m512i row_offsets16(size_t row_bytes) {
    alignas(64) int32_t offsets[16];
    for (int r = 0; r < 16; ++r) offsets[r] = static_cast<int32_t>(static_cast<size_t>(r) * row_bytes);
    return _mm512_load_si512(offsets);
}

// A partial tile (the last of a matrix whose rows are not a multiple of 16) goes through the row
// kernel, which sums in the same order.
template <typename RowKernel>
void rows_one_by_one(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                     size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    for (int r = 0; r < n_rows; ++r)
        for (int64_t t = 0; t < n_tok; t += kMaxTileTokens)
            dispatch_tokens<RowKernel>(cols, w + r * row_bytes, act + t * act_stride, act_stride,
                                       static_cast<int>(std::min<int64_t>(kMaxTileTokens, n_tok - t)),
                                       out + t * out_stride + r, out_stride);
}

// TileGemmFn over 16 rows for a kernel Rows with `template <int NT> static void tokens(n_blocks, w,
// row_bytes, row_offsets, act, act_stride, out, out_stride)` for 1..MaxTokens tokens per pass.
template <typename Rows, typename RowKernel, int BlockValues, int MaxTokens>
void in_place_rows16(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                     size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    if (n_rows < 16) return rows_one_by_one<RowKernel>(cols, w, row_bytes, n_rows, act, act_stride, n_tok, out, out_stride);
    const int64_t n_blocks = cols / BlockValues;
    const __m512i row_offsets = row_offsets16(row_bytes);
    for (int64_t t = 0; t < n_tok; t += MaxTokens) {
        const int n = static_cast<int>(std::min<int64_t>(MaxTokens, n_tok - t));
        // Calls Rows::tokens<n> through a compile-time list of 1..MaxTokens.
        [&]<int... I>(std::integer_sequence<int, I...>) {
            ((n == I + 1 ? Rows::template tokens<I + 1>(n_blocks, w, row_bytes, row_offsets, act + t * act_stride,
                                                        act_stride, out + t * out_stride, out_stride)
                         : void()),
             ...);
        }(std::make_integer_sequence<int, MaxTokens>{});
    }
}

// The block loop of every in-place kernel: the 16 rows' accumulators for NT tokens, `block(b, wb,
// acc)` for each block (wb: block b of row 0), the next tile prefetched alongside when Prefetch,
// and the 16 sums stored per token at the end. The blocks are forced inline so that the
// accumulators stay in registers.
template <int NT, size_t BlockBytes, bool Prefetch, typename Block>
RF_ALWAYS_INLINE inline void each_block(int64_t n_blocks, const uint8_t* w, size_t row_bytes, float* out,
                                        size_t out_stride, Block&& block) {
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    NextTilePrefetch prefetch(w, 16, row_bytes);
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* wb = w + b * static_cast<int64_t>(BlockBytes);
        if constexpr (Prefetch) prefetch.upto(static_cast<size_t>(b + 1) * BlockBytes);
        block(b, wb, acc);
    }
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

template <typename Format>
struct Rows16 {
    using H = HalfBlocks<Format>;
    static constexpr bool kMin = H::kScale == BlockScale::F16WithMin;
    static constexpr size_t kActBytes = kMin ? sizeof(ActBlockQ8_1) : sizeof(ActBlockQ8_0);
    static constexpr size_t kActQs = kMin ? offsetof(ActBlockQ8_1, qs) : offsetof(ActBlockQ8_0, qs);

    // The 16 rows' halves of one block (at wb in row 0, rows row_bytes apart): lo[g] / hi[g] hold
    // elements 0..15 / 16..31 of rows g, g+4, g+8, g+12, as unsigned bytes.
    static void decode(const uint8_t* wb, size_t row_bytes, __m512i (&lo)[4], __m512i (&hi)[4]) {
        for (int g = 0; g < 4; ++g) {
            const uint8_t* p = wb + g * row_bytes;
            const size_t stride = 4 * row_bytes;
            if constexpr (H::kPacking == Packing::Bytes) {
                const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
                lo[g] = _mm512_xor_si512(load_4x16(p + H::kQs, stride), flip);
                hi[g] = _mm512_xor_si512(load_4x16(p + H::kQs + 16, stride), flip);
            } else {
                const __m512i raw = load_4x16(p + H::kQs, stride);
                const __m512i mask = _mm512_set1_epi8(0x0f);
                lo[g] = _mm512_and_si512(raw, mask);
                hi[g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), mask);
            }
            if constexpr (H::kLevels != nullptr) {
                // The levels + 128 (a flipped sign bit) are unsigned bytes.
                const __m512i table = _mm512_xor_si512(
                    _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(H::kLevels))),
                    _mm512_set1_epi8(static_cast<char>(0x80)));
                lo[g] = _mm512_shuffle_epi8(table, lo[g]);
                hi[g] = _mm512_shuffle_epi8(table, hi[g]);
            }
            if constexpr (H::kQh >= 0) {
                // Bit j of a row's 32 fifth bits belongs to element j: bits 0..15 to its low half.
                uint64_t low_bits = 0, high_bits = 0;
                for (int lane = 0; lane < 4; ++lane) {
                    uint32_t qh;
                    std::memcpy(&qh, p + lane * stride + H::kQh, 4);
                    low_bits |= static_cast<uint64_t>(qh & 0xffff) << (16 * lane);
                    high_bits |= static_cast<uint64_t>(qh >> 16) << (16 * lane);
                }
                const __m512i sixteen = _mm512_set1_epi8(16);
                lo[g] = _mm512_or_si512(lo[g], _mm512_maskz_mov_epi8(low_bits, sixteen));
                hi[g] = _mm512_or_si512(hi[g], _mm512_maskz_mov_epi8(high_bits, sixteen));
            }
        }
    }

    // The 16 rows' block scales (and mins), from the 4 bytes at the start of each block.
    static void scales(const uint8_t* wb, __m512i row_offsets, __m512& d, __m512& m) {
        const __m512i head = _mm512_i32gather_epi32(row_offsets, wb, 1);
        if constexpr (H::kScale == BlockScale::E8M0) {
            // The same float as MXFP4::scale: 2^(e - 128), subnormal for e < 2.
            const __m512i e = _mm512_and_si512(head, _mm512_set1_epi32(0xff));
            const __mmask16 tiny = _mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(2));
            const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
            const __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
            d = _mm512_castsi512_ps(_mm512_mask_blend_epi32(tiny, normal, sub));
            m = _mm512_setzero_ps();
        } else {
            d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
            m = kMin ? _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16))) : _mm512_setzero_ps();
        }
    }

    template <int NT>
    static void tokens(int64_t n_blocks, const uint8_t* w, size_t row_bytes, __m512i row_offsets, const uint8_t* act,
                       size_t act_stride, float* out, size_t out_stride) {
        each_block<NT, Format::kBytes, true>(n_blocks, w, row_bytes, out, out_stride,
                                             [&](int64_t b, const uint8_t* wb, __m512 (&acc)[NT]) RF_ALWAYS_INLINE {
            __m512i lo[4], hi[4];
            decode(wb, row_bytes, lo, hi);
            __m512 d, m;
            scales(wb, row_offsets, d, m);
            for (int t = 0; t < NT; ++t) {
                const uint8_t* xb = act + t * act_stride + b * kActBytes;
                const __m512i x_lo = _mm512_broadcast_i32x4(load128(xb + kActQs));
                const __m512i x_hi = _mm512_broadcast_i32x4(load128(xb + kActQs + 16));
                __m512i part[4];
                for (int g = 0; g < 4; ++g)
                    part[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[g], x_lo), hi[g], x_hi);
                __m512i dot = reduce_4x4(part);
                if constexpr (H::kOffset != 0) {
                    int32_t sum;
                    std::memcpy(&sum, xb + offsetof(ActBlockQ8_0, sum), 4);
                    dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(H::kOffset * sum));
                }
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, _mm512_set1_ps(load_f32(xb))), acc[t]);
                if constexpr (kMin)
                    acc[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(load_f32(xb + offsetof(ActBlockQ8_1, s))), acc[t]);
            }
        });
    }

    static constexpr TileGemmFn run = in_place_rows16<Rows16, Blocks32<Format>, 32, 8>;
};

TileGemmFn gemv16_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return Rows16<Q4_0>::run;
        case TensorType::Q4_1: return Rows16<Q4_1>::run;
        case TensorType::Q5_0: return Rows16<Q5_0>::run;
        case TensorType::Q5_1: return Rows16<Q5_1>::run;
        case TensorType::Q8_0: return Rows16<Q8_0>::run;
        case TensorType::IQ4_NL: return Rows16<IQ4_NL>::run;
        case TensorType::MXFP4: return Rows16<MXFP4>::run;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS

#endif
