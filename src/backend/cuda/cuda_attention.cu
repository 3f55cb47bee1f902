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
    store_token(blockIdx.x, k, v, keys, values, slots, n_slots, fault);
}

// Block t: token t's query and key heads rotated (a pair per thread), then its keys and values
// stored, as rope, rope and store_kv would leave them.
template <typename T>
__global__ void rope_store_kv_kernel(Mat q, Mat k, Mat v, const int32_t* positions, RopeParams p, T* keys, T* values,
                                     const int32_t* slots, int64_t n_slots, int* fault) {
    const int64_t t = blockIdx.x;
    const int32_t pos = positions[t];
    const int64_t q_pairs = p.n_heads * p.half, k_pairs = k.cols / p.head_dim * p.half;
    for (int64_t i = threadIdx.x; i < q_pairs + k_pairs; i += blockDim.x) {
        const bool is_q = i < q_pairs;
        const int64_t j = is_q ? i : i - q_pairs;
        float* head = (is_q ? q.data + t * q.stride : k.data + t * k.stride) + j / p.half * p.head_dim;
        rope_rotate_pair(head, j % p.half, pos, p);
    }
    __syncthreads();  // every rotated key of the token is visible to the block
    store_token(t, k, v, keys, values, slots, n_slots, fault);
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
    const int64_t t = blockIdx.x, head = blockIdx.y;
    const float* parts = partial + (t * p.n_heads + head) * splits * (p.head_dim_v + 2);
    float m_all = -INFINITY;
    for (int z = 0; z < splits; ++z) m_all = fmaxf(m_all, parts[z * (p.head_dim_v + 2)]);
    float l_all = 0.0f;
    for (int z = 0; z < splits; ++z) {
        const float* part = parts + z * (p.head_dim_v + 2);
        if (part[0] != -INFINITY) l_all += part[1] * expf(part[0] - m_all);
    }
    for (int64_t d = threadIdx.x; d < p.head_dim_v; d += blockDim.x) {
        float o = 0.0f;
        for (int z = 0; z < splits; ++z) {
            const float* part = parts + z * (p.head_dim_v + 2);
            if (part[0] != -INFINITY) o += part[2 + d] * expf(part[0] - m_all);
        }
        p.out[t * p.out_stride + head * p.head_dim_v + d] = o / l_all;
    }
}

template <typename T>
void launch_typed(gpuStream_t stream, const AttentionParams& p, const T* keys, const T* values, const AttentionSplit& split,
                  int* fault) {
    const size_t shared = static_cast<size_t>(p.head_dim_k + kGroups * p.head_dim_v + 2 * kGroups) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(p.n_tokens), static_cast<unsigned>(p.n_heads), static_cast<unsigned>(split.splits));
    float* partial = split.splits > 1 ? split.partial : nullptr;
    if (p.head_dim_v <= 128)
        attention_kernel<T, 4><<<grid, 32 * kGroups, shared, stream>>>(p, keys, values, split.keys, partial, fault);
    else
        attention_kernel<T, kValuesPerLane><<<grid, 32 * kGroups, shared, stream>>>(p, keys, values, split.keys, partial, fault);
    if (partial) launch_merge_attention_splits(stream, p, split.splits, partial);
}

}  // namespace

gpuError_t launch_merge_attention_splits(gpuStream_t stream, const AttentionParams& p, int64_t splits, const float* partial) {
    const dim3 grid(static_cast<unsigned>(p.n_tokens), static_cast<unsigned>(p.n_heads));
    merge_splits_kernel<<<grid, 128, 0, stream>>>(p, static_cast<int>(splits), partial);
    return gpuGetLastError();
}

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

gpuError_t launch_rope_store_kv(gpuStream_t stream, bool f16, Mat q, Mat k, Mat v, const int32_t* positions,
                                const RopeParams& p, void* keys, void* values, const int32_t* slots, int64_t n_slots,
                                int* fault) {
    if (k.rows == 0) return gpuSuccess;
    const auto grid = static_cast<unsigned>(k.rows);
    if (f16)
        rope_store_kv_kernel<<<grid, 256, 0, stream>>>(q, k, v, positions, p, static_cast<gpuHalf*>(keys),
                                                       static_cast<gpuHalf*>(values), slots, n_slots, fault);
    else
        rope_store_kv_kernel<<<grid, 256, 0, stream>>>(q, k, v, positions, p, static_cast<float*>(keys),
                                                       static_cast<float*>(values), slots, n_slots, fault);
    return gpuGetLastError();
}

AttentionSplit attention_split(int64_t n_tokens, int64_t n_heads, int64_t max_keys) {
    // About 1,024 blocks in all (a decode step of one sequence has only as many (token, head)
    // pairs as heads), splits of at least one tile of keys; at most 64 splits to merge.
    constexpr int64_t kTargetBlocks = 1024, kMinKeys = 32;
    const int64_t pairs = std::max<int64_t>(1, n_tokens * n_heads);
    const int64_t wanted = (kTargetBlocks + pairs - 1) / pairs;
    const int64_t most = std::max<int64_t>(1, max_keys / kMinKeys);
    const int64_t splits = std::clamp<int64_t>(wanted, 1, std::min<int64_t>(most, 64));
    return {.splits = splits, .keys = (max_keys + splits - 1) / splits, .partial = nullptr};
}

gpuError_t launch_attention(gpuStream_t stream, bool f16, const AttentionParams& p, const void* keys, const void* values,
                            const AttentionSplit& split, int* fault) {
    if (p.n_tokens == 0) return gpuSuccess;
    if (f16)
        launch_typed(stream, p, static_cast<const gpuHalf*>(keys), static_cast<const gpuHalf*>(values), split, fault);
    else
        launch_typed(stream, p, static_cast<const float*>(keys), static_cast<const float*>(values), split, fault);
    return gpuGetLastError();
}

}  // namespace rf::gpu
