// Many-token products for the 32-value block types with VNNI (included by avx512_kernels.cpp).
//
// A row kernel spends most of its time outside the integer dot (sign fix-ups, int -> float, the
// per-block scale), once per block, row and token. Here kWideGemmRows = 16 rows are repacked so
// that the 16 int32 lanes of one 512-bit register belong to 16 different rows: bytes 4g..4g+3 of
// every row's block sit side by side, one dpbusd with 4 broadcast activation bytes advances all 16
// rows, and the float work is done once per block for 16 rows. (A 512-bit dpbusd costs about what
// a 256-bit one does here, so the wide tile doubles the products per instruction.) dpbusd
// multiplies unsigned by signed bytes, so signed weights are stored + 128 and 128 * sum(x) is
// subtracted again.
#pragma once

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include "backend/cpu/kernels/x86_legacy.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

// One tile repacked: per block, 8 groups x 8 rows x 4 bytes, and the 8 rows' scales and mins.
struct PackedTile {
    static constexpr int64_t kBlockBytes = 8 * kWideGemmRows * 4;
    uint8_t* values = nullptr;  // n_blocks * 8 groups * 16 rows * 4 bytes
    float* scales = nullptr;    // n_blocks * 16
    float* mins = nullptr;      // n_blocks * 16
    void reserve(int64_t n_blocks) {
        const auto n = static_cast<size_t>(n_blocks);
        values = values_.reserve(n * kBlockBytes);
        scales = scales_.reserve(n * kWideGemmRows);
        mins = mins_.reserve(n * kWideGemmRows);
    }

private:
    AlignedScratch<uint8_t> values_;
    AlignedScratch<float> scales_, mins_;
};

// v[r] holds 8 int32 of row r; afterwards v[g] holds int32 g of rows 0..7 (an 8 x 8 transpose).
inline void transpose8_i32(__m256i (&v)[8]) {
    __m256i t[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    __m256i u[8];
    for (int i = 0; i < 2; ++i) {
        u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 4; ++i) {
        v[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

// Lanes 0..n_rows-1 of a 16-row accumulator to out[0..n_rows).
inline void store_rows16(__m512 acc, int n_rows, float* out) {
    _mm512_mask_storeu_ps(out, static_cast<__mmask16>((1u << n_rows) - 1), acc);
}

template <typename Format>
void pack_tile(int64_t n_blocks, const uint8_t* w, size_t row_bytes, int n_rows, PackedTile& tile) {
    constexpr bool kMin = !Format::kSigned;
    tile.reserve(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint8_t* out = tile.values + b * PackedTile::kBlockBytes;
        for (int half = 0; half < 2; ++half) {
            __m256i v[8];
            for (int i = 0; i < 8; ++i) {
                const int r = 8 * half + i;
                float d = 0, m = 0;
                v[i] = _mm256_setzero_si256();  // rows past the matrix stay zero
                if (r < n_rows) {
                    const uint8_t* wb = w + static_cast<size_t>(r) * row_bytes + b * Format::kBytes;
                    v[i] = Format::values(wb);
                    if constexpr (Format::kSigned) v[i] = _mm256_xor_si256(v[i], _mm256_set1_epi8(static_cast<char>(0x80)));
                    d = Format::scale(wb);
                    if constexpr (kMin) m = Format::min(wb);
                }
                tile.scales[b * kWideGemmRows + r] = d;
                tile.mins[b * kWideGemmRows + r] = m;
            }
            // Group g (bytes 4g..4g+3) of these 8 rows side by side, in its half of the 64 bytes.
            transpose8_i32(v);
            for (int g = 0; g < 8; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * g + 32 * half), v[g]);
        }
    }
}

template <typename Format, int NT>
void tile_tokens(int64_t n_blocks, const PackedTile& tile, const uint8_t* act, size_t act_stride, float* out,
                 size_t out_stride, int n_rows) {
    constexpr bool kMin = !Format::kSigned;
    constexpr size_t kActBytes = kMin ? sizeof(ActBlockQ8_1) : sizeof(ActBlockQ8_0);
    constexpr size_t kActQs = kMin ? offsetof(ActBlockQ8_1, qs) : offsetof(ActBlockQ8_0, qs);
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* wv = tile.values + b * PackedTile::kBlockBytes;
        __m512i dot[NT];
        for (int t = 0; t < NT; ++t) dot[t] = _mm512_setzero_si512();
        for (int g = 0; g < 8; ++g) {
            const __m512i wg = _mm512_loadu_si512(wv + 64 * g);
            for (int t = 0; t < NT; ++t) {
                int32_t x4;
                std::memcpy(&x4, act + t * act_stride + b * kActBytes + kActQs + 4 * g, 4);
                dot[t] = _mm512_dpbusd_epi32(dot[t], wg, _mm512_set1_epi32(x4));
            }
        }
        const __m512 scales = _mm512_loadu_ps(tile.scales + b * kWideGemmRows);
        for (int t = 0; t < NT; ++t) {
            const uint8_t* xb = act + t * act_stride + b * kActBytes;
            if constexpr (!kMin) {
                int32_t sum;
                std::memcpy(&sum, xb + offsetof(ActBlockQ8_0, sum), 4);
                dot[t] = _mm512_sub_epi32(dot[t], _mm512_set1_epi32(128 * sum));
            }
            const __m512 dx = _mm512_set1_ps(load_f32(xb));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_mul_ps(scales, dx), acc[t]);
            if constexpr (kMin) {
                const __m512 mins = _mm512_loadu_ps(tile.mins + b * kWideGemmRows);
                acc[t] = _mm512_fmadd_ps(mins, _mm512_set1_ps(load_f32(xb + offsetof(ActBlockQ8_1, s))), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; ++t) store_rows16(acc[t], n_rows, out + t * out_stride);
}

template <typename Format>
void gemm_blocks32(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                   size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    thread_local PackedTile tile;  // grows to the largest row length once, then reused
    const int64_t n_blocks = cols / 32;
    pack_tile<Format>(n_blocks, w, row_bytes, n_rows, tile);
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4)
        tile_tokens<Format, 4>(n_blocks, tile, act + t * act_stride, act_stride, out + t * out_stride, out_stride, n_rows);
    for (; t < n_tok; ++t)
        tile_tokens<Format, 1>(n_blocks, tile, act + t * act_stride, act_stride, out + t * out_stride, out_stride, n_rows);
}

TileGemmFn gemm_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return gemm_blocks32<Q4_0>;
        case TensorType::Q4_1: return gemm_blocks32<Q4_1>;
        case TensorType::Q5_0: return gemm_blocks32<Q5_0>;
        case TensorType::Q5_1: return gemm_blocks32<Q5_1>;
        case TensorType::Q8_0: return gemm_blocks32<Q8_0>;
        case TensorType::IQ4_NL: return gemm_blocks32<IQ4_NL>;
        case TensorType::MXFP4: return gemm_blocks32<MXFP4>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS

#endif
