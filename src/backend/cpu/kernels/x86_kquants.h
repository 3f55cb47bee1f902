// x86 kernels for the 256-value super-block types against Q8_K activations (see x86_simd.h for
// how this file is compiled). Per super-block, each 32-value chunk of weights is decoded once to
// unsigned bytes and dotted with every token of the tile; per-sub-block integer scales are applied
// in the int16 -> int32 step, and the offsets/mins come from the activations' per-16 sums:
//   d * dx * sum_j scale_j * (u . x)_j  -  dx * sum_j c_j * bsum_j,  c_j = dmin * min_j or d * scale_j * offset.
#pragma once

#include "backend/cpu/kernels/x86_simd.h"
#include "quant/block_formats.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

using quant::BlockQ8_K;

// One super-block's contribution for NT tokens, with the per-type decoding supplied by Format:
//   Format::prepare(block, state)          -- scales, per-16 correction weights, d
//   Format::chunk(block, state, c, u)      -- unsigned bytes of chunk c (values 32c..32c+31), and
//                                             the int16 scales for its two 16-value halves
// Every (row, token) value is summed the same way whatever the token count or path (the tile
// products in x86_gemm_kquants.h do it per lane): per super-block in order, the exact integer
// sums, then acc = fma(isum, d * dx, acc) and, with a correction, acc = -(corr * (c * dx)) + acc
// (one rounding each).
template <typename Format>
struct SuperBlocks {
    template <int NT>
    static void run(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, float* out,
                    size_t out_stride) {
        const int64_t n_blocks = cols / 256;
        // Lane t is token t's accumulator (a lane-wise FMA rounds as a scalar one would).
        __m128 acc4 = _mm_setzero_ps();
        typename Format::State st;
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t* wb = w + b * Format::kBytes;
            Format::prepare(wb, st);
            const __m256i corr16 = st.corr16v;
            __m256i isum[NT];
            for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
            for (int c = 0; c < 8; ++c) {
                __m256i scale16;
                const __m256i u = Format::chunk(wb, st, c, scale16);
                for (int t = 0; t < NT; ++t) {
                    const uint8_t* xq = act + t * act_stride + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs);
                    __m256i x = load256(xq + 32 * c);
                    if constexpr (Format::kSigned) x = _mm256_sign_epi8(x, st.signs);
                    isum[t] = dot_u8s8_scaled(isum[t], u, x, scale16);
                }
            }
            __m256i corr[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                               _mm256_setzero_si256()};
            __m256i isum4[4] = {corr[0], corr[1], corr[2], corr[3]};
            alignas(16) float dx[4] = {};
            for (int t = 0; t < NT; ++t) {
                const uint8_t* xb = act + t * act_stride + b * sizeof(BlockQ8_K);
                dx[t] = load_f32(xb);
                isum4[t] = isum[t];
                if constexpr (Format::kHasCorrection)
                    corr[t] = _mm256_madd_epi16(load256(xb + offsetof(BlockQ8_K, bsums)), corr16);
            }
            const __m128 dx4 = _mm_load_ps(dx);
            const __m128i dots = hsum4_i32(isum4[0], isum4[1], isum4[2], isum4[3]);
            acc4 = _mm_fmadd_ps(_mm_cvtepi32_ps(dots), _mm_mul_ps(_mm_set1_ps(st.d), dx4), acc4);
            if constexpr (Format::kHasCorrection) {
                const __m128i corrs = hsum4_i32(corr[0], corr[1], corr[2], corr[3]);
                acc4 = _mm_fnmadd_ps(_mm_cvtepi32_ps(corrs), _mm_mul_ps(_mm_set1_ps(st.corr_scale), dx4), acc4);
            }
        }
        alignas(16) float acc[4];
        _mm_store_ps(acc, acc4);
        for (int t = 0; t < NT; ++t) out[t * out_stride] = acc[t];
    }
};

struct StateK {
    float d = 0, corr_scale = 0;
    int scale[16];
    int16_t corr16[16] = {};  // weights of the activations' per-16 sums
    __m256i corr16v;          // the same as a vector (what prepare() must set)
    __m256i high;   // per-type extra bits (Q5_K qh, Q3_K hmask)
    __m256i signs;  // IQ4_XS: the decoded signed values of the current chunk
};

struct Q2_K {
    static constexpr size_t kBytes = sizeof(quant::BlockQ2_K);
    static constexpr bool kSigned = false, kHasCorrection = true;
    using State = StateK;
    static void prepare(const uint8_t* b, State& st) {
        st.d = load_f16(b + 80);
        st.corr_scale = load_f16(b + 82);
        for (int j = 0; j < 16; ++j) {
            st.scale[j] = b[j] & 0x0f;
            st.corr16[j] = static_cast<int16_t>(b[j] >> 4);
        }
        st.corr16v = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(load128(b), 4), _mm_set1_epi8(0x0f)));
    }
    static __m256i chunk(const uint8_t* b, State& st, int c, __m256i& scale16) {
        scale16 = scale_pair16(st.scale[2 * c], st.scale[2 * c + 1]);
        return bits_at(load256(b + 16 + 32 * (c / 4)), 2 * (c % 4), 3);
    }
};

struct Q3_K {
    static constexpr size_t kBytes = sizeof(quant::BlockQ3_K);
    static constexpr bool kSigned = false, kHasCorrection = true;
    using State = StateK;
    static void prepare(const uint8_t* b, State& st) {
        const uint8_t* s = b + 96;
        st.d = load_f16(b + 108);
        for (int j = 0; j < 16; ++j) {
            const int low = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
            const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
            st.scale[j] = (low | (high << 4)) - 32;
            st.corr16[j] = static_cast<int16_t>(4 * st.scale[j]);  // stored q = u - 4
        }
        st.corr_scale = st.d;
        st.corr16v = load256(reinterpret_cast<const uint8_t*>(st.corr16));
        st.high = load256(b);
    }
    static __m256i chunk(const uint8_t* b, State& st, int c, __m256i& scale16) {
        scale16 = scale_pair16(st.scale[2 * c], st.scale[2 * c + 1]);
        const __m256i low = bits_at(load256(b + 32 + 32 * (c / 4)), 2 * (c % 4), 3);
        const __m256i high = _mm256_slli_epi16(bits_at(st.high, c, 1), 2);
        return _mm256_or_si256(low, high);
    }
};

struct Q4_K {
    static constexpr size_t kBytes = sizeof(quant::BlockQ4_K);
    static constexpr bool kSigned = false, kHasCorrection = true;
    using State = StateK;
    // The 12 packed bytes as three words: scales/mins 0..3 are the low 6 bits of words 0/1;
    // 4..7 take their low 4 bits from word 2's nibbles and their top 2 from bits 6..7 of words 0/1.
    static void prepare(const uint8_t* b, State& st) {
        st.d = load_f16(b);
        st.corr_scale = load_f16(b + 2);
        uint32_t w[3];
        std::memcpy(w, b + 4, 12);
        const uint32_t scales[2] = {w[0] & 0x3f3f3f3fu, (w[2] & 0x0f0f0f0fu) | ((w[0] >> 2) & 0x30303030u)};
        const uint32_t mins[2] = {w[1] & 0x3f3f3f3fu, ((w[2] >> 4) & 0x0f0f0f0fu) | ((w[1] >> 2) & 0x30303030u)};
        uint8_t scale_bytes[8];
        std::memcpy(scale_bytes, scales, 8);
        for (int j = 0; j < 8; ++j) st.scale[j] = scale_bytes[j];
        const __m128i m = _mm_set_epi32(0, 0, static_cast<int>(mins[1]), static_cast<int>(mins[0]));
        st.corr16v = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));  // each min covers two 16-sums
    }
    static __m256i chunk(const uint8_t* b, State& st, int c, __m256i& scale16) {
        scale16 = _mm256_set1_epi16(static_cast<short>(st.scale[c]));
        return bits_at(load256(b + 16 + 32 * (c / 2)), 4 * (c % 2), 0x0f);
    }
};

struct Q5_K {
    static constexpr size_t kBytes = sizeof(quant::BlockQ5_K);
    static constexpr bool kSigned = false, kHasCorrection = true;
    using State = StateK;
    static void prepare(const uint8_t* b, State& st) {
        Q4_K::prepare(b, st);
        st.high = load256(b + 16);
    }
    static __m256i chunk(const uint8_t* b, State& st, int c, __m256i& scale16) {
        scale16 = _mm256_set1_epi16(static_cast<short>(st.scale[c]));
        const __m256i low = bits_at(load256(b + 48 + 32 * (c / 2)), 4 * (c % 2), 0x0f);
        return _mm256_or_si256(low, _mm256_slli_epi16(bits_at(st.high, c, 1), 4));
    }
};

struct Q6_K {
    static constexpr size_t kBytes = sizeof(quant::BlockQ6_K);
    static constexpr bool kSigned = false, kHasCorrection = true;
    using State = StateK;
    static void prepare(const uint8_t* b, State& st) {
        st.d = load_f16(b + 208);
        const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
        for (int j = 0; j < 16; ++j) {
            st.scale[j] = scales[j];
            st.corr16[j] = static_cast<int16_t>(32 * scales[j]);  // stored q = u - 32
        }
        st.corr16v = _mm256_slli_epi16(_mm256_cvtepi8_epi16(load128(b + 192)), 5);
        st.corr_scale = st.d;
    }
    static __m256i chunk(const uint8_t* b, State& st, int c, __m256i& scale16) {
        const int h = c / 4, s = c % 4;
        scale16 = scale_pair16(st.scale[2 * c], st.scale[2 * c + 1]);
        const __m256i low = bits_at(load256(b + 64 * h + 32 * (s & 1)), 4 * (s / 2), 0x0f);
        const __m256i high = bits_at(load256(b + 128 + 32 * h), 2 * s, 3);
        return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
    }
};

struct IQ4_XS {
    static constexpr size_t kBytes = sizeof(quant::BlockIQ4_XS);
    static constexpr bool kSigned = true, kHasCorrection = false;
    using State = StateK;
    static void prepare(const uint8_t* b, State& st) {
        st.d = load_f16(b);
        st.corr16v = _mm256_setzero_si256();
        const int scales_h = b[2] | (b[3] << 8);
        for (int j = 0; j < 8; ++j) {
            const int low = (b[4 + j / 2] >> (4 * (j % 2))) & 0x0f;
            st.scale[j] = (low | (((scales_h >> (2 * j)) & 3) << 4)) - 32;
        }
    }
    static __m256i chunk(const uint8_t* b, State& st, int c, __m256i& scale16) {
        static constexpr int8_t kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};
        const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kLevels));
        scale16 = _mm256_set1_epi16(static_cast<short>(st.scale[c]));
        st.signs = _mm256_shuffle_epi8(_mm256_set_m128i(table, table), nibbles32(b + 8 + 16 * c));
        return _mm256_sign_epi8(st.signs, st.signs);
    }
};

RowDotFn kquant_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q2_K: return dispatch_tokens<SuperBlocks<Q2_K>>;
        case TensorType::Q3_K: return dispatch_tokens<SuperBlocks<Q3_K>>;
        case TensorType::Q4_K: return dispatch_tokens<SuperBlocks<Q4_K>>;
        case TensorType::Q5_K: return dispatch_tokens<SuperBlocks<Q5_K>>;
        case TensorType::Q6_K: return dispatch_tokens<SuperBlocks<Q6_K>>;
        case TensorType::IQ4_XS: return dispatch_tokens<SuperBlocks<IQ4_XS>>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
