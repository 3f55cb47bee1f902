// Internal: the per-type row kernels each ISA variant provides, and the activation format each
// weight type is multiplied with. matmul.cpp picks a kernel; the variant files fill the tables.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cpu/kernels/isa.h"
#include "gguf/tensor_type.h"

namespace rf::cpu::detail {

// How activations are stored for a weight type's kernel. The 8-bit formats are produced by
// rf::quant::quantize_row, so they round exactly as the reference implementation does.
enum class ActFormat {
    F32,   // float weights: activations stay f32
    Q8_0,  // 32-blocks with symmetric weights
    Q8_1,  // 32-blocks whose weights have a min: the block's d * sum(q) is needed too
    Q8_K,  // 256-super-blocks (K-quants, IQ4_XS): f32 scale and per-16 sums
};

// Activation blocks as the kernels read them: rounded exactly as Q8_0 / Q8_1, with the F16 scale
// (and sum) widened to f32 once per product instead of once per weight row. Q8_K is used as is.
struct ActBlockQ8_0 {
    float d;
    int32_t sum;  // sum(qs): lets kernels that offset signed weights to unsigned undo the offset
    int8_t qs[32];
};
struct ActBlockQ8_1 {
    float d;
    float s;  // d * sum(qs), as Q8_1 stores it (rounded to F16)
    int8_t qs[32];
};

// Bytes of one token's activations of `cols` values in `format`.
size_t activation_row_bytes(ActFormat format, int64_t cols);

// Most tokens one kernel call handles: each weight block is decoded once for all of them.
inline constexpr int kMaxTileTokens = 4;

// out[t * out_stride] = dot(weight row, activation row t) for t < n_tok (1..kMaxTileTokens).
// `w_row` holds `cols` values of the weight type; activation row t starts at act + t * act_stride
// and holds `cols` values in the type's ActFormat.
using RowDotFn = void (*)(int64_t cols, const uint8_t* w_row, const uint8_t* act, size_t act_stride,
                          int n_tok, float* out, size_t out_stride);

ActFormat activation_format(TensorType type);

// Converts one token's `cols` floats to `format`: the same bytes as the reference rounding.
// False (dst unspecified) when a value is not finite; the reference path then reports it.
using ActQuantFn = bool (*)(const float* x, int64_t cols, uint8_t* dst);
// nullptr where the build or the CPU has no vector version.
ActQuantFn avx2_act_quantizer(ActFormat format);
TensorType activation_tensor_type(ActFormat format);

// nullptr where the variant has no kernel for the type (matmul then uses the generic path).
// Products of a tile of `n_rows` (<= the tile's size) rows starting at w, row_bytes apart, with
// n_tok tokens: out[t * out_stride + r]. Every path is bit-identical to the row kernels.
inline constexpr int kGemmRows = 8;
// The AVX-512 products of the quantized types take tiles of 16 rows.
inline constexpr int kWideGemmRows = 16;
using TileGemmFn = void (*)(int64_t cols, const uint8_t* w, size_t row_bytes, int n_rows, const uint8_t* act,
                            size_t act_stride, int64_t n_tok, float* out, size_t out_stride);
struct TileProduct {
    TileGemmFn fn = nullptr;  // nullptr where there is none
    int rows = kGemmRows;     // rows per tile
};
// Many-token products: the tile is repacked once and multiplied with all tokens (only the
// AVX-512 VNNI variant has them).
TileProduct avx512_gemm(TensorType type);
// Few-token products: rows read in place, no repacking.
TileProduct avx2_gemv(TensorType type);
TileProduct avx512_gemv(TensorType type);
TileProduct gemv_for(Isa isa, TensorType type);
// Products over tiles interleaved by weight_tiles.h (AVX-512 VNNI only).
TileProduct avx512_tiled(TensorType type);

// Every thread calls this after running a variant's kernels. While the upper halves of vector
// registers are dirty, the rest of the program (SSE code, compiled for the x86-64 baseline) runs
// many times slower, and GCC does not end every vector function with vzeroupper: it did not for
// the few-token products, and single-token generation fell from 23 to 15 tok/s.
void avx2_clean_vector_state();
void avx512_clean_vector_state();
void clean_vector_state(Isa isa);

RowDotFn scalar_kernel(TensorType type);
RowDotFn avx2_kernel(TensorType type);
RowDotFn avx512_kernel(TensorType type);
RowDotFn kernel_for(Isa isa, TensorType type);

}  // namespace rf::cpu::detail
