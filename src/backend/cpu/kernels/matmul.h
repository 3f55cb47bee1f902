// Matrix products with weights in any GGUF format: y = W x for a batch of tokens.
//
// Quantized weights are multiplied with activations rounded to 8 bits (Q8_0, Q8_1 or Q8_K blocks,
// the way the reference implementation rounds them) in integer arithmetic; float weights with f32
// activations. Types without a fast kernel dequantize a row at a time: slower, never wrong.
#pragma once

#include <cstdint>

#include "backend/cpu/kernels/isa.h"
#include "backend/cpu/kernels/thread_pool.h"
#include "backend/weight_matrix.h"
#include "core/result.h"

namespace rf::cpu {

// y[t * w.rows + r] = sum_c W[r][c] * x[t * w.cols + c] for t < n_tokens, r < w.rows.
// Scratch memory is kept between calls (no allocation once warmed up); one caller at a time
// uses it, concurrent callers are serialized. An Error for inconsistent shapes or sizes, or for
// non-finite activations where they must be quantized.
Status matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// The same with a chosen ISA variant (tests compare the variants; an Error if the CPU lacks it).
Status matmul_with_isa(Isa isa, const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                       ThreadPool& pool);

// True when `type` has an integer or SIMD kernel (others take the dequantizing path).
bool has_fast_kernel(TensorType type);

}  // namespace rf::cpu
