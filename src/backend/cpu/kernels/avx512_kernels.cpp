// The AVX-512 variant (compiled with AVX-512 F/BW/VL/VNNI flags, see CMakeLists.txt): the AVX2
// kernels with the integer dot products done by VNNI, 512-bit float kernels, few-token products
// on 16 rows read in place and repacked many-token tile products for the quantized types.
#define RF_SIMD_NS avx512

// GCC 12's own AVX-512 headers trip -Wuninitialized on their "undefined vector" placeholders
// (GCC bug 105593); nothing in this file reads an uninitialized value.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "backend/cpu/kernels/x86_all_kernels.h"
#include "backend/cpu/kernels/x86_attention.h"
#include "backend/cpu/kernels/x86_float512.h"
#include "backend/cpu/kernels/x86_gemm.h"
#include "backend/cpu/kernels/x86_gemm_kquants.h"
#include "backend/cpu/kernels/x86_gemv16.h"
#include "backend/cpu/kernels/x86_gemv16_kquants.h"
#include "backend/cpu/kernels/x86_tiled.h"

namespace rf::cpu::detail {

RowDotFn avx512_kernel(TensorType type) {
    if (auto fn = avx512::float512_kernel(type)) return fn;
    return avx512::any_kernel(type);
}
// vzeroupper leaves zmm16..31 as they are: they are zeroed first (an EVEX write of the low 128
// bits clears the rest).
void avx512_clean_vector_state() {
    asm volatile(
        "vpxord %%xmm16, %%xmm16, %%xmm16\n\tvpxord %%xmm17, %%xmm17, %%xmm17\n\t"
        "vpxord %%xmm18, %%xmm18, %%xmm18\n\tvpxord %%xmm19, %%xmm19, %%xmm19\n\t"
        "vpxord %%xmm20, %%xmm20, %%xmm20\n\tvpxord %%xmm21, %%xmm21, %%xmm21\n\t"
        "vpxord %%xmm22, %%xmm22, %%xmm22\n\tvpxord %%xmm23, %%xmm23, %%xmm23\n\t"
        "vpxord %%xmm24, %%xmm24, %%xmm24\n\tvpxord %%xmm25, %%xmm25, %%xmm25\n\t"
        "vpxord %%xmm26, %%xmm26, %%xmm26\n\tvpxord %%xmm27, %%xmm27, %%xmm27\n\t"
        "vpxord %%xmm28, %%xmm28, %%xmm28\n\tvpxord %%xmm29, %%xmm29, %%xmm29\n\t"
        "vpxord %%xmm30, %%xmm30, %%xmm30\n\tvpxord %%xmm31, %%xmm31, %%xmm31" ::
            : "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26",
              "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
    _mm256_zeroupper();
}

void attend_avx512(const AttendJob& job) {
    avx512::attend_vector(job);
    avx512_clean_vector_state();
}

TileProduct avx512_gemv(TensorType type) {
    if (auto fn = avx512::gemv16_kernel(type)) return {fn, kWideGemmRows};
    if (auto fn = avx512::gemv16_kquant_kernel(type)) return {fn, kWideGemmRows};
    if (auto fn = avx512::float512_gemv(type)) return {fn, avx512::kFloatTileRows};
    return {};
}
TileProduct avx512_tiled(TensorType type) { return {avx512::tiled_kernel(type), kWideGemmRows}; }
TileProduct avx512_gemm(TensorType type) {
    if (auto fn = avx512::gemm_kernel(type)) return {fn, kWideGemmRows};
    if (auto fn = avx512::gemm_kquant_kernel(type)) return {fn, kWideGemmRows};
    return {avx512::float512_gemm(type), avx512::kFloatTileRows};
}

}  // namespace rf::cpu::detail
