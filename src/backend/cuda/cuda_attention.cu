// KV cache writes and paged attention. One block of four 32-lane groups per (query token, head):
// each group walks every fourth visible key with an online softmax (running maximum, sum and
// weighted values in registers), then the four partial results are merged. The cache is read
// through the sequence's block table, so prompts and decode steps take the same path.
// Cache layout per layer: keys [slot][kv head][head_dim_k], then values [slot][kv head][head_dim_v].
#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kGroups = 4;                           // 32-lane groups per block
constexpr int kValuesPerLane = kMaxHeadDim / 32;     // output values a lane keeps

template <typename T> __device__ float load_kv(const T* p);
template <> __device__ float load_kv<float>(const float* p) { return *p; }
template <> __device__ float load_kv<gpuHalf>(const gpuHalf* p) { return __half2float(*p); }
__device__ void save_kv(float* p, float v) { *p = v; }
__device__ void save_kv(gpuHalf* p, float v) { *p = __float2half_rn(v); }

// Thread blockIdx.x's token: keys then values of all KV heads into the token's slot.
template <typename T>
__global__ void store_kv_kernel(Mat k, Mat v, T* keys, T* values, const int32_t* slots, int64_t n_slots, int* fault) {
    const int64_t t = blockIdx.x;
    const int32_t slot = slots[t];
    if (slot < 0 || slot >= n_slots) {
        if (threadIdx.x == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
        return;
    }
    for (int64_t i = threadIdx.x; i < k.cols; i += blockDim.x) save_kv(keys + slot * k.cols + i, k.data[t * k.stride + i]);
    for (int64_t i = threadIdx.x; i < v.cols; i += blockDim.x) save_kv(values + slot * v.cols + i, v.data[t * v.stride + i]);
}


template <typename T>
__global__ void attention_kernel(AttentionParams p, const T* keys, const T* values, int* fault) {
    extern __shared__ float shared[];
    float* q = shared;                                  // head_dim_k
    float* group_acc = q + p.head_dim_k;                // kGroups x head_dim_v
    float* part_max = group_acc + kGroups * p.head_dim_v;
    float* part_sum = part_max + kGroups;

    const int64_t t = blockIdx.x, head = blockIdx.y, kv_head = head / (p.n_heads / p.n_kv_heads);
    const int lane = threadIdx.x % 32, group = threadIdx.x / 32;
    const int64_t pos = p.positions[t], seq_row = p.seq_rows[t];
    if (pos < 0 || seq_row < 0 || (p.n_seq_rows > 0 && seq_row >= p.n_seq_rows)) {
        if (threadIdx.x == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
        return;
    }
    const int32_t* table = p.block_tables + seq_row * p.max_blocks_per_seq;
    const int64_t first = p.sliding_window > 0 ? max(int64_t{0}, pos - p.sliding_window + 1) : 0;
    for (int64_t d = threadIdx.x; d < p.head_dim_k; d += blockDim.x) q[d] = p.q[t * p.q_stride + head * p.head_dim_k + d];
    __syncthreads();

    float m = -INFINITY, l = 0.0f, acc[kValuesPerLane];
#pragma unroll
    for (int i = 0; i < kValuesPerLane; ++i) acc[i] = 0.0f;
    for (int64_t key = first + group; key <= pos; key += kGroups) {
        const int64_t logical = key / p.block_size;
        const int32_t block = logical < p.max_blocks_per_seq ? table[logical] : -1;
        if (block < 0 || block >= p.n_blocks) {
            if (lane == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
            break;
        }
        const int64_t slot = block * p.block_size + key % p.block_size;
        const T* k = keys + (slot * p.n_kv_heads + kv_head) * p.head_dim_k;
        float dot = 0.0f;
        for (int64_t d = lane; d < p.head_dim_k; d += 32) dot += q[d] * load_kv(k + d);
        float s = group_sum(dot) * p.scale;
        if (p.softcap > 0.0f) s = p.softcap * tanhf(s / p.softcap);
        const float m_new = fmaxf(m, s), correction = expf(m - m_new), e = expf(s - m_new);
        l = l * correction + e;
        m = m_new;
        const T* v = values + (slot * p.n_kv_heads + kv_head) * p.head_dim_v;
#pragma unroll
        for (int i = 0; i < kValuesPerLane; ++i) {
            const int64_t d = lane + 32 * i;
            if (d < p.head_dim_v) acc[i] = acc[i] * correction + e * load_kv(v + d);
        }
    }
#pragma unroll
    for (int i = 0; i < kValuesPerLane; ++i) {
        const int64_t d = lane + 32 * i;
        if (d < p.head_dim_v) group_acc[group * p.head_dim_v + d] = acc[i];
    }
    if (lane == 0) {
        part_max[group] = m;
        part_sum[group] = l;
    }
    __syncthreads();
    float m_all = -INFINITY;
    for (int g = 0; g < kGroups; ++g) m_all = fmaxf(m_all, part_max[g]);
    float l_all = 0.0f;
    for (int g = 0; g < kGroups; ++g) l_all += part_max[g] == -INFINITY ? 0.0f : part_sum[g] * expf(part_max[g] - m_all);
    for (int64_t d = threadIdx.x; d < p.head_dim_v; d += blockDim.x) {
        float o = 0.0f;
        for (int g = 0; g < kGroups; ++g)
            if (part_max[g] != -INFINITY) o += group_acc[g * p.head_dim_v + d] * expf(part_max[g] - m_all);
        p.out[t * p.out_stride + head * p.head_dim_v + d] = o / l_all;
    }
}

}  // namespace

gpuError_t launch_store_kv(gpuStream_t stream, bool f16, Mat k, Mat v, void* keys, void* values, const int32_t* slots,
                           int64_t n_slots, int* fault) {
    if (k.rows == 0) return gpuSuccess;
    const auto grid = static_cast<unsigned>(k.rows);
    if (f16)
        store_kv_kernel<<<grid, 128, 0, stream>>>(k, v, static_cast<gpuHalf*>(keys), static_cast<gpuHalf*>(values), slots,
                                                  n_slots, fault);
    else
        store_kv_kernel<<<grid, 128, 0, stream>>>(k, v, static_cast<float*>(keys), static_cast<float*>(values), slots,
                                                  n_slots, fault);
    return gpuGetLastError();
}

gpuError_t launch_attention(gpuStream_t stream, bool f16, const AttentionParams& p, const void* keys, const void* values,
                            int* fault) {
    if (p.n_tokens == 0) return gpuSuccess;
    const size_t shared = static_cast<size_t>(p.head_dim_k + kGroups * p.head_dim_v + 2 * kGroups) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(p.n_tokens), static_cast<unsigned>(p.n_heads));
    if (f16)
        attention_kernel<<<grid, 32 * kGroups, shared, stream>>>(p, static_cast<const gpuHalf*>(keys),
                                                                 static_cast<const gpuHalf*>(values), fault);
    else
        attention_kernel<<<grid, 32 * kGroups, shared, stream>>>(p, static_cast<const float*>(keys),
                                                                 static_cast<const float*>(values), fault);
    return gpuGetLastError();
}

}  // namespace rf::gpu
