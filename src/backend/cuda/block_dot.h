// Dot products of weight blocks with activations held as int8 levels and a scale per block, for the
// few-token products (cuda_gemv.cu): the integer sums are exact (4-way byte products, dp4a), and
// the block's scales are applied once per sum. The same header compiles as host C++, where
// tests/gpu checks every format against block_decode.h times the dequantized activations.
//
// A weight block is cut into kSlices slices that neighbouring lanes read side by side, so that a
// group of lanes reads a stretch of a row contiguously and with loads as wide as the block's
// alignment allows (Q4_K blocks are 144 bytes: 16-byte loads; Q8_0, Q4_0 and Q6_K blocks are 34,
// 18 and 210 bytes: 2-byte loads, from shared memory where cuda_gemv.cu staged aligned rows). For
// each format:
//   Slice load(block, s)                slice s's quants and the block's scales
//   float dot(slice, x, xd, s)          its share of sum_i w_i * xd * x_i, where x are the int8
//                                       levels of the activation block lined up with the weight block
// The activation block is as long as the weight block (Q8_0 for 32-value blocks, Q8_K for 256),
// so one scale xd covers it. F16 and BF16 use the same frame with 16-bit activations and no scale.
#pragma once

#include <cstdint>

#include "backend/cuda/block_decode.h"
#if defined(__CUDACC__) || defined(__HIPCC__)
#include "backend/cuda/gpu_runtime.h"
#endif

namespace rf::gpu {

// Sum of the four byte products of a and b (signed bytes) plus c.
RF_HOST_DEVICE int dp4a(int a, int b, int c) {
#if defined(__CUDA_ARCH__)
    return __dp4a(a, b, c);
#else  // host, and HIP (where the instruction's name differs by target; the compiler finds it)
    RF_UNROLL for (int k = 0; k < 4; ++k) c += static_cast<int8_t>(a >> (8 * k)) * static_cast<int8_t>(b >> (8 * k));
    return c;
#endif
}

// Loads at a known alignment: one instruction on the device, bytes on the host.
RF_HOST_DEVICE uint32_t load_u16_a2(const uint8_t* p) {
#if RF_DEVICE_PASS
    return *reinterpret_cast<const uint16_t*>(p);
#else
    return load_u16(p);
#endif
}
RF_HOST_DEVICE uint32_t load_u32_a2(const uint8_t* p) { return load_u16_a2(p) | (load_u16_a2(p + 2) << 16); }
RF_HOST_DEVICE int load_i32_a4(const void* p) {
#if RF_DEVICE_PASS
    return *reinterpret_cast<const int*>(p);
#else
    return static_cast<int>(load_u32(static_cast<const uint8_t*>(p)));
#endif
}
struct Words4 {
    uint32_t v[4];
};
RF_HOST_DEVICE Words4 load_words4_a16(const void* p) {
#if RF_DEVICE_PASS
    const uint4 u = *reinterpret_cast<const uint4*>(p);
    return {{u.x, u.y, u.z, u.w}};
#else
    const auto* b = static_cast<const uint8_t*>(p);
    return {{load_u32(b), load_u32(b + 4), load_u32(b + 8), load_u32(b + 12)}};
#endif
}
// Exact F16 -> f32 at a 2-byte aligned address.
RF_HOST_DEVICE float load_half_a2(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(static_cast<unsigned short>(load_u16_a2(p))));
#else
    return half_to_float(load_u16_a2(p));
#endif
}

inline constexpr int kOnes = 0x01010101;  // dp4a(kOnes, x, 0) sums x's four bytes

template <TensorType T> struct BlockDot;

// Q8_0: F16 d, 32 int8 levels. Four slices of 8 levels.
template <> struct BlockDot<TensorType::Q8_0> {
    static constexpr int kValues = 32, kBytes = 34, kSlices = 4;
    struct Slice {
        float d;
        uint32_t q[2];
    };
    RF_HOST_DEVICE static Slice load(const uint8_t* b, int s) {
        return {load_half_a2(b), {load_u32_a2(b + 2 + 8 * s), load_u32_a2(b + 6 + 8 * s)}};
    }
    RF_HOST_DEVICE static float dot(const Slice& w, const int8_t* x, float xd, int s) {
        const int sum = dp4a(static_cast<int>(w.q[0]), load_i32_a4(x + 8 * s),
                             dp4a(static_cast<int>(w.q[1]), load_i32_a4(x + 8 * s + 4), 0));
        return w.d * xd * static_cast<float>(sum);
    }
};

// Q4_0: F16 d, 16 bytes whose low nibbles are values 0..15 and high nibbles 16..31, each worth
// d * (q - 8). Four slices of 4 bytes.
template <> struct BlockDot<TensorType::Q4_0> {
    static constexpr int kValues = 32, kBytes = 18, kSlices = 4;
    struct Slice {
        float d;
        uint32_t q;
    };
    RF_HOST_DEVICE static Slice load(const uint8_t* b, int s) { return {load_half_a2(b), load_u32_a2(b + 2 + 4 * s)}; }
    RF_HOST_DEVICE static float dot(const Slice& w, const int8_t* x, float xd, int s) {
        const int x_lo = load_i32_a4(x + 4 * s), x_hi = load_i32_a4(x + 16 + 4 * s);
        const int sum = dp4a(static_cast<int>(w.q & 0x0f0f0f0fu), x_lo, dp4a(static_cast<int>((w.q >> 4) & 0x0f0f0f0fu), x_hi, 0));
        const int sum_x = dp4a(kOnes, x_lo, dp4a(kOnes, x_hi, 0));
        return w.d * xd * static_cast<float>(sum - 8 * sum_x);
    }
};

// Q4_K: F16 d and dmin, 12 bytes of 6-bit scales and minima for 8 sub-blocks of 32, then 4 chunks
// of 32 bytes: chunk c's low nibbles are values 64c..64c+31 (sub-block 2c), its high nibbles the
// next 32 (sub-block 2c + 1); a value is d * scale * q - dmin * min. Eight slices of 16 bytes.
template <> struct BlockDot<TensorType::Q4_K> {
    static constexpr int kValues = 256, kBytes = 144, kSlices = 8;
    struct Slice {
        float d, dmin;
        int scale_lo, min_lo, scale_hi, min_hi;
        Words4 q;
    };
    RF_HOST_DEVICE static Slice load(const uint8_t* b, int s) {
        Slice w;
        w.d = load_half_a2(b);
        w.dmin = load_half_a2(b + 2);
        const int c = s / 2;
        k4_scale_min(b + 4, 2 * c, w.scale_lo, w.min_lo);
        k4_scale_min(b + 4, 2 * c + 1, w.scale_hi, w.min_hi);
        w.q = load_words4_a16(b + 16 + 32 * c + 16 * (s % 2));
        return w;
    }
    RF_HOST_DEVICE static float dot(const Slice& w, const int8_t* x, float xd, int s) {
        const int8_t* x_lo = x + 64 * (s / 2) + 16 * (s % 2);
        const Words4 lo = load_words4_a16(x_lo), hi = load_words4_a16(x_lo + 32);
        int sum_lo = 0, sum_hi = 0, sum_x_lo = 0, sum_x_hi = 0;
        RF_UNROLL for (int k = 0; k < 4; ++k) {
            sum_lo = dp4a(static_cast<int>(w.q.v[k] & 0x0f0f0f0fu), static_cast<int>(lo.v[k]), sum_lo);
            sum_hi = dp4a(static_cast<int>((w.q.v[k] >> 4) & 0x0f0f0f0fu), static_cast<int>(hi.v[k]), sum_hi);
            sum_x_lo = dp4a(kOnes, static_cast<int>(lo.v[k]), sum_x_lo);
            sum_x_hi = dp4a(kOnes, static_cast<int>(hi.v[k]), sum_x_hi);
        }
        const float scaled = w.d * static_cast<float>(w.scale_lo * sum_lo + w.scale_hi * sum_hi);
        const float mins = w.dmin * static_cast<float>(w.min_lo * sum_x_lo + w.min_hi * sum_x_hi);
        return xd * (scaled - mins);
    }
};

// Q6_K: 128 bytes of low nibbles (ql), 64 of 2-bit high parts (qh), 16 int8 scales, F16 d. In each
// half h of 128 values, byte l < 32 of ql/qh gives values l, l + 32, l + 64, l + 96 (low nibble of
// ql[l], of ql[l + 32], high nibble of ql[l], of ql[l + 32]; qh bits 0-1, 2-3, 4-5, 6-7), each worth
// d * scale[8h + l / 16 + 2g] * (q - 32) for group g. Sixteen slices of 4 byte positions l.
template <> struct BlockDot<TensorType::Q6_K> {
    static constexpr int kValues = 256, kBytes = 210, kSlices = 16;
    struct Slice {
        float d;
        int scale[4];
        uint32_t ql_a, ql_b, qh;
    };
    RF_HOST_DEVICE static Slice load(const uint8_t* b, int s) {
        const int h = s / 8, l0 = 4 * (s % 8);
        Slice w;
        w.d = load_half_a2(b + 208);
        RF_UNROLL for (int g = 0; g < 4; ++g) w.scale[g] = static_cast<int8_t>(b[192 + 8 * h + l0 / 16 + 2 * g]);
        w.ql_a = load_u32_a2(b + 64 * h + l0);
        w.ql_b = load_u32_a2(b + 64 * h + 32 + l0);
        w.qh = load_u32_a2(b + 128 + 32 * h + l0);
        return w;
    }
    RF_HOST_DEVICE static float dot(const Slice& w, const int8_t* x, float xd, int s) {
        const int8_t* xs = x + 128 * (s / 8) + 4 * (s % 8);
        const uint32_t q[4] = {(w.ql_a & 0x0f0f0f0fu) | ((w.qh << 4) & 0x30303030u),
                               (w.ql_b & 0x0f0f0f0fu) | ((w.qh << 2) & 0x30303030u),
                               ((w.ql_a >> 4) & 0x0f0f0f0fu) | (w.qh & 0x30303030u),
                               ((w.ql_b >> 4) & 0x0f0f0f0fu) | ((w.qh >> 2) & 0x30303030u)};
        int sum = 0;
        RF_UNROLL for (int g = 0; g < 4; ++g) {
            const int xg = load_i32_a4(xs + 32 * g);
            sum += w.scale[g] * (dp4a(static_cast<int>(q[g]), xg, 0) - 32 * dp4a(kOnes, xg, 0));
        }
        return w.d * xd * static_cast<float>(sum);
    }
};

// F16 and BF16 weights with activations rounded to the same 16-bit format: 8 values (16 bytes) per
// slice, products and sums in f32.
template <TensorType T>
struct Plain16Dot {
    static_assert(T == TensorType::F16 || T == TensorType::BF16);
    static constexpr int kValues = 8, kBytes = 16, kSlices = 1;
    using Slice = Words4;
    RF_HOST_DEVICE static float widen(uint32_t bits) {
        if constexpr (T == TensorType::BF16) return bf16_to_float(bits);
#if defined(__CUDA_ARCH__)
        return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
#else
        return half_to_float(bits);
#endif
    }
    RF_HOST_DEVICE static Slice load(const uint8_t* b, int) { return load_words4_a16(b); }
    RF_HOST_DEVICE static float dot(const Slice& w, const uint16_t* x, float, int) {
        const Words4 xv = load_words4_a16(x);
        float sum = 0.0f;
        RF_UNROLL for (int k = 0; k < 4; ++k) {
            sum += widen(w.v[k] & 0xffffu) * widen(xv.v[k] & 0xffffu);
            sum += widen(w.v[k] >> 16) * widen(xv.v[k] >> 16);
        }
        return sum;
    }
};
template <> struct BlockDot<TensorType::F16> : Plain16Dot<TensorType::F16> {};
template <> struct BlockDot<TensorType::BF16> : Plain16Dot<TensorType::BF16> {};

}  // namespace rf::gpu
