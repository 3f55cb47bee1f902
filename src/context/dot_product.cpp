#include "context/dot_product.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rf::context {
namespace {

// Eight partial sums, so the loop need not wait on one running total.
float dot_scalar(const float* a, const float* b, size_t n) {
    float part[8] = {};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; ++j) part[j] += a[i + j] * b[i + j];
    float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

#if defined(__x86_64__)
// Each vector version ends with vzeroupper: dirty upper register halves slow down the SSE code
// around it (the rest of the program is compiled for the x86-64 baseline).
__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    _mm256_zeroupper();
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

__attribute__((target("avx512f,avx2,fma"))) float dot_avx512(const float* a, const float* b, size_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    if (i + 16 <= n) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        i += 16;
    }
    // Through memory: GCC 12's 512-to-256-bit intrinsics warn of an uninitialised operand.
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(acc0, acc1));
    float sum = horizontal_sum(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
    _mm256_zeroupper();
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}
#endif

}  // namespace

size_t dot_versions(DotVersion* out, size_t capacity) {
    size_t n = 0;
    auto put = [&](const char* name, DotFn fn) {
        if (n < capacity) out[n++] = {name, fn};
    };
    put("scalar", dot_scalar);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) put("avx2", dot_avx2);
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        put("avx512", dot_avx512);
#endif
    return n;
}

DotFn best_dot() {
    static const DotFn best = [] {
        DotVersion versions[4];
        return versions[dot_versions(versions, 4) - 1].fn;
    }();
    return best;
}

}  // namespace rf::context
