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
            float sum = _mm512_reduce_add_ps(acc[t]);
            for (int64_t k = c; k < cols; ++k) sum += Format::load1(w + k * Format::kBytes) * x[k];
            out[t * out_stride] = sum;
        }
    }
};

// Many tokens: 4 rows x 4 tokens per pass, so every activation load feeds four rows and every
// widened weight four tokens. Columns go in chunks that keep the rows' chunk in L1 while all
// tokens pass over it (a pass over whole rows would stream them from L2 for every 4 tokens); the
// 16-lane accumulators of every (row, token) wait in `partial` between chunks, so each lane sums
// the same products in the same order as the row kernel above.
constexpr int64_t kFloatChunk = 512;

template <int NT>
void float_chunk_4x(int64_t c0, int64_t c1, const float* const* rows, const uint8_t* act, size_t act_stride,
                    __m512* partial, int64_t partial_stride) {
    __m512 acc[4][NT];
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < NT; ++t) acc[r][t] = partial[r * partial_stride + t];
    for (int64_t c = c0; c < c1; c += 16) {
        __m512 x[NT];
        for (int t = 0; t < NT; ++t) x[t] = _mm512_loadu_ps(reinterpret_cast<const float*>(act + t * act_stride) + c);
        for (int r = 0; r < 4; ++r) {
            const __m512 wr = _mm512_loadu_ps(rows[r] + c);
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(wr, x[t], acc[r][t]);
        }
    }
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < NT; ++t) partial[r * partial_stride + t] = acc[r][t];
}

// `rows` are f32 (widened beforehand for the 16-bit types); `tail` reads the original weights
// for the columns after the last whole 16.
template <typename Format>
void float_gemm_rows(int64_t cols, const float* const* rows, const uint8_t* const* original, int n_rows,
                     const uint8_t* act, size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    struct Partial {  // kGemmRows x n_tok accumulators; plain new[] (see PackedTile in x86_gemm.h)
        __m512* values = nullptr;
        int64_t capacity = 0;
        ~Partial() { delete[] values; }
    };
    thread_local Partial partial;
    const int64_t need = kGemmRows * n_tok;
    if (partial.capacity < need) {
        delete[] partial.values;
        partial.values = new __m512[static_cast<size_t>(need)];
        partial.capacity = need;
    }
    for (int64_t i = 0; i < need; ++i) partial.values[i] = _mm512_setzero_ps();
    const int64_t whole = cols / 16 * 16;
    for (int64_t c0 = 0; c0 < whole; c0 += kFloatChunk) {
        const int64_t c1 = c0 + kFloatChunk < whole ? c0 + kFloatChunk : whole;
        for (int r0 = 0; r0 < kGemmRows; r0 += 4) {
            __m512* p = partial.values + r0 * n_tok;
            int64_t t = 0;
            for (; t + 4 <= n_tok; t += 4) float_chunk_4x<4>(c0, c1, rows + r0, act + t * act_stride, act_stride, p + t, n_tok);
            for (; t < n_tok; ++t) float_chunk_4x<1>(c0, c1, rows + r0, act + t * act_stride, act_stride, p + t, n_tok);
        }
    }
    for (int r = 0; r < n_rows; ++r) {
        for (int64_t t = 0; t < n_tok; ++t) {
            const float* x = reinterpret_cast<const float*>(act + t * act_stride);
            float sum = _mm512_reduce_add_ps(partial.values[r * n_tok + t]);
            for (int64_t k = whole; k < cols; ++k) sum += Format::load1(original[r] + k * Format::kBytes) * x[k];
            out[t * out_stride + static_cast<size_t>(r)] = sum;
        }
    }
}

// 16-bit weights are widened to f32 once per tile: the widening would otherwise compete with the
// FMAs for the same ports on every pass over the tokens.
struct WideTile {
    float* values = nullptr;
    int64_t capacity = 0;
    WideTile() = default;
    WideTile(const WideTile&) = delete;
    WideTile& operator=(const WideTile&) = delete;
    ~WideTile() { delete[] values; }
    void reserve(int64_t n) {
        if (n <= capacity) return;
        delete[] values;
        values = new float[static_cast<size_t>(n)];
        capacity = n;
    }
};

template <typename Format>
void float_gemm(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act, size_t act_stride,
                int64_t n_tok, float* out, size_t out_stride) {
    // Rows past the matrix repeat the last one (computed, never written out).
    const uint8_t* original[kGemmRows];
    for (int r = 0; r < kGemmRows; ++r) original[r] = w + static_cast<size_t>(r < n_rows ? r : n_rows - 1) * row_bytes;
    const float* rows[kGemmRows];
    if constexpr (Format::kBytes == 4) {
        for (int r = 0; r < kGemmRows; ++r) rows[r] = reinterpret_cast<const float*>(original[r]);
    } else {
        thread_local WideTile tile;  // grows once, then reused
        const int64_t whole = cols / 16 * 16;
        tile.reserve(whole * kGemmRows);
        for (int r = 0; r < kGemmRows; ++r) {
            float* dst = tile.values + r * whole;
            for (int64_t c = 0; c < whole; c += 16) _mm512_storeu_ps(dst + c, Format::load16(original[r] + c * Format::kBytes));
            rows[r] = dst;
        }
    }
    float_gemm_rows<Format>(cols, rows, original, n_rows, act, act_stride, n_tok, out, out_stride);
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
