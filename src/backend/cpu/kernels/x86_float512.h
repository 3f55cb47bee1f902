// 512-bit kernels for float weights (included by avx512_kernels.cpp only): the x86_float.h loop
// at twice the width, sixteen weights widened per instruction and reused for every token.
#pragma once

#include "backend/cpu/kernels/x86_float.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

inline __m256i load256i(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

struct F32x16 : F32 {
    static __m512 load16(const uint8_t* p) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p)); }
};
struct F16x16 : F16 {
    static __m512 load16(const uint8_t* p) { return _mm512_cvtph_ps(load256i(p)); }
};
struct BF16x16 : BF16 {
    static __m512 load16(const uint8_t* p) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load256i(p)), 16));
    }
};

// The lanes of v summed by one fixed tree: halves of 8, then of 4, then lanes (0, 2) and (1, 3),
// then those two. Written out rather than _mm512_reduce_add_ps so that sum16x16 below provably
// adds the same pairs.
inline float sum16(__m512 v) {
    const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(c) + _mm_cvtss_f32(_mm_shuffle_ps(c, c, 1));
}

// Lane i of the result is sum16(v[i]), bit for bit (float addition is commutative, and every
// level adds the same pairs), for 45 instructions instead of 16 dependent chains.
inline __m512 sum16x16(const __m512 (&v)[16]) {
    __m512 halves[8];  // v[2i]'s 8 pair sums, then v[2i + 1]'s
    for (int i = 0; i < 8; ++i)
        halves[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                  _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 quarters[4];  // 128-bit lane L: v[4j + L]'s 4 sums
    for (int j = 0; j < 4; ++j)
        quarters[j] = _mm512_add_ps(_mm512_shuffle_f32x4(halves[2 * j], halves[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm512_shuffle_f32x4(halves[2 * j], halves[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 pairs[2];  // lane L: v[8m + L]'s 2 sums, then v[8m + 4 + L]'s
    for (int m = 0; m < 2; ++m) {
        const __m512d a = _mm512_castps_pd(quarters[2 * m]), b = _mm512_castps_pd(quarters[2 * m + 1]);
        pairs[m] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    // Lane L: v[L], v[4 + L], v[8 + L], v[12 + L]; the permutation puts v[i] at element i.
    const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(pairs[0], pairs[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                      _mm512_shuffle_ps(pairs[0], pairs[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), sums);
}

// One accumulator per token over 16-column steps, then the same reduction and tail as the
// many-token products below: a value must not depend on which of the two computes it.
template <typename Format>
struct FloatRow512 {
    template <int NT>
    static void run(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, float* out,
                    size_t out_stride) {
        __m512 acc[NT];
        for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
        int64_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            const __m512 wc = Format::load16(w + c * Format::kBytes);
            for (int t = 0; t < NT; ++t)
                acc[t] = _mm512_fmadd_ps(wc, _mm512_loadu_ps(reinterpret_cast<const float*>(act + t * act_stride) + c),
                                         acc[t]);
        }
        for (int t = 0; t < NT; ++t) {
            const float* x = reinterpret_cast<const float*>(act + t * act_stride);
            float sum = sum16(acc[t]);
            for (int64_t k = c; k < cols; ++k) sum += Format::load1(w + k * Format::kBytes) * x[k];
            out[t * out_stride] = sum;
        }
    }
};

// Many tokens: tiles of 8 rows, widened to f32 and interleaved (16 columns of row 0, the same 16
// of row 1, ... then the next 16), so a pass reads one sequential stream of weights. A pass takes
// 3 tokens (24 accumulators): every activation load feeds eight rows and every weight load three
// tokens. Columns go in chunks of 1024 (32 KB of the tile, within L1) while all tokens pass over
// them; the 16-lane accumulators of every (row, token) wait in `partial` between chunks, so each
// lane sums the same products in the same order as the row kernel above. (Smaller chunks lose
// more to starting and ending passes: 512 columns ran 5% slower, 256 a third.)
constexpr int kFloatTileRows = 8;
constexpr int64_t kFloatChunk = 1024;
constexpr int kPassTokens = 3;

// partial[t * kFloatTileRows + r] holds (row r, token t)'s 16 lanes between column chunks; the
// first chunk starts from zero.
template <int NT, bool kFirst>
void float_pass(int64_t c0, int64_t c1, const float* tile, const uint8_t* act, size_t act_stride, __m512* partial) {
    constexpr int R = kFloatTileRows;
    __m512 acc[R][NT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < NT; ++t) acc[r][t] = kFirst ? _mm512_setzero_ps() : partial[t * R + r];
    for (int64_t c = c0; c < c1; c += 16) {
        __m512 x[NT];
        for (int t = 0; t < NT; ++t) x[t] = _mm512_loadu_ps(reinterpret_cast<const float*>(act + t * act_stride) + c);
        const float* wc = tile + c * R;
        for (int r = 0; r < R; ++r) {
            __m512 wr = _mm512_loadu_ps(wc + 16 * r);
            // Keeps the weights in a register: GCC would otherwise fold the load into every FMA
            // and read them NT times (a third slower).
            asm("" : "+v"(wr));
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(wr, x[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < NT; ++t) partial[t * R + r] = acc[r][t];
}

template <bool kFirst, typename BetweenPasses>
void float_chunk(int64_t c0, int64_t c1, const float* tile, const uint8_t* act, size_t act_stride, int64_t n_tok,
                 __m512* partial, BetweenPasses& between_passes) {
    int64_t t = 0;
    for (; t + kPassTokens <= n_tok; t += kPassTokens) {
        between_passes();
        float_pass<kPassTokens, kFirst>(c0, c1, tile, act + t * act_stride, act_stride, partial + t * kFloatTileRows);
    }
    for (; t < n_tok; ++t) float_pass<1, kFirst>(c0, c1, tile, act + t * act_stride, act_stride, partial + t * kFloatTileRows);
}

// out[t * out_stride + r] for the tile's n_rows rows and n_tok tokens from partial[t * 8 + r]
// (16 lanes each): the same reduction and tail as the row kernel, two tokens' 8 rows at a time.
template <typename Format>
void store_tile_sums(const __m512* partial, const uint8_t* const* rows, int n_rows, int64_t cols, const uint8_t* act,
                     size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    constexpr int R = kFloatTileRows;
    const int64_t whole = cols / 16 * 16;
    const __mmask8 row_mask = static_cast<__mmask8>((1u << n_rows) - 1);
    for (int64_t t0 = 0; t0 < n_tok; t0 += 2) {
        const int n = n_tok - t0 < 2 ? 1 : 2;
        __m512 v[16];
        for (int i = 0; i < 16; ++i) v[i] = i < 8 * n ? partial[t0 * R + i] : _mm512_setzero_ps();
        const __m512 sums = sum16x16(v);
        _mm256_mask_storeu_ps(out + t0 * out_stride, row_mask, _mm512_castps512_ps256(sums));
        if (n == 2)
            _mm256_mask_storeu_ps(out + (t0 + 1) * out_stride, row_mask,
                                  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sums), 1)));
    }
    for (int64_t k = whole; k < cols; ++k)
        for (int64_t t = 0; t < n_tok; ++t)
            for (int r = 0; r < n_rows; ++r)
                out[t * out_stride + static_cast<size_t>(r)] += Format::load1(rows[r] + k * Format::kBytes) *
                                                                reinterpret_cast<const float*>(act + t * act_stride)[k];
}

template <typename Format>
void float_gemm(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act, size_t act_stride,
                int64_t n_tok, float* out, size_t out_stride) {
    constexpr int R = kFloatTileRows;
    // Rows past the matrix repeat the last one (computed, never written out).
    const uint8_t* rows[R];
    for (int r = 0; r < R; ++r) rows[r] = w + static_cast<size_t>(r < n_rows ? r : n_rows - 1) * row_bytes;
    const int64_t whole = cols / 16 * 16;
    thread_local AlignedScratch<float> tile_scratch;
    float* tile = tile_scratch.reserve(static_cast<size_t>(whole * R));
    for (int64_t c = 0; c < whole; c += 16)
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(tile + c * R + 16 * r, Format::load16(rows[r] + c * Format::kBytes));

    // While the tokens pass, the next tile's rows come into L2 a few lines at a time (widening
    // them would otherwise wait for memory: 8% of a prompt on F16 weights).
    NextTilePrefetch prefetch(w, R, row_bytes);
    size_t prefetched = 0;  // bytes of each row of the next tile requested so far
    auto prefetch_next = [&] {  // 8 lines a pass
        prefetched = prefetched + 64 < row_bytes ? prefetched + 64 : row_bytes;
        prefetch.upto(prefetched);
    };

    thread_local AlignedScratch<float> partial_scratch;  // R x n_tok accumulators of 16 lanes
    auto* partial = reinterpret_cast<__m512*>(partial_scratch.reserve(static_cast<size_t>(16 * R * n_tok)));
    // The first chunk sets every accumulator, even where there are no 16 whole columns.
    auto chunk_end = [whole](int64_t c0) { return c0 + kFloatChunk < whole ? c0 + kFloatChunk : whole; };
    float_chunk<true>(0, chunk_end(0), tile, act, act_stride, n_tok, partial, prefetch_next);
    for (int64_t c0 = kFloatChunk; c0 < whole; c0 += kFloatChunk)
        float_chunk<false>(c0, chunk_end(c0), tile, act, act_stride, n_tok, partial, prefetch_next);

    store_tile_sums<Format>(partial, rows, n_rows, cols, act, act_stride, n_tok, out, out_stride);
}

// Few tokens (the tiles start at 4): the 8 rows read as stored, an accumulator per row and token,
// so that the rows' FMAs overlap instead of waiting on one dependency chain (the row kernel's
// single-token speed from cache, 24 GB/s a core on the dev VM, is that chain's). Per row the
// lanes sum in the same order as the row kernel and the tiles.
template <typename Format, int NT>
void float_rows_pass(int64_t cols, const uint8_t* const* rows, size_t row_bytes, const uint8_t* act, size_t act_stride,
                     __m512* partial) {
    constexpr int R = kFloatTileRows;
    __m512 acc[R][NT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
    NextTilePrefetch prefetch(rows[0], R, row_bytes);
    for (int64_t c = 0; c + 16 <= cols; c += 16) {
        prefetch.upto(static_cast<size_t>(c + 16) * Format::kBytes);
        __m512 x[NT];
        for (int t = 0; t < NT; ++t) x[t] = _mm512_loadu_ps(reinterpret_cast<const float*>(act + t * act_stride) + c);
        for (int r = 0; r < R; ++r) {
            const __m512 wr = Format::load16(rows[r] + c * Format::kBytes);
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(wr, x[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < NT; ++t) partial[t * R + r] = acc[r][t];
}

template <typename Format>
void float_gemv(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act, size_t act_stride,
                int64_t n_tok, float* out, size_t out_stride) {
    constexpr int R = kFloatTileRows;
    const uint8_t* rows[R];  // rows past the matrix repeat the last one (computed, never written out)
    for (int r = 0; r < R; ++r) rows[r] = w + static_cast<size_t>(r < n_rows ? r : n_rows - 1) * row_bytes;
    for (int64_t t0 = 0; t0 < n_tok; t0 += kPassTokens) {
        const int n = static_cast<int>(n_tok - t0 < kPassTokens ? n_tok - t0 : kPassTokens);
        const uint8_t* act_t = act + t0 * act_stride;
        __m512 partial[kPassTokens * R];
        if (n == 1) float_rows_pass<Format, 1>(cols, rows, row_bytes, act_t, act_stride, partial);
        if (n == 2) float_rows_pass<Format, 2>(cols, rows, row_bytes, act_t, act_stride, partial);
        if (n == 3) float_rows_pass<Format, 3>(cols, rows, row_bytes, act_t, act_stride, partial);
        store_tile_sums<Format>(partial, rows, n_rows, cols, act_t, act_stride, n, out + t0 * out_stride, out_stride);
    }
}

TileGemmFn float512_gemv(TensorType type) {
    switch (type) {
        case TensorType::F32: return float_gemv<F32x16>;
        case TensorType::F16: return float_gemv<F16x16>;
        case TensorType::BF16: return float_gemv<BF16x16>;
        default: return nullptr;
    }
}

TileGemmFn float512_gemm(TensorType type) {
    switch (type) {
        case TensorType::F32: return float_gemm<F32x16>;
        case TensorType::F16: return float_gemm<F16x16>;
        case TensorType::BF16: return float_gemm<BF16x16>;
        default: return nullptr;
    }
}

RowDotFn float512_kernel(TensorType type) {
    switch (type) {
        case TensorType::F32: return dispatch_tokens<FloatRow512<F32x16>>;
        case TensorType::F16: return dispatch_tokens<FloatRow512<F16x16>>;
        case TensorType::BF16: return dispatch_tokens<FloatRow512<BF16x16>>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
