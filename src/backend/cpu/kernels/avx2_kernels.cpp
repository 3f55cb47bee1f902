// The AVX2 variant (compiled with -mavx2 -mfma -mf16c, see CMakeLists.txt).
#define RF_SIMD_NS avx2
#include "backend/cpu/kernels/x86_act_quant.h"
#include "backend/cpu/kernels/x86_attention.h"
#include "backend/cpu/kernels/x86_elementwise.h"
#include "backend/cpu/kernels/x86_all_kernels.h"
#include "backend/cpu/kernels/x86_gemv.h"

namespace rf::cpu::detail {

RowDotFn avx2_kernel(TensorType type) { return avx2::any_kernel(type); }
TileProduct avx2_gemv(TensorType type) { return {avx2::gemv_kernel(type), kGemmRows}; }
void avx2_clean_vector_state() { _mm256_zeroupper(); }
ActQuantFn avx2_act_quantizer(ActFormat format) { return avx2::act_quantizer_of(format); }
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n) {
    avx2::silu_mul_vector(gate, up, out, n);
    avx2_clean_vector_state();
}
void attend_avx2(const AttendJob& job) {
    avx2::attend_vector(job);
    avx2_clean_vector_state();
}

}  // namespace rf::cpu::detail
