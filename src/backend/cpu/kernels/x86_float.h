// x86 kernels for float weights (F32, F16, BF16) against f32 activations (see x86_simd.h for how
// this file is compiled). Weights are widened to f32 eight at a time and reused for every token.
#pragma once

#include "backend/cpu/kernels/x86_simd.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

struct F32 {
    static constexpr size_t kBytes = 4;
    static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
    static float load1(const uint8_t* p) { return load_f32(p); }
};
struct F16 {
    static constexpr size_t kBytes = 2;
    static __m256 load8(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
    static float load1(const uint8_t* p) { return load_f16(p); }
};
struct BF16 {
    static constexpr size_t kBytes = 2;
    static __m256 load8(const uint8_t* p) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
    }
    static float load1(const uint8_t* p) {
        uint16_t v;
        std::memcpy(&v, p, 2);
        const uint32_t bits = static_cast<uint32_t>(v) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
};

template <typename Format>
struct FloatRow {
    template <int NT>
    static void run(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, float* out,
                    size_t out_stride) {
        // Two accumulators per token hide the FMA latency when NT is small.
        __m256 acc0[NT], acc1[NT];
        for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
        int64_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            const __m256 w0 = Format::load8(w + c * Format::kBytes);
            const __m256 w1 = Format::load8(w + (c + 8) * Format::kBytes);
            for (int t = 0; t < NT; ++t) {
                const float* x = reinterpret_cast<const float*>(act + t * act_stride) + c;
                acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x), acc0[t]);
                acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), acc1[t]);
            }
        }
        for (int t = 0; t < NT; ++t) {
            const float* x = reinterpret_cast<const float*>(act + t * act_stride);
            float sum = hsum(_mm256_add_ps(acc0[t], acc1[t]));
            for (int64_t k = c; k < cols; ++k) sum += Format::load1(w + k * Format::kBytes) * x[k];
            out[t * out_stride] = sum;
        }
    }
};

RowDotFn float_kernel(TensorType type) {
    switch (type) {
        case TensorType::F32: return dispatch_tokens<FloatRow<F32>>;
        case TensorType::F16: return dispatch_tokens<FloatRow<F16>>;
        case TensorType::BF16: return dispatch_tokens<FloatRow<BF16>>;
        default: return nullptr;
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
