// The operands of the tensor-core products that prompt-sized batches take (cuda_ops.cpp hands
// them to the BLAS library with f32 sums): weight rows decoded to f16, and the activations rounded
// as every product rounds them (launch_round), then stored as 16-bit values.
//
// F16 inputs are scaled by a power of two chosen for the whole batch, so that its largest rounded
// value lands in [2^14, 2^15): f16 cannot overflow whatever the activations' size (the product's
// alpha undoes the scale), and every value within 2^28 of the largest keeps f16's full precision.
// BF16 weights take bf16 inputs, which hold their rounded values exactly.
#include <algorithm>

#include "backend/cuda/act_rounding.h"
#include "backend/cuda/block_decode.h"
#include "backend/cuda/kernels.h"

namespace rf::gpu {

namespace {

constexpr int kThreads = 256;

// The largest magnitude of n values, as float bits, into *word (zeroed before). Magnitudes are
// non-negative, so their bit patterns order as the values do. fmaxf passes over NaN: a NaN input
// still gives NaN in its own token's results, and the scale comes from the other values.
__global__ void amax_kernel(const float* x, int64_t n, unsigned* word) {
    gpu_kernel_prologue();
    float m = 0.0f;
    for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads)
        m = fmaxf(m, fabsf(x[i]));
    m = group_max(m);
    if (threadIdx.x % 32 == 0) atomicMax(word, __float_as_uint(m));
}

// 2^k with the batch's largest magnitude times it in [2^14, 2^15); 1 for zero or Inf. k stays
// below 127 so that alpha = 2^-k is a normal float.
__device__ float half_input_scale(unsigned amax_bits) {
    const float amax = __uint_as_float(amax_bits);
    if (amax == 0.0f || !isfinite(amax)) return 1.0f;
    int e = 0;
    frexpf(amax, &e);                  // amax in [2^(e-1), 2^e)
    return ldexpf(1.0f, min(15 - e, 126));
}

// The rounded values as f16 times the batch's scale; alpha_beta = {1 / scale, 0} for the product.
__global__ void to_half_kernel(const float* rounded, int64_t n, const unsigned* amax_word, uint16_t* out,
                               float* alpha_beta) {
    gpu_kernel_prologue();
    const float s = half_input_scale(*amax_word);
    const int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x;
    if (i == 0) {
        alpha_beta[0] = 1.0f / s;  // exact: a power of two
        alpha_beta[1] = 0.0f;
    }
    if (i < n) out[i] = __half_as_ushort(__float2half_rn(rounded[i] * s));
}

// The rounded values as bf16 (exact: launch_round rounded them to bf16); alpha_beta = {1, 0}.
__global__ void to_bf16_kernel(const float* rounded, int64_t n, uint16_t* out, float* alpha_beta) {
    gpu_kernel_prologue();
    const int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x;
    if (i == 0) {
        alpha_beta[0] = 1.0f;
        alpha_beta[1] = 0.0f;
    }
    if (i < n) out[i] = static_cast<uint16_t>(float_to_bf16_bits(rounded[i]));
}

// Thread i decodes 32-value unit i of rows [first_row, first_row + n_rows) into f16, stored with
// four 16-byte writes.
template <TensorType T>
__global__ void decode_rows_half_kernel(const uint8_t* w, size_t row_bytes, int64_t first_row, int64_t n_rows,
                                        int64_t cols, uint16_t* out) {
    gpu_kernel_prologue();
    using Traits = BlockTraits<T>;
    constexpr int kUnitsPerBlock = Traits::kValues / 32;
    const int64_t units = cols / 32, i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
    if (i >= n_rows * units) return;
    const int64_t r = i / units, u = i % units;
    float v[32];
    decode_unit<T>(w + (first_row + r) * row_bytes + u / kUnitsPerBlock * Traits::kBytes,
                   static_cast<int>(u % kUnitsPerBlock), v);
    uint4* dst = reinterpret_cast<uint4*>(out + r * cols + u * 32);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        uint32_t word[4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
            word[j] = __half_as_ushort(__float2half_rn(v[8 * k + 2 * j])) |
                      uint32_t{__half_as_ushort(__float2half_rn(v[8 * k + 2 * j + 1]))} << 16;
        dst[k] = make_uint4(word[0], word[1], word[2], word[3]);
    }
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

}  // namespace

HalfInput half_input_kind(TensorType weight_type) {
    return weight_type == TensorType::BF16 ? HalfInput::BF16 : HalfInput::ScaledF16;
}

int half_input_format(TensorType weight_type) { return -1 - static_cast<int>(act_rounding_for(weight_type)); }

// Scratch layout: the 16-bit x, then (from a 256-byte boundary) the rounded f32 x, alpha and
// beta, and the largest magnitude's bits.
namespace {
size_t half_values_bytes(int64_t rows, int64_t cols) {
    return (static_cast<size_t>(rows * cols) * sizeof(uint16_t) + 255) / 256 * 256;
}
}  // namespace

size_t half_input_bytes(int64_t rows, int64_t cols) {
    return half_values_bytes(rows, cols) + static_cast<size_t>(rows * cols) * sizeof(float) + 4 * sizeof(float);
}

HalfInputView half_input_view(void* scratch, int64_t rows, int64_t cols) {
    const auto* rounded = reinterpret_cast<const float*>(static_cast<uint8_t*>(scratch) + half_values_bytes(rows, cols));
    return {scratch, rounded + rows * cols};
}

gpuError_t launch_half_input(gpuStream_t stream, TensorType weight_type, Mat x, void* scratch) {
    const int64_t n = x.rows * x.cols;
    if (n == 0) return gpuSuccess;
    auto* half = static_cast<uint16_t*>(scratch);
    auto* rounded = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + half_values_bytes(x.rows, x.cols));
    float* alpha_beta = rounded + n;
    auto* amax_word = reinterpret_cast<unsigned*>(alpha_beta + 2);
    if (gpuError_t err = launch_round(stream, weight_type, x, rounded); err != gpuSuccess) return err;
    if (half_input_kind(weight_type) == HalfInput::BF16) {
        gpu_launch(to_bf16_kernel, blocks_for(n), kThreads, 0, stream, rounded, n, half, alpha_beta);
        return gpuGetLastError();
    }
    if (gpuError_t err = gpuMemsetAsync(amax_word, 0, sizeof(unsigned), stream); err != gpuSuccess) return err;
    gpu_launch(amax_kernel, std::min<unsigned>(blocks_for(n), 1024), kThreads, 0, stream, rounded, n, amax_word);
    gpu_launch(to_half_kernel, blocks_for(n), kThreads, 0, stream, rounded, n, amax_word, half, alpha_beta);
    return gpuGetLastError();
}

gpuError_t launch_decode_rows_half(gpuStream_t stream, TensorType type, const uint8_t* w, size_t row_bytes,
                                   int64_t first_row, int64_t n_rows, int64_t cols, void* out) {
    const int64_t n = n_rows * (cols / 32);
    if (n == 0) return gpuSuccess;
    auto* dst = static_cast<uint16_t*>(out);
    switch (type) {
#define RF_CASE(T)                                                                                             \
    case TensorType::T:                                                                                        \
        gpu_launch(decode_rows_half_kernel<TensorType::T>, blocks_for(n), kThreads, 0, stream, w, row_bytes,   \
                   first_row, n_rows, cols, dst);                                                              \
        break;
        RF_GPU_QUANTIZED_FORMATS(RF_CASE)
#undef RF_CASE
        default: return gpuErrorInvalidValue;
    }
    return gpuGetLastError();
}

}  // namespace rf::gpu
