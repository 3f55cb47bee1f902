// Element-wise activations with AVX2 (included by avx2_kernels.cpp; see elementwise.h).
#pragma once

#include "backend/cpu/kernels/elementwise.h"
#include "backend/cpu/kernels/x86_simd.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

void silu_mul_vector(const float* gate, const float* up, float* out, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    const auto silu_times = [&](__m256 g, __m256 u) {
        return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_xor_ps(g, sign)))), u);
    };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, silu_times(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        const __m256i mask = lanes_below(i, n);
        _mm256_maskstore_ps(out + i, mask, silu_times(_mm256_maskload_ps(gate + i, mask), _mm256_maskload_ps(up + i, mask)));
    }
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
