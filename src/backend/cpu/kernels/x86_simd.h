// Internal building blocks of the x86 kernels. Included only by avx2_kernels.cpp and
// avx512_kernels.cpp, which compile it with their own target flags; everything here has internal
// linkage inside namespace RF_SIMD_NS so the two compilations can never be mixed up by the linker.
#pragma once

#ifndef RF_SIMD_NS
#error "define RF_SIMD_NS (the variant's namespace) before including x86_simd.h"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "backend/cpu/kernels/row_kernels.h"

extern "C" __m256 _ZGVdN8v_expf(__m256);  // glibc libmvec's expf on 8 lanes (AVX2 calling convention)
#if defined(__AVX512F__)
extern "C" __m512 _ZGVeN16v_expf(__m512);  // the same on 16 lanes (AVX-512)
#endif

// For a lambda whose locals must stay in the caller's registers (a kernel's accumulators).
#define RF_ALWAYS_INLINE __attribute__((always_inline))

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

// A per-thread scratch array that grows and is reused, on 64-byte boundaries: a 512-bit load that
// straddles two cache lines costs two L1 accesses (F16 prompt products ran 20% slower on the
// 16-byte-aligned memory new[] gives). Not std::vector: library templates instantiated here
// could be picked by the linker for the portable code too.
template <typename T>
class AlignedScratch {
public:
    AlignedScratch() = default;
    AlignedScratch(const AlignedScratch&) = delete;
    AlignedScratch& operator=(const AlignedScratch&) = delete;
    ~AlignedScratch() { release(); }
    // Room for n elements; what was there is gone after growing.
    T* reserve(size_t n) {
        if (n > capacity_) {
            release();
            data_ = static_cast<T*>(::operator new[](n * sizeof(T), kAlign));
            capacity_ = n;
        }
        return data_;
    }
    T* data() const { return data_; }

private:
    static constexpr std::align_val_t kAlign{64};
    void release() {
        ::operator delete[](data_, kAlign);
        data_ = nullptr;
        capacity_ = 0;
    }
    T* data_ = nullptr;
    size_t capacity_ = 0;
};

inline float load_f16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return _cvtsh_ss(v);
}

inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// 16 bytes of nibbles -> 32 bytes 0..15: the low nibbles (elements 0..15) then the high ones.
// (A broadcast load and a per-lane shift keep the cross-lane shuffle port free.)
inline __m256i nibbles32(const uint8_t* p) {
    const __m256i both = _mm256_broadcastsi128_si256(load128(p));
    const __m256i shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
}

// 32 bits (little-endian) -> 32 bytes, 0xff where the bit is set.
inline __m256i expand_bits32(const uint8_t* p) {
    uint32_t bits;
    std::memcpy(&bits, p, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(bits)),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i select = _mm256_set1_epi64x(0x8040201008040201);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

// Byte lanes of v shifted right by `shift` (< 8) and masked: bits that cross from the neighbouring
// byte land above `mask` and are dropped.
inline __m256i bits_at(__m256i v, int shift, int mask) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(static_cast<char>(mask)));
}

// acc + sums of four u8 * s8 products per int32 lane. Exact on both paths: the AVX2 pairwise
// int16 sums cannot saturate since u <= 128 and |s| <= 127 here.
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    const __m256i pairs = _mm256_maddubs_epi16(u, s);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#endif
}

// acc + sum of u8 * s8 products, each int16 pair-sum weighted by `scale16` (per int16 lane).
inline __m256i dot_u8s8_scaled(__m256i acc, __m256i u, __m256i s, __m256i scale16) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16));
}

// Two int16 scales: lanes 0..7 (bytes 0..15 of the dotted vectors) and lanes 8..15.
inline __m256i scale_pair16(int low, int high) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(high)), _mm_set1_epi16(static_cast<short>(low)));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Sum of the 8 int32 lanes (exact, so the lane order does not matter).
inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// Lane i = the sum of the int32 lanes of v_i (exact): four reductions for the price of ~two.
inline __m128i hsum4_i32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

// Lane j = the sum of the int32 lanes of v[j] (exact).
inline __m256i hsum8_i32(const __m256i (&v)[8]) {
    const __m256i a01 = _mm256_hadd_epi32(v[0], v[1]);
    const __m256i a23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i a45 = _mm256_hadd_epi32(v[4], v[5]);
    const __m256i a67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i b0123 = _mm256_hadd_epi32(a01, a23);  // rows 0..3, low half | rows 0..3, high half
    const __m256i b4567 = _mm256_hadd_epi32(a45, a67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0123, b4567, 0x20),
                            _mm256_permute2x128_si256(b0123, b4567, 0x31));
}

// Few-token products read 8 or 16 rows at once: as many short streams, more than the hardware
// prefetcher runs ahead on. The rows of a tile are consecutive in memory, so the next tile is one
// contiguous range: it is brought into L2 while the current tile is read, in step with the
// progress through it (`upto` the same fraction of its bytes). Single-token Q4_0 products went from
// 19.3 to 22.3 GB/s with 2 threads on the dev VM (its plain read: 22.5), 4 tokens from 100 to 120
// tok/s. (Before, each row was fetched 24 blocks ahead: the first 24 blocks of every row missed.)
class NextTilePrefetch {
public:
    NextTilePrefetch(const uint8_t* tile, int rows, size_t row_bytes)
        : next_(reinterpret_cast<const char*>(tile + rows * row_bytes)), rows_(static_cast<size_t>(rows)) {}
    // Call after finishing byte `row_offset` of every row of the current tile.
    void upto(size_t row_offset) {
        const size_t target = rows_ * row_offset;
        for (; done_ < target; done_ += 64) _mm_prefetch(next_ + done_, _MM_HINT_T1);
    }

private:
    const char* next_;
    size_t rows_;
    size_t done_ = 0;
};

// expf of each lane (glibc's vector math library: within a few ulp, the same value in any lane).
inline __m256 exp8(__m256 x) { return _ZGVdN8v_expf(x); }
#if defined(__AVX512F__)
inline __m512 exp16(__m512 x) { return _ZGVeN16v_expf(x); }
#endif

// The lanes of x[i..i+8) that are below n, as a mask for the masked loads and stores.
inline __m256i lanes_below(int64_t i, int64_t n) {
    const int64_t left = n - i < 8 ? n - i : 8;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// acc + a * b with one rounding: the same operation the tile products do per lane, so that a
// (row, token) value is bit-identical whichever path computes it.
inline float fused_madd(float a, float b, float acc) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(acc)));
}

// Kernels are structs with `template <int NT> static void run(...)`; this turns one into a
// RowDotFn by dispatching the token count to a compile-time constant (accumulators in registers).
template <typename Kernel>
void dispatch_tokens(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, int n_tok, float* out,
                     size_t out_stride) {
    switch (n_tok) {
        case 1: Kernel::template run<1>(cols, w, act, act_stride, out, out_stride); break;
        case 2: Kernel::template run<2>(cols, w, act, act_stride, out, out_stride); break;
        case 3: Kernel::template run<3>(cols, w, act, act_stride, out, out_stride); break;
        default: Kernel::template run<4>(cols, w, act, act_stride, out, out_stride); break;
    }
}
static_assert(kMaxTileTokens == 4, "dispatch_tokens covers 1..4 tokens");

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
