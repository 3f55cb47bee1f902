// The AVX-512 variant (compiled with AVX-512 F/BW/VL/VNNI flags, see CMakeLists.txt): the AVX2
// kernels with the integer dot products done by VNNI, 512-bit float kernels, and repacked
// many-token tile products for the quantized types.
#define RF_SIMD_NS avx512

// GCC 12's own AVX-512 headers trip -Wuninitialized on their "undefined vector" placeholders
// (GCC bug 105593); nothing in this file reads an uninitialized value.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "backend/cpu/kernels/x86_all_kernels.h"
#include "backend/cpu/kernels/x86_float512.h"
#include "backend/cpu/kernels/x86_gemm.h"
#include "backend/cpu/kernels/x86_gemm_kquants.h"

namespace rf::cpu::detail {

RowDotFn avx512_kernel(TensorType type) {
    if (auto fn = avx512::float512_kernel(type)) return fn;
    return avx512::any_kernel(type);
}
TileGemmFn avx512_gemv(TensorType type) { return avx512::gemv_kernel(type); }
int avx512_gemm_rows(TensorType type) {
    return avx512::gemm_kernel(type) || avx512::gemm_kquant_kernel(type) ? kWideGemmRows : kGemmRows;
}
TileGemmFn avx512_gemm(TensorType type) {
    if (auto fn = avx512::gemm_kernel(type)) return fn;
    if (auto fn = avx512::float512_gemm(type)) return fn;
    return avx512::gemm_kquant_kernel(type);
}

}  // namespace rf::cpu::detail
