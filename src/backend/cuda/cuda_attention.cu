// KV cache writes and paged attention. A block of four 32-lane groups per (query token, head, split
// of the keys): each group takes tiles of 32 visible keys in turn, a key per lane for the score
// (the lane reads the whole key row), then every lane adds the tile's weighted value rows for its
// own output dimensions, with an online softmax (running maximum, sum and weighted values in
// registers). The four groups' results are merged in shared memory. A long context is cut into
// splits so that a decode step (one token, few heads) still fills the card; the splits' partial
// results (maximum, sum, unnormalized output) are merged by a second kernel. The cache is read
// through the sequence's block table, so prompts and decode steps take the same path.
// Cache layout per layer: keys [slot][kv head][head_dim_k], then values [slot][kv head][head_dim_v].
#include <algorithm>

#include "backend/cuda/kernels.h"
#include "backend/cuda/rope_rotate.h"

namespace rf::gpu {
namespace {

constexpr int kGroups = 4;                           // 32-lane groups per block
constexpr int kValuesPerLane = kMaxHeadDim / 32;     // output values a lane keeps

template <typename T> __device__ float load_kv(const T* p);
template <> __device__ float load_kv<float>(const float* p) { return *p; }
template <> __device__ float load_kv<gpuHalf>(const gpuHalf* p) { return __half2float(*p); }
__device__ void save_kv(float* p, float v) { *p = v; }
__device__ void save_kv(gpuHalf* p, float v) { *p = __float2half_rn(v); }

// The block's threads store token t's keys then values of all KV heads into its slot.
template <typename T>
__device__ void store_token(int64_t t, Mat k, Mat v, T* keys, T* values, const int32_t* slots, int64_t n_slots, int* fault) {
    const int32_t slot = slots[t];
    if (slot < 0 || slot >= n_slots) {
        if (threadIdx.x == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
        return;
    }
    for (int64_t i = threadIdx.x; i < k.cols; i += blockDim.x) save_kv(keys + slot * k.cols + i, k.data[t * k.stride + i]);
    for (int64_t i = threadIdx.x; i < v.cols; i += blockDim.x) save_kv(values + slot * v.cols + i, v.data[t * v.stride + i]);
}

template <typename T>
__global__ void store_kv_kernel(Mat k, Mat v, T* keys, T* values, const int32_t* slots, int64_t n_slots, int* fault) {
    gpu_kernel_prologue();
    store_token(blockIdx.x, k, v, keys, values, slots, n_slots, fault);
}

// Block (token t, head h): head h of the token's query heads and then its key heads rotated (a pair
// per thread), as rope would leave it; a key head's block then stores that head's key and value
// rows, as store_kv would. A block per head, not per token, so that a decode step's single token
// is spread over as many SMs as it has heads (one block for all took 12 us a layer on an H100,
// most of it memory round trips made one after another).
template <typename T>
__global__ void rope_store_kv_kernel(Mat q, Mat k, Mat v, const int32_t* positions, RopeParams p, T* keys, T* values,
                                     const int32_t* slots, int64_t n_slots, int* fault) {
    gpu_kernel_prologue();
    const int64_t t = blockIdx.x, head = blockIdx.y, kv_head = head - p.n_heads;
    const int32_t pos = positions[t];
    float* row = kv_head < 0 ? q.data + t * q.stride + head * p.head_dim : k.data + t * k.stride + kv_head * p.head_dim;
    for (int64_t i = threadIdx.x; i < p.half; i += blockDim.x) rope_rotate_pair(row, i, pos, p);
    if (kv_head < 0) return;  // the whole block: a query head
    __syncthreads();          // the head's rotated key is visible to the block
    const int32_t slot = slots[t];
    if (slot < 0 || slot >= n_slots) {
        if (threadIdx.x == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
        return;
    }
    const int64_t dk = p.head_dim, dv = v.cols / (k.cols / dk);
    for (int64_t i = threadIdx.x; i < dk; i += blockDim.x) save_kv(keys + slot * k.cols + kv_head * dk + i, row[i]);
    const float* v_row = v.data + t * v.stride + kv_head * dv;
    for (int64_t i = threadIdx.x; i < dv; i += blockDim.x) save_kv(values + slot * v.cols + kv_head * dv + i, v_row[i]);
}

// Row of n values (n a multiple of 8, the row 16-byte aligned) dotted with q in shared memory.
__device__ float dot_row(const float* row, const float* q, int64_t n) {
    float sum = 0.0f;
    for (int64_t d = 0; d < n; d += 8) {
        const float4 a = *reinterpret_cast<const float4*>(row + d), b = *reinterpret_cast<const float4*>(row + d + 4);
        sum += a.x * q[d] + a.y * q[d + 1] + a.z * q[d + 2] + a.w * q[d + 3];
        sum += b.x * q[d + 4] + b.y * q[d + 5] + b.z * q[d + 6] + b.w * q[d + 7];
    }
    return sum;
}
__device__ float dot_row(const gpuHalf* row, const float* q, int64_t n) {
    float sum = 0.0f;
    for (int64_t d = 0; d < n; d += 8) {
        const uint4 u = *reinterpret_cast<const uint4*>(row + d);
        const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&words[k]));
            sum += f.x * q[d + 2 * k] + f.y * q[d + 2 * k + 1];
        }
    }
    return sum;
}
template <typename T>
__device__ float dot_any(const T* row, const float* q, int64_t n) {
    if (n % 8 == 0 && reinterpret_cast<uintptr_t>(row) % 16 == 0) return dot_row(row, q, n);
    float sum = 0.0f;
    for (int64_t d = 0; d < n; ++d) sum += load_kv(row + d) * q[d];
    return sum;
}

// Per (token, head, split): the split's share of the softmax-weighted values. With one split the
// normalized output goes to p.out; with several, (maximum, sum, unnormalized values) go to partial.
template <typename T, int PerLane>
__global__ void __launch_bounds__(32 * kGroups) attention_kernel(AttentionParams p, const T* keys, const T* values,
                                                                 int64_t split_keys, float* partial, int* fault) {
    gpu_kernel_prologue();
    extern __shared__ float shared[];
    float* q = shared;                                  // head_dim_k
    float* group_acc = q + p.head_dim_k;                // kGroups x head_dim_v
    float* part_max = group_acc + kGroups * p.head_dim_v;
    float* part_sum = part_max + kGroups;

    const int64_t t = blockIdx.x, head = blockIdx.y, kv_head = head / (p.n_heads / p.n_kv_heads);
    const int lane = threadIdx.x % 32, group = threadIdx.x / 32;
    KeyRange range;
    if (!key_range(p, t, split_keys, fault, range)) return;
    const int32_t* table = range.table;
    const int64_t first = range.first, last = range.last;
    for (int64_t d = threadIdx.x; d < p.head_dim_k; d += blockDim.x) q[d] = p.q[t * p.q_stride + head * p.head_dim_k + d];
    __syncthreads();

    float m = -INFINITY, l = 0.0f, acc[PerLane];
#pragma unroll
    for (int i = 0; i < PerLane; ++i) acc[i] = 0.0f;
    for (int64_t tile = first + 32 * group; tile <= last; tile += 32 * kGroups) {
        // Lane j scores key tile + j.
        const int64_t key = tile + lane;
        const bool visible = key <= last;
        int64_t slot = 0;
        float s = -INFINITY;
        if (visible) {
            const int64_t logical = key / p.block_size;
            const int32_t block = logical < p.max_blocks_per_seq ? table[logical] : -1;
            if (block < 0 || block >= p.n_blocks) {
                atomicCAS(fault, kFaultNone, kFaultCacheSlot);
            } else {
                slot = block * p.block_size + key % p.block_size;
                s = dot_any(keys + (slot * p.n_kv_heads + kv_head) * p.head_dim_k, q, p.head_dim_k) * p.scale;
                if (p.softcap > 0.0f) s = p.softcap * tanhf(s / p.softcap);
            }
        }
        const float m_new = fmaxf(m, group_max(s));
        if (m_new == -INFINITY) continue;  // no key of the tile readable (a fault is set)
        const float correction = expf(m - m_new), e = s == -INFINITY ? 0.0f : expf(s - m_new);
        l = l * correction + group_sum(e);
        m = m_new;
#pragma unroll
        for (int i = 0; i < PerLane; ++i) acc[i] *= correction;
        const int n = static_cast<int>(min(int64_t{32}, last - tile + 1));
        for (int j = 0; j < n; ++j) {
            const float e_j = gpu_shfl(e, j);
            const int64_t slot_j = gpu_shfl(slot, j);
            const T* v = values + (slot_j * p.n_kv_heads + kv_head) * p.head_dim_v;
#pragma unroll
            for (int i = 0; i < PerLane; ++i) {
                const int64_t d = lane + 32 * i;
                if (d < p.head_dim_v) acc[i] += e_j * load_kv(v + d);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < PerLane; ++i) {
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
    float* dst = partial ? partial + ((t * p.n_heads + head) * gridDim.z + blockIdx.z) * (p.head_dim_v + 2) : nullptr;
    if (dst && threadIdx.x == 0) {
        dst[0] = m_all;
        dst[1] = l_all;
    }
    for (int64_t d = threadIdx.x; d < p.head_dim_v; d += blockDim.x) {
        float o = 0.0f;
        for (int g = 0; g < kGroups; ++g)
            if (part_max[g] != -INFINITY) o += group_acc[g * p.head_dim_v + d] * expf(part_max[g] - m_all);
        if (dst) dst[2 + d] = o;
        else p.out[t * p.out_stride + head * p.head_dim_v + d] = o / l_all;
    }
}

// Per (token, head): the splits' partial results merged into the output.
__global__ void merge_splits_kernel(AttentionParams p, int splits, const float* partial) {
    gpu_kernel_prologue();
    __shared__ float weight[kMaxAttentionSplits];  // exp(split's maximum - overall maximum)
    __shared__ float total;                         // the softmax's denominator
    const int64_t t = blockIdx.x, head = blockIdx.y, row = p.head_dim_v + 2;
    const float* parts = partial + (t * p.n_heads + head) * splits * row;
    // The first 32 lanes weigh the splits together, once (not each thread every split in turn,
    // one load after another).
    if (threadIdx.x < 32) {
        float m_all = -INFINITY;
        for (int z = threadIdx.x; z < splits; z += 32) m_all = fmaxf(m_all, parts[z * row]);
        m_all = group_max(m_all);
        float l_all = 0.0f;
        for (int z = threadIdx.x; z < splits; z += 32) {
            const float m = parts[z * row], w = m == -INFINITY ? 0.0f : expf(m - m_all);
            weight[z] = w;
            l_all += parts[z * row + 1] * w;
        }
        l_all = group_sum(l_all);
        if (threadIdx.x == 0) total = l_all;
    }
    __syncthreads();
    for (int64_t d = threadIdx.x; d < p.head_dim_v; d += blockDim.x) {
        float o = 0.0f;
        for (int z = 0; z < splits; ++z) o += parts[z * row + 2 + d] * weight[z];
        p.out[t * p.out_stride + head * p.head_dim_v + d] = o / total;
    }
}

template <typename T>
gpuError_t launch_typed(gpuStream_t stream, const AttentionParams& p, const T* keys, const T* values, const AttentionSplit& split,
                  int* fault) {
    const size_t shared = static_cast<size_t>(p.head_dim_k + kGroups * p.head_dim_v + 2 * kGroups) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(p.n_tokens), static_cast<unsigned>(p.n_heads), static_cast<unsigned>(split.splits));
    float* partial = split.splits > 1 ? split.partial : nullptr;
    if (p.head_dim_v <= 128)
        gpu_launch(attention_kernel<T, 4>, grid, 32 * kGroups, shared, stream, p, keys, values, split.keys, partial,
                   fault);
    else
        gpu_launch(attention_kernel<T, kValuesPerLane>, grid, 32 * kGroups, shared, stream, p, keys, values, split.keys,
                   partial, fault);
    if (partial) return launch_merge_attention_splits(stream, p, split.splits, partial);
    return gpuGetLastError();
}

}  // namespace

gpuError_t launch_merge_attention_splits(gpuStream_t stream, const AttentionParams& p, int64_t splits, const float* partial) {
    if (splits < 1 || splits > kMaxAttentionSplits) return gpuErrorInvalidValue;
    const dim3 grid(static_cast<unsigned>(p.n_tokens), static_cast<unsigned>(p.n_heads));
    gpu_launch(merge_splits_kernel, grid, 128, 0, stream, p, static_cast<int>(splits), partial);
    return gpuGetLastError();
}

gpuError_t launch_store_kv(gpuStream_t stream, bool f16, Mat k, Mat v, void* keys, void* values, const int32_t* slots,
                           int64_t n_slots, int* fault) {
    if (k.rows == 0) return gpuSuccess;
    const auto grid = static_cast<unsigned>(k.rows);
    if (f16)
        gpu_launch(store_kv_kernel<gpuHalf>, grid, 128, 0, stream, k, v, static_cast<gpuHalf*>(keys),
                   static_cast<gpuHalf*>(values), slots, n_slots, fault);
    else
        gpu_launch(store_kv_kernel<float>, grid, 128, 0, stream, k, v, static_cast<float*>(keys),
                   static_cast<float*>(values), slots, n_slots, fault);
    return gpuGetLastError();
}

gpuError_t launch_rope_store_kv(gpuStream_t stream, bool f16, Mat q, Mat k, Mat v, const int32_t* positions,
                                const RopeParams& p, void* keys, void* values, const int32_t* slots, int64_t n_slots,
                                int* fault) {
    if (k.rows == 0) return gpuSuccess;
    const int64_t n_kv_heads = k.cols / p.head_dim, head_dim_v = v.cols / n_kv_heads;
    const dim3 grid(static_cast<unsigned>(k.rows), static_cast<unsigned>(p.n_heads + n_kv_heads));
    // A thread per value of the longest row it stores (and at least per rotated pair).
    const auto threads = static_cast<unsigned>(std::min<int64_t>(
        256, (std::max({p.half, p.head_dim, head_dim_v}) + 31) / 32 * 32));
    if (f16)
        gpu_launch(rope_store_kv_kernel<gpuHalf>, grid, threads, 0, stream, q, k, v, positions, p,
                   static_cast<gpuHalf*>(keys), static_cast<gpuHalf*>(values), slots, n_slots, fault);
    else
        gpu_launch(rope_store_kv_kernel<float>, grid, threads, 0, stream, q, k, v, positions, p,
                   static_cast<float*>(keys), static_cast<float*>(values), slots, n_slots, fault);
    return gpuGetLastError();
}

AttentionSplit attention_split(int64_t n_tokens, int64_t n_heads, int64_t max_keys) {
    // About 1,024 blocks in all (a decode step of one sequence has only as many (token, head)
    // pairs as heads), splits of at least one tile of keys; at most 64 splits to merge.
    constexpr int64_t kTargetBlocks = 1024, kMinKeys = 32;
    const int64_t pairs = std::max<int64_t>(1, n_tokens * n_heads);
    const int64_t wanted = (kTargetBlocks + pairs - 1) / pairs;
    const int64_t most = std::max<int64_t>(1, max_keys / kMinKeys);
    const int64_t splits = std::clamp<int64_t>(wanted, 1, std::min(most, kMaxAttentionSplits));
    return {.splits = splits, .keys = (max_keys + splits - 1) / splits, .partial = nullptr};
}

gpuError_t launch_attention(gpuStream_t stream, bool f16, const AttentionParams& p, const void* keys, const void* values,
                            const AttentionSplit& split, int* fault) {
    if (p.n_tokens == 0) return gpuSuccess;
    if (f16)
        return launch_typed(stream, p, static_cast<const gpuHalf*>(keys), static_cast<const gpuHalf*>(values), split,
                            fault);
    return launch_typed(stream, p, static_cast<const float*>(keys), static_cast<const float*>(values), split, fault);
}

}  // namespace rf::gpu
