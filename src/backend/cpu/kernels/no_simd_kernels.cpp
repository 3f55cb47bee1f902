// Builds for CPUs other than x86-64 have only the scalar kernels.
#include "backend/cpu/kernels/row_kernels.h"

namespace rf::cpu::detail {

RowDotFn avx2_kernel(TensorType) { return nullptr; }
RowDotFn avx512_kernel(TensorType) { return nullptr; }
TileGemmFn avx512_gemm(TensorType) { return nullptr; }
int avx512_gemm_rows(TensorType) { return kGemmRows; }
TileGemmFn avx2_gemv(TensorType) { return nullptr; }
ActQuantFn avx2_act_quantizer(ActFormat) { return nullptr; }
TileGemmFn avx512_gemv(TensorType) { return nullptr; }

}  // namespace rf::cpu::detail
