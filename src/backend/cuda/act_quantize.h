// The products' input in the form the direct kernels read (cuda_gemv.cu: int8 levels and a scale
// per block; 16-bit values for F16/BF16 weights, made there), a group of 32 lanes per block. Shared by the products'
// own quantize launch and by the ops that write a product's input and quantize it in the same
// launch (RMSNorm, gated activations), so that both give the same bits. Device code only.
#pragma once

#include "backend/cuda/act_rounding.h"
#include "backend/cuda/gpu_runtime.h"

namespace rf::gpu {

// Where the quantized input of `rows` x `cols` values lives in a scratch buffer: the levels (or
// 16-bit values) of all rows, then one scale per block.
struct PackedInput {
    void* values;
    float* scales;
};
RF_HOST_DEVICE size_t align16(size_t n) { return (n + 15) / 16 * 16; }
RF_HOST_DEVICE PackedInput packed_input(void* scratch, int64_t rows, int64_t cols) {
    return {scratch, reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + align16(static_cast<size_t>(rows * cols)))};
}

#if defined(__CUDACC__) || defined(__HIPCC__)
// Q8_0 block: lane holds value `lane` of the block; q is the block's 32 levels.
__device__ inline void quantize_q8_0_block(float v, int lane, int8_t* q, float* scale) {
    const Q8Scale s = q8_0_scale(group_max(abs_float(v)));
    q[lane] = static_cast<int8_t>(q8_level(mul_rn(v, s.inverse)));
    if (lane == 0) *scale = s.stored;
}

// Q8_K block: lane holds values lane + 32 j. The scale comes from the first value of largest
// magnitude: the largest (magnitude, -index) pair over the group, carried with its value.
__device__ inline void quantize_q8_k_block(const float (&v)[8], int lane, int8_t* q, float* scale) {
    float amax = 0.0f, at_value = 0.0f;
    int at = 0;
    RF_UNROLL for (int j = 0; j < 8; ++j) {
        const float a = abs_float(v[j]);
        if (a > amax) {
            amax = a;
            at = lane + 32 * j;
            at_value = v[j];
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float other = gpu_shfl_xor(amax, offset);
        const int other_at = gpu_shfl_xor(at, offset);
        const float other_value = gpu_shfl_xor(at_value, offset);
        if (other > amax || (other == amax && other_at < at)) {
            amax = other;
            at = other_at;
            at_value = other_value;
        }
    }
    if (amax == 0.0f) {
        RF_UNROLL for (int j = 0; j < 8; ++j) q[lane + 32 * j] = 0;
        if (lane == 0) *scale = 0.0f;
        return;
    }
    const float iscale = q8_k_iscale(at_value);
    RF_UNROLL for (int j = 0; j < 8; ++j) q[lane + 32 * j] = static_cast<int8_t>(q8_k_level(iscale, v[j]));
    if (lane == 0) *scale = div_rn(1.0f, iscale);
}

// Block b of row r of the input from the group's values (lane holds values lane + 32 j of the
// block, j < kPackBlock / 32).
template <ActRounding R>
inline constexpr int kPackBlock = R == ActRounding::Q8_K ? 256 : 32;
template <ActRounding R>
__device__ inline void pack_block(const float (&v)[8], int lane, PackedInput out, int64_t r, int64_t cols, int64_t b) {
    static_assert(R == ActRounding::Q8_0 || R == ActRounding::Q8_K);
    constexpr int kBlock = kPackBlock<R>;
    int8_t* q = static_cast<int8_t*>(out.values) + r * cols + kBlock * b;
    float* scale = out.scales + r * (cols / kBlock) + b;
    if constexpr (R == ActRounding::Q8_0) quantize_q8_0_block(v[0], lane, q, scale);
    else quantize_q8_k_block(v, lane, q, scale);
}
#endif

}  // namespace rf::gpu
