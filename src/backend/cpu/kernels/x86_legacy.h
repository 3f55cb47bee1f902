// x86 kernels for the 32-value block types (see x86_simd.h for how this file is compiled).
// Each weight block is decoded once into 32 bytes and dotted with the 8-bit activations of every
// token of the tile; signed weights use |w| * sign(x, w) so that one u8 x s8 product serves.
#pragma once

#include "backend/cpu/kernels/x86_simd.h"
#include "quant/block_formats.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {


// The 16 levels of the non-linear 4-bit formats, repeated in both 128-bit lanes for pshufb.
inline __m256i level_table(const int8_t (&levels)[16]) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(levels));
    return _mm256_set_m128i(t, t);
}
constexpr int8_t kIq4nlLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr int8_t kMxfp4Levels[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Each format: block size, whether values are signed (else they come with a min and Q8_1
// activations), the block scale (and min), and the 32 decoded bytes.
struct Q4_0 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ4_0);
    static constexpr bool kSigned = true;
    static constexpr int kOffset = 8;  // values = unsigned_values - kOffset
    static __m256i unsigned_values(const uint8_t* b) { return nibbles32(b + 2); }
    static float scale(const uint8_t* b) { return load_f16(b); }
    static __m256i values(const uint8_t* b) { return _mm256_sub_epi8(nibbles32(b + 2), _mm256_set1_epi8(8)); }
};
struct Q4_1 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ4_1);
    static constexpr bool kSigned = false;
    static float scale(const uint8_t* b) { return load_f16(b); }
    static float min(const uint8_t* b) { return load_f16(b + 2); }
    static __m256i values(const uint8_t* b) { return nibbles32(b + 4); }
};
struct Q5_0 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ5_0);
    static constexpr bool kSigned = true;
    static constexpr int kOffset = 16;
    static __m256i unsigned_values(const uint8_t* b) {
        return _mm256_or_si256(nibbles32(b + 6), _mm256_and_si256(expand_bits32(b + 2), _mm256_set1_epi8(16)));
    }
    static float scale(const uint8_t* b) { return load_f16(b); }
    static __m256i values(const uint8_t* b) {
        const __m256i high = _mm256_and_si256(expand_bits32(b + 2), _mm256_set1_epi8(16));
        return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b + 6), high), _mm256_set1_epi8(16));
    }
};
struct Q5_1 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ5_1);
    static constexpr bool kSigned = false;
    static float scale(const uint8_t* b) { return load_f16(b); }
    static float min(const uint8_t* b) { return load_f16(b + 2); }
    static __m256i values(const uint8_t* b) {
        const __m256i high = _mm256_and_si256(expand_bits32(b + 4), _mm256_set1_epi8(16));
        return _mm256_or_si256(nibbles32(b + 8), high);
    }
};
struct Q8_0 {
    static constexpr size_t kBytes = sizeof(quant::BlockQ8_0);
    static constexpr bool kSigned = true;
    static float scale(const uint8_t* b) { return load_f16(b); }
    static __m256i values(const uint8_t* b) { return load256(b + 2); }
};
struct IQ4_NL {
    static constexpr size_t kBytes = sizeof(quant::BlockIQ4_NL);
    static constexpr bool kSigned = true;
    static float scale(const uint8_t* b) { return load_f16(b); }
    static __m256i values(const uint8_t* b) { return _mm256_shuffle_epi8(level_table(kIq4nlLevels), nibbles32(b + 2)); }
};
struct MXFP4 {
    static constexpr size_t kBytes = sizeof(quant::BlockMXFP4);
    static constexpr bool kSigned = true;
    // 2^(e - 128): half the E8M0 scale, since the levels are stored doubled.
    static float scale(const uint8_t* b) {
        const uint32_t e = b[0];
        const uint32_t bits = e < 2 ? (0x00200000u << e) : ((e - 1) << 23);
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
    static __m256i values(const uint8_t* b) { return _mm256_shuffle_epi8(level_table(kMxfp4Levels), nibbles32(b + 1)); }
};

// Formats whose signed values are unsigned ones minus a constant: the row kernel multiplies the
// unsigned bytes directly and takes offset * sum(x) back off, which is cheaper than fixing signs.
template <typename Format>
concept HasOffset = requires { Format::kOffset; };

// Every (row, token) value is summed the same way whatever the token count or path (the tile
// products in x86_gemm.h do it per lane): per block in order, the exact integer dot, then
// acc = fma(dot, d * dx, acc) and, for formats with a min, acc = fma(m, s, acc).
template <typename Format>
struct Blocks32 {
    static constexpr bool kMin = !Format::kSigned;
    static constexpr size_t kActBytes = kMin ? sizeof(ActBlockQ8_1) : sizeof(ActBlockQ8_0);
    static constexpr size_t kActQs = kMin ? offsetof(ActBlockQ8_1, qs) : offsetof(ActBlockQ8_0, qs);

    // One weight block decoded once for all tokens of the tile.
    struct Decoded {
        __m256i q, u;  // signed values (unused with an offset) and the unsigned bytes dotted
        float d, m;
    };
    static Decoded decode(const uint8_t* wb) {
        Decoded k{};
        if constexpr (HasOffset<Format>) {
            k.u = Format::unsigned_values(wb);
        } else {
            k.q = Format::values(wb);
            k.u = Format::kSigned ? _mm256_sign_epi8(k.q, k.q) : k.q;
        }
        k.d = Format::scale(wb);
        if constexpr (kMin) k.m = Format::min(wb);
        return k;
    }

    // Int32 lanes whose sum is the exact integer dot of the block with one token's block `a`.
    static __m256i dot_lanes(const Decoded& k, const uint8_t* a) {
        __m256i x = load256(a + kActQs);
        if constexpr (HasOffset<Format>) {
            // Every one of the 8 lanes gives back sum(x) * offset / 8: the total loses offset * sum(x).
            static_assert(Format::kOffset % 8 == 0);
            int32_t sum;
            std::memcpy(&sum, a + offsetof(ActBlockQ8_0, sum), 4);
            return _mm256_sub_epi32(dot_u8s8(_mm256_setzero_si256(), k.u, x), _mm256_set1_epi32(sum * (Format::kOffset / 8)));
        } else {
            if constexpr (Format::kSigned) x = _mm256_sign_epi8(x, k.q);
            return dot_u8s8(_mm256_setzero_si256(), k.u, x);
        }
    }

    static float accumulate(const Decoded& k, int32_t dot, const uint8_t* a, float acc) {
        acc = fused_madd(static_cast<float>(dot), k.d * load_f32(a), acc);
        if constexpr (kMin) acc = fused_madd(k.m, load_f32(a + offsetof(ActBlockQ8_1, s)), acc);
        return acc;
    }

    // acc (lane 0) + block J's dot * scale, then + its min's share.
    template <int J>
    static __m128 add_lane(__m128 acc, __m128 dots4, __m128 scale4, __m128 m4, __m128 sx4) {
        constexpr int kSel = J | (J << 2) | (J << 4) | (J << 6);
        acc = _mm_fmadd_ss(_mm_permute_ps(dots4, kSel), _mm_permute_ps(scale4, kSel), acc);
        if constexpr (kMin) acc = _mm_fmadd_ss(_mm_permute_ps(m4, kSel), _mm_permute_ps(sx4, kSel), acc);
        return acc;
    }

    template <int NT>
    static void run(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, float* out,
                    size_t out_stride) {
        const int64_t n_blocks = cols / 32;
        float acc[NT] = {};
        if constexpr (NT == 1) {
            // One token: four blocks' dots are reduced and scaled together, then added in block order
            // (lane j to lane 0 for a scalar FMA: the same single rounding as everywhere else).
            int64_t b = 0;
            __m128 acc0 = _mm_setzero_ps();
            for (; b + 4 <= n_blocks; b += 4) {
                __m256i lanes[4];
                alignas(16) float d[4], dx[4], m[4] = {}, sx[4] = {};
                for (int j = 0; j < 4; ++j) {
                    const Decoded k = decode(w + (b + j) * Format::kBytes);
                    const uint8_t* a = act + (b + j) * kActBytes;
                    lanes[j] = dot_lanes(k, a);
                    d[j] = k.d;
                    dx[j] = load_f32(a);
                    if constexpr (kMin) {
                        m[j] = k.m;
                        sx[j] = load_f32(a + offsetof(ActBlockQ8_1, s));
                    }
                }
                const __m128 dots4 = _mm_cvtepi32_ps(hsum4_i32(lanes[0], lanes[1], lanes[2], lanes[3]));
                const __m128 scale4 = _mm_mul_ps(_mm_load_ps(d), _mm_load_ps(dx));
                const __m128 m4 = _mm_load_ps(m), sx4 = _mm_load_ps(sx);
                acc0 = add_lane<0>(acc0, dots4, scale4, m4, sx4);
                acc0 = add_lane<1>(acc0, dots4, scale4, m4, sx4);
                acc0 = add_lane<2>(acc0, dots4, scale4, m4, sx4);
                acc0 = add_lane<3>(acc0, dots4, scale4, m4, sx4);
            }
            acc[0] = _mm_cvtss_f32(acc0);
            for (; b < n_blocks; ++b) {
                const Decoded k = decode(w + b * Format::kBytes);
                const uint8_t* a = act + b * kActBytes;
                acc[0] = accumulate(k, hsum_i32(dot_lanes(k, a)), a, acc[0]);
            }
        } else {
            // Several tokens: lane t of one vector is token t's accumulator (a lane-wise FMA is the
            // same single rounding as the scalar one above).
            __m128 acc4 = _mm_setzero_ps();
            for (int64_t b = 0; b < n_blocks; ++b) {
                const Decoded k = decode(w + b * Format::kBytes);
                __m256i lanes[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                    _mm256_setzero_si256()};
                alignas(16) float dx[4] = {}, sx[4] = {};
                for (int t = 0; t < NT; ++t) {
                    const uint8_t* a = act + t * act_stride + b * kActBytes;
                    lanes[t] = dot_lanes(k, a);
                    dx[t] = load_f32(a);
                    if constexpr (kMin) sx[t] = load_f32(a + offsetof(ActBlockQ8_1, s));
                }
                const __m128 dots4 = _mm_cvtepi32_ps(hsum4_i32(lanes[0], lanes[1], lanes[2], lanes[3]));
                acc4 = _mm_fmadd_ps(dots4, _mm_mul_ps(_mm_set1_ps(k.d), _mm_load_ps(dx)), acc4);
                if constexpr (kMin) acc4 = _mm_fmadd_ps(_mm_set1_ps(k.m), _mm_load_ps(sx), acc4);
            }
            alignas(16) float acc_lanes[4];
            _mm_store_ps(acc_lanes, acc4);
            for (int t = 0; t < NT; ++t) acc[t] = acc_lanes[t];
        }
        for (int t = 0; t < NT; ++t) out[t * out_stride] = acc[t];
    }
};

RowDotFn legacy_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return dispatch_tokens<Blocks32<Q4_0>>;
        case TensorType::Q4_1: return dispatch_tokens<Blocks32<Q4_1>>;
        case TensorType::Q5_0: return dispatch_tokens<Blocks32<Q5_0>>;
        case TensorType::Q5_1: return dispatch_tokens<Blocks32<Q5_1>>;
        case TensorType::Q8_0: return dispatch_tokens<Blocks32<Q8_0>>;
        case TensorType::IQ4_NL: return dispatch_tokens<Blocks32<IQ4_NL>>;
        case TensorType::MXFP4: return dispatch_tokens<Blocks32<MXFP4>>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
