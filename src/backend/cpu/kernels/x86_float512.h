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
// widened weight four tokens (row kernels re-read each token's activations for every row, which
// makes prompt processing wait on the L2 cache).
template <typename Format, int NT>
void float_block_4x(int64_t cols, const uint8_t* const* rows, const uint8_t* act, size_t act_stride, float* out,
                    size_t out_stride, int n_rows) {
    __m512 acc[4][NT];
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        __m512 x[NT];
        for (int t = 0; t < NT; ++t) x[t] = _mm512_loadu_ps(reinterpret_cast<const float*>(act + t * act_stride) + c);
        for (int r = 0; r < 4; ++r) {
            const __m512 wr = Format::load16(rows[r] + c * Format::kBytes);
            for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(wr, x[t], acc[r][t]);
        }
    }
    for (int r = 0; r < n_rows; ++r) {
        for (int t = 0; t < NT; ++t) {
            const float* x = reinterpret_cast<const float*>(act + t * act_stride);
            float sum = _mm512_reduce_add_ps(acc[r][t]);
            for (int64_t k = c; k < cols; ++k) sum += Format::load1(rows[r] + k * Format::kBytes) * x[k];
            out[t * out_stride + static_cast<size_t>(r)] = sum;
        }
    }
}

template <typename Format>
void float_gemm_rows(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                     size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    for (int r0 = 0; r0 < n_rows; r0 += 4) {
        const int n = n_rows - r0 < 4 ? n_rows - r0 : 4;
        const uint8_t* rows[4];
        for (int r = 0; r < 4; ++r) rows[r] = w + static_cast<size_t>(r0 + (r < n ? r : n - 1)) * row_bytes;
        float* o = out + r0;
        int64_t t = 0;
        for (; t + 4 <= n_tok; t += 4)
            float_block_4x<Format, 4>(cols, rows, act + t * act_stride, act_stride, o + t * out_stride, out_stride, n);
        for (; t < n_tok; ++t)
            float_block_4x<Format, 1>(cols, rows, act + t * act_stride, act_stride, o + t * out_stride, out_stride, n);
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
    if constexpr (Format::kBytes == 4) {
        float_gemm_rows<Format>(cols, w, row_bytes, n_rows, act, act_stride, n_tok, out, out_stride);
    } else {
        thread_local WideTile tile;  // grows once, then reused
        tile.reserve(cols * n_rows);
        for (int r = 0; r < n_rows; ++r) {
            const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
            float* dst = tile.values + r * cols;
            int64_t c = 0;
            for (; c + 16 <= cols; c += 16) _mm512_storeu_ps(dst + c, Format::load16(row + c * Format::kBytes));
            for (; c < cols; ++c) dst[c] = Format::load1(row + c * Format::kBytes);
        }
        float_gemm_rows<F32x16>(cols, reinterpret_cast<const uint8_t*>(tile.values), static_cast<size_t>(cols) * 4,
                                n_rows, act, act_stride, n_tok, out, out_stride);
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
