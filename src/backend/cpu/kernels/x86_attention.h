// Attention with SIMD (see attention.h), compiled into both x86 variants: 8-lane AVX2 vectors in
// avx2_kernels.cpp, 16-lane AVX-512 vectors in avx512_kernels.cpp. The run's heads (up to 8) keep
// their accumulators in registers: the dots take a block's positions in lanes, each key element
// loaded once for all heads; per group of value columns, one pass over the positions loads each
// value once for all heads.
#pragma once

#include <cmath>
#include <limits>

#include "backend/cpu/kernels/attention.h"
#include "backend/cpu/kernels/x86_simd.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

#if defined(__AVX512F__)
// 16 lanes; the key dots take 2 vectors of positions at a time and the value pass 2 vectors of
// columns (32 registers hold 8 heads' sums twice over).
struct AttnVec {
    using V = __m512;
    static constexpr int kLanes = 16, kKeyVectors = 2, kValueVectors = 2;
    static V zero() { return _mm512_setzero_ps(); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V broadcast(const float* x) { return _mm512_set1_ps(*x); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    static V exp(V x) { return exp16(x); }
    static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
    static float reduce_max(V v) { return _mm512_reduce_max_ps(v); }
    static V load(const float* x) { return _mm512_loadu_ps(x); }
    // x[0..lanes), the other lanes `fill`.
    static V load_lanes(const float* x, int lanes, float fill) {
        return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << lanes) - 1), x);
    }
    template <bool F16>
    static V load_row(const uint8_t* row, int64_t i) {
        if constexpr (F16)
            return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
        else
            return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
    }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static void store(float* x, V v) { _mm512_storeu_ps(x, v); }
    static void store_lanes(float* x, V v, int lanes) {
        _mm512_mask_storeu_ps(x, static_cast<__mmask16>((1u << lanes) - 1), v);
    }
};
#else
struct AttnVec {
    using V = __m256;
    static constexpr int kLanes = 8, kKeyVectors = 1, kValueVectors = 1;
    static V zero() { return _mm256_setzero_ps(); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V broadcast(const float* x) { return _mm256_broadcast_ss(x); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V exp(V x) { return exp8(x); }
    static float reduce_add(V v) {
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, v);
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }
    static float reduce_max(V v) {
        v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 1));
        v = _mm256_max_ps(v, _mm256_shuffle_ps(v, v, 0x4e));
        return _mm256_cvtss_f32(_mm256_max_ps(v, _mm256_shuffle_ps(v, v, 0xb1)));
    }
    static V load(const float* x) { return _mm256_loadu_ps(x); }
    static V load_lanes(const float* x, int lanes, float fill) {
        const __m256i mask = lanes_below(0, lanes);
        return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(x, mask), _mm256_castsi256_ps(mask));
    }
    template <bool F16>
    static V load_row(const uint8_t* row, int64_t i) {
        if constexpr (F16)
            return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
        else
            return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static void store(float* x, V v) { _mm256_storeu_ps(x, v); }
    static void store_lanes(float* x, V v, int lanes) { _mm256_maskstore_ps(x, lanes_below(0, lanes), v); }
};
#endif
using A = AttnVec;
using V = A::V;

template <bool F16>
inline float load_row1(const uint8_t* row, int64_t i) {
    if constexpr (F16) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        return _cvtsh_ss(h);
    } else {
        float f;
        std::memcpy(&f, row + 4 * i, 4);
        return f;
    }
}

// The dots of the H heads' queries with P vectors of positions: keys[p] points at element 0 of
// the positions of vector p (their elements d are row_bytes apart), lanes[p] of them are visible,
// and their scores go to scores[l] + at[p]. Lanes past a run read what follows it (the memory is
// padded) and are not stored.
template <int H, int P, bool F16>
RF_ALWAYS_INLINE inline void dot_vectors(const float* const (&q)[H], float* const (&scores)[H], const uint8_t* const (&keys)[P],
                                         const int64_t (&at)[P], const int (&lanes)[P], int64_t dim, size_t row_bytes, V scale,
                                         const uint8_t* ahead) {
    V acc[P][H];
    for (int p = 0; p < P; ++p)
        for (int l = 0; l < H; ++l) acc[p][l] = A::zero();
    for (int64_t d = 0; d < dim; ++d) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead + d * row_bytes), _MM_HINT_T0);
        V k[P];
        for (int p = 0; p < P; ++p) k[p] = A::load_row<F16>(keys[p] + d * row_bytes, 0);
        for (int l = 0; l < H; ++l) {
            const V x = A::broadcast(q[l] + d);
            for (int p = 0; p < P; ++p) acc[p][l] = A::fmadd(x, k[p], acc[p][l]);
        }
    }
    for (int p = 0; p < P; ++p)
        for (int l = 0; l < H; ++l) A::store_lanes(scores[l] + at[p], A::mul(acc[p][l], scale), lanes[p]);
}

// scores[l * n + i] = scale * q_l . key(first + i), for the H heads of the run. The keys of a
// block are transposed (attention.h): a vector holds one element of consecutive positions, so each
// head's dots build up lane by lane, one multiply-add per element, with no reduction across lanes.
// Vectors of positions are taken kKeyVectors at a time, from one block or the next, so that each
// query element loaded serves as many multiply-adds; a lane's sum is the same either way.
template <int H, bool F16>
void dot_keys(const AttendJob& j, int64_t n) {
    constexpr int P = A::kKeyVectors;
    const int64_t dim = j.head_dim_k, block_size = j.block_size;
    const size_t elem = F16 ? 2 : 4, row_bytes = static_cast<size_t>(block_size) * elem;
    const V scale = A::broadcast(&j.scale);
    const float* q[H];
    float* scores[H];
    for (int l = 0; l < H; ++l) {
        q[l] = j.q + l * j.q_stride;
        scores[l] = j.scores + l * n;
    }
    const auto block_keys = [&](int64_t slot) { return j.keys + static_cast<size_t>(slot / block_size * dim) * row_bytes; };
    const uint8_t* keys[P];
    int64_t at[P];
    int lanes[P];
    int pending = 0;
    for_each_slot_run(j, [&](int64_t i0, int64_t slot, int64_t count) {
        const uint8_t* block = block_keys(slot);
        // The blocks are scattered, so the hardware prefetchers start cold on each: the keys of
        // the block after the next are requested while these are dotted.
        const int64_t ahead_block = std::min((j.first + i0) / block_size + 2, j.last / block_size);
        const uint8_t* ahead = block_keys(static_cast<int64_t>(j.block_table[ahead_block]) * block_size);
        for (int64_t c = 0; c < count; c += A::kLanes) {
            keys[pending] = block + static_cast<size_t>(slot % block_size + c) * elem;
            at[pending] = i0 + c;
            lanes[pending] = static_cast<int>(std::min<int64_t>(A::kLanes, count - c));
            if (++pending == P) {
                dot_vectors<H, P, F16>(q, scores, keys, at, lanes, dim, row_bytes, scale, ahead);
                pending = 0;
            }
        }
    });
    // A last vector left over: nothing lies ahead of it, so its prefetch asks for its own keys.
    if constexpr (P > 1)
        if (pending > 0) {
            const uint8_t* const one_key[1] = {keys[0]};
            const int64_t one_at[1] = {at[0]};
            const int one_lanes[1] = {lanes[0]};
            dot_vectors<H, 1, F16>(q, scores, one_key, one_at, one_lanes, dim, row_bytes, scale, keys[0]);
        }
}

// s[0..n) becomes exp(s - max s), after soft-capping when cap > 0; returns 1 / their sum, which
// the value pass applies to its sums (one pass over the scores fewer than normalizing them).
float softmax_unnormalized(float* s, int64_t n, float cap) {
    if (cap > 0.0f)
        for (int64_t i = 0; i < n; ++i) s[i] = cap * std::tanh(s[i] / cap);
    constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
    const int64_t body = n / A::kLanes * A::kLanes;
    const int tail = static_cast<int>(n - body);
    V top = A::set1(kMinusInf);
    for (int64_t i = 0; i < body; i += A::kLanes) top = A::max(top, A::load(s + i));
    if (tail > 0) top = A::max(top, A::load_lanes(s + body, tail, kMinusInf));
    const V m = A::set1(A::reduce_max(top));
    V sum = A::zero();
    for (int64_t i = 0; i < body; i += A::kLanes) {
        const V e = A::exp(A::sub(A::load(s + i), m));
        sum = A::add(sum, e);
        A::store(s + i, e);
    }
    if (tail > 0) {
        const V e = A::exp(A::sub(A::load_lanes(s + body, tail, kMinusInf), m));  // exp(-inf) = 0
        sum = A::add(sum, e);
        A::store_lanes(s + body, e, tail);
    }
    return 1.0f / A::reduce_add(sum);
}

// out_l[d..d + C * lanes) = norm[l] * sum_i scores[l * n + i] * value(first + i)[d..], for the H heads.
template <int H, int C, bool F16>
RF_ALWAYS_INLINE inline void add_value_columns(const AttendJob& j, int64_t n, const float (&norm)[H], int64_t d) {
    V acc[H][C];
    for (int l = 0; l < H; ++l)
        for (int c = 0; c < C; ++c) acc[l][c] = A::zero();
    for_each_slot_run(j, [&](int64_t i0, int64_t slot, int64_t count) {
        const uint8_t* value = j.values + static_cast<size_t>(slot) * j.v_stride;
        // As for the keys: the same columns of the next block's values are requested meanwhile.
        const int64_t ahead_block = std::min((j.first + i0) / j.block_size + 1, j.last / j.block_size);
        const uint8_t* ahead = j.values + static_cast<size_t>(j.block_table[ahead_block] * j.block_size) * j.v_stride +
                               static_cast<size_t>(d) * (F16 ? 2 : 4);
        for (int64_t i = i0; i < i0 + count; ++i, value += j.v_stride, ahead += j.v_stride) {
            _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
            V v[C];
            for (int c = 0; c < C; ++c) v[c] = A::load_row<F16>(value, d + c * A::kLanes);
            for (int l = 0; l < H; ++l) {
                const V w = A::broadcast(j.scores + l * n + i);
                for (int c = 0; c < C; ++c) acc[l][c] = A::fmadd(w, v[c], acc[l][c]);
            }
        }
    });
    for (int l = 0; l < H; ++l)
        for (int c = 0; c < C; ++c)
            A::store(j.out + l * j.out_stride + d + c * A::kLanes, A::mul(acc[l][c], A::set1(norm[l])));
}

// out_l = norm[l] * sum_i scores[l * n + i] * value(first + i), for the H heads of the run.
template <int H, bool F16>
void add_values(const AttendJob& j, int64_t n, const float (&norm)[H]) {
    constexpr int64_t kWide = A::kValueVectors * A::kLanes;
    const int64_t dim = j.head_dim_v, wide_end = dim / kWide * kWide, body = dim / A::kLanes * A::kLanes;
    int64_t d = 0;
    for (; d < wide_end; d += kWide) add_value_columns<H, A::kValueVectors, F16>(j, n, norm, d);
    for (; d < body; d += A::kLanes) add_value_columns<H, 1, F16>(j, n, norm, d);
    for (; d < dim; ++d)
        for (int l = 0; l < H; ++l) {
            float sum = 0.0f;
            for_each_slot_run(j, [&](int64_t i0, int64_t slot, int64_t count) {
                const uint8_t* value = j.values + static_cast<size_t>(slot) * j.v_stride;
                for (int64_t i = i0; i < i0 + count; ++i, value += j.v_stride)
                    sum += j.scores[l * n + i] * load_row1<F16>(value, d);
            });
            j.out[l * j.out_stride + d] = sum * norm[l];
        }
}

template <int H, bool F16>
void attend_heads(const AttendJob& j) {
    const int64_t n = j.last - j.first + 1;
    dot_keys<H, F16>(j, n);
    float norm[H];
    for (int l = 0; l < H; ++l) norm[l] = softmax_unnormalized(j.scores + l * n, n, j.softcap);
    add_values<H, F16>(j, n, norm);
}

template <bool F16>
void attend_cache(const AttendJob& j) {
    switch (j.n_heads) {
        case 1: return attend_heads<1, F16>(j);
        case 2: return attend_heads<2, F16>(j);
        case 3: return attend_heads<3, F16>(j);
        case 4: return attend_heads<4, F16>(j);
        case 5: return attend_heads<5, F16>(j);
        case 6: return attend_heads<6, F16>(j);
        case 7: return attend_heads<7, F16>(j);
        default: return attend_heads<8, F16>(j);
    }
}
static_assert(kMaxAttendHeads == 8, "attend_cache covers 1..8 heads");

void attend_vector(const AttendJob& j) {
    if (j.f16)
        attend_cache<true>(j);
    else
        attend_cache<false>(j);
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
