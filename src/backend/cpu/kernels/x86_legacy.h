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

    // The exact integer dot of the block with one token's block `a`.
    static int32_t block_dot(const Decoded& k, const uint8_t* a) {
        __m256i x = load256(a + kActQs);
        if constexpr (HasOffset<Format>) {
            int32_t sum;
            std::memcpy(&sum, a + offsetof(ActBlockQ8_0, sum), 4);
            return hsum_i32(dot_u8s8(_mm256_setzero_si256(), k.u, x)) - sum * Format::kOffset;
        } else {
            if constexpr (Format::kSigned) x = _mm256_sign_epi8(x, k.q);
            return hsum_i32(dot_u8s8(_mm256_setzero_si256(), k.u, x));
        }
    }

    static float accumulate(const Decoded& k, const uint8_t* a, float acc) {
        acc = fused_madd(static_cast<float>(block_dot(k, a)), k.d * load_f32(a), acc);
        if constexpr (kMin) acc = fused_madd(k.m, load_f32(a + offsetof(ActBlockQ8_1, s)), acc);
        return acc;
    }

    template <int NT>
    static void run(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, float* out,
                    size_t out_stride) {
        const int64_t n_blocks = cols / 32;
        float acc[NT] = {};
        for (int64_t b = 0; b < n_blocks; ++b) {
            const Decoded k = decode(w + b * Format::kBytes);
            for (int t = 0; t < NT; ++t) acc[t] = accumulate(k, act + t * act_stride + b * kActBytes, acc[t]);
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
