// Builds for CPUs other than x86-64 have only the scalar kernels.
#include "backend/cpu/kernels/attention.h"
#include "backend/cpu/kernels/elementwise.h"
#include "backend/cpu/kernels/row_kernels.h"

namespace rf::cpu::detail {

RowDotFn avx2_kernel(TensorType) { return nullptr; }
RowDotFn avx512_kernel(TensorType) { return nullptr; }
TileProduct avx512_gemm(TensorType) { return {}; }
TileProduct avx2_gemv(TensorType) { return {}; }
TileProduct avx512_gemv(TensorType) { return {}; }
TileProduct avx512_tiled(TensorType) { return {}; }
ActQuantFn avx2_act_quantizer(ActFormat) { return nullptr; }
void attend_avx2(const AttendJob& job) { attend_scalar(job); }
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n) { silu_mul_scalar(gate, up, out, n); }
void attend_avx512(const AttendJob& job) { attend_scalar(job); }
void avx2_clean_vector_state() {}
void avx512_clean_vector_state() {}

}  // namespace rf::cpu::detail
