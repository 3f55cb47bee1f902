// Many-token products for the 256-value super-block types with VNNI (included by
// avx512_kernels.cpp). The same repacking as x86_gemm.h: 16 rows side by side in every 512-bit
// register. Per sub-block the 16 rows' integer dots are multiplied by their integer scales, summed over the
// super-block, and scaled once; the offsets and mins are applied from the activations' per-16
// sums with the 16 rows' correction weights interleaved in int16 pairs (one madd per pair).
#pragma once

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include "backend/cpu/kernels/x86_gemm.h"
#include "backend/cpu/kernels/x86_kquants.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

struct PackedSuperTile {
    static constexpr int kRows = kWideGemmRows;
    uint8_t* values = nullptr;  // per super-block: 8 chunks x 8 groups x 16 rows x 4 bytes
    int32_t* scales = nullptr;  // per super-block: 16 sub-blocks x 16 rows
    int16_t* corr = nullptr;    // per super-block: 8 pairs x 16 rows x 2
    float* d = nullptr;         // per super-block: 16 rows
    float* corr_scale = nullptr;
    void reserve(int64_t n_blocks) {
        const auto n = static_cast<size_t>(n_blocks);
        values = values_.reserve(n * 8 * 8 * kRows * 4);
        scales = scales_.reserve(n * 16 * kRows);
        corr = corr_.reserve(n * 16 * kRows);
        d = d_.reserve(n * kRows);
        corr_scale = corr_scale_.reserve(n * kRows);
    }

private:
    AlignedScratch<uint8_t> values_;
    AlignedScratch<int32_t> scales_;
    AlignedScratch<int16_t> corr_;
    AlignedScratch<float> d_, corr_scale_;
};

// Sub-blocks of 16 values (two scales per 32-value chunk) or of 32.
template <typename Format>
constexpr bool kSub16 = Format::kBytes == sizeof(quant::BlockQ2_K) || Format::kBytes == sizeof(quant::BlockQ3_K) ||
                        Format::kBytes == sizeof(quant::BlockQ6_K);

template <typename Format>
void pack_super_tile(int64_t n_blocks, const uint8_t* w, size_t row_bytes, int n_rows, PackedSuperTile& tile) {
    constexpr int R = PackedSuperTile::kRows;
    tile.reserve(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint8_t* out = tile.values + b * (8 * 8 * R * 4);
        for (int half = 0; half < 2; ++half) {
            __m256i chunks[8][8];  // [chunk][row of this half]: the row's 32 unsigned bytes
            for (int i = 0; i < 8; ++i) {
                const int r = 8 * half + i;
                StateK st;
                st.d = st.corr_scale = 0;
                st.corr16v = _mm256_setzero_si256();
                for (int j = 0; j < 16; ++j) st.scale[j] = st.corr16[j] = 0;
                for (int c = 0; c < 8; ++c) chunks[c][i] = _mm256_setzero_si256();  // rows past the matrix stay zero
                if (r < n_rows) {
                    const uint8_t* wb = w + static_cast<size_t>(r) * row_bytes + b * Format::kBytes;
                    Format::prepare(wb, st);
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.corr16), st.corr16v);
                    for (int c = 0; c < 8; ++c) {
                        __m256i scale16;
                        __m256i u = Format::chunk(wb, st, c, scale16);
                        if constexpr (Format::kSigned) u = _mm256_xor_si256(st.signs, _mm256_set1_epi8(static_cast<char>(0x80)));
                        chunks[c][i] = u;
                    }
                    if constexpr (Format::kSigned) {  // stored + 128: take 128 * sum(x) back off
                        for (int j = 0; j < 16; ++j) st.corr16[j] = static_cast<int16_t>(128 * st.scale[j / 2]);
                        st.corr_scale = st.d;
                    }
                }
                for (int j = 0; j < 16; ++j) tile.scales[b * 16 * R + R * j + r] = st.scale[j];
                for (int k = 0; k < 8; ++k) {
                    tile.corr[b * 16 * R + 2 * R * k + 2 * r] = st.corr16[2 * k];
                    tile.corr[b * 16 * R + 2 * R * k + 2 * r + 1] = st.corr16[2 * k + 1];
                }
                tile.d[b * R + r] = st.d;
                tile.corr_scale[b * R + r] = st.corr_scale;
            }
            // Group g (bytes 4g..4g+3) of chunk c of these 8 rows side by side, in their half.
            for (int c = 0; c < 8; ++c) {
                transpose8_i32(chunks[c]);
                for (int g = 0; g < 8; ++g)
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * R * c + 4 * R * g + 32 * half), chunks[c][g]);
            }
        }
    }
}

inline __m512i load_scale16(const int32_t* p) { return _mm512_loadu_si512(p); }

template <typename Format, int NT>
void super_tile_tokens(int64_t n_blocks, const PackedSuperTile& tile, const uint8_t* act, size_t act_stride,
                       float* out, size_t out_stride, int n_rows) {
    constexpr int R = PackedSuperTile::kRows;
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* wv = tile.values + b * (8 * 8 * R * 4);
        const int32_t* sc = tile.scales + b * 16 * R;
        __m512i isum[NT];
        for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
        for (int c = 0; c < 8; ++c) {
            __m512i lo[NT], hi[NT];
            for (int t = 0; t < NT; ++t) lo[t] = hi[t] = _mm512_setzero_si512();
            for (int g = 0; g < 8; ++g) {
                const __m512i wg = _mm512_loadu_si512(wv + 32 * R * c + 4 * R * g);
                for (int t = 0; t < NT; ++t) {
                    int32_t x4;
                    std::memcpy(&x4, act + t * act_stride + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs) + 32 * c + 4 * g, 4);
                    if (g < 4)
                        lo[t] = _mm512_dpbusd_epi32(lo[t], wg, _mm512_set1_epi32(x4));
                    else
                        hi[t] = _mm512_dpbusd_epi32(hi[t], wg, _mm512_set1_epi32(x4));
                }
            }
            if constexpr (kSub16<Format>) {
                const __m512i s_lo = load_scale16(sc + R * (2 * c)), s_hi = load_scale16(sc + R * (2 * c + 1));
                for (int t = 0; t < NT; ++t)
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(lo[t], s_lo),
                                                                          _mm512_mullo_epi32(hi[t], s_hi)));
            } else {
                const __m512i s = load_scale16(sc + R * c);
                for (int t = 0; t < NT; ++t)
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(lo[t], hi[t]), s));
            }
        }
        const __m512 d = _mm512_loadu_ps(tile.d + b * R);
        const __m512 cs = _mm512_loadu_ps(tile.corr_scale + b * R);
        for (int t = 0; t < NT; ++t) {
            const uint8_t* xb = act + t * act_stride + b * sizeof(BlockQ8_K);
            const __m512 dx = _mm512_set1_ps(load_f32(xb));
            __m512i corr = _mm512_setzero_si512();
            if constexpr (Format::kHasCorrection || Format::kSigned) {
                for (int k = 0; k < 8; ++k) {
                    int32_t pair;
                    std::memcpy(&pair, xb + offsetof(BlockQ8_K, bsums) + 4 * k, 4);
                    const __m512i weights = _mm512_loadu_si512(tile.corr + b * 16 * R + 2 * R * k);
                    corr = _mm512_add_epi32(corr, _mm512_madd_epi16(weights, _mm512_set1_epi32(pair)));
                }
            }
            // The same float operations as the row kernels (x86_kquants.h): the +128 storage
            // offset of signed values is undone in integers, a true correction in float.
            if constexpr (Format::kSigned) isum[t] = _mm512_sub_epi32(isum[t], corr);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), acc[t]);
            if constexpr (Format::kHasCorrection)
                acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(corr), _mm512_mul_ps(cs, dx), acc[t]);
        }
    }
    for (int t = 0; t < NT; ++t) store_rows16(acc[t], n_rows, out + t * out_stride);
}

// All tokens over one packed tile, 4 at a time.
template <typename Format>
void super_tile_token_groups(int64_t n_blocks, const PackedSuperTile& tile, const uint8_t* act, size_t act_stride,
                             int64_t n_tok, float* out, size_t out_stride, int n_rows) {
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4)
        super_tile_tokens<Format, 4>(n_blocks, tile, act + t * act_stride, act_stride, out + t * out_stride, out_stride, n_rows);
    for (; t < n_tok; ++t)
        super_tile_tokens<Format, 1>(n_blocks, tile, act + t * act_stride, act_stride, out + t * out_stride, out_stride, n_rows);
}

template <typename Format>
void gemm_superblocks(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                      size_t act_stride, int64_t n_tok, float* out, size_t out_stride) {
    thread_local PackedSuperTile tile;  // grows to the largest row length once, then reused
    const int64_t n_blocks = cols / 256;
    pack_super_tile<Format>(n_blocks, w, row_bytes, n_rows, tile);
    super_tile_token_groups<Format>(n_blocks, tile, act, act_stride, n_tok, out, out_stride, n_rows);
}

TileGemmFn gemm_kquant_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q2_K: return gemm_superblocks<Q2_K>;
        case TensorType::Q3_K: return gemm_superblocks<Q3_K>;
        case TensorType::Q4_K: return gemm_superblocks<Q4_K>;
        case TensorType::Q5_K: return gemm_superblocks<Q5_K>;
        case TensorType::Q6_K: return gemm_superblocks<Q6_K>;
        case TensorType::IQ4_XS: return gemm_superblocks<IQ4_XS>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS

#endif
