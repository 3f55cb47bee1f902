// Attention for the few query tokens of a decode step (one per sequence). The general kernel
// (cuda_attention.cu) gives each query head its own block and walks the keys a few loads at a
// time: a chain of memory latencies per tile, and grouped-query heads read their shared keys once
// each. Here one block takes one (token, KV head, split of the keys) for all the query heads that
// share the KV head, in tiles of keys:
//  1. the tile's key and value rows are copied into shared memory with every copy in flight at
//     once (cp.async; rows of keys masked out are zeroed, never read);
//  2. one thread per (key, head) scores the key against the head's query;
//  3. a group of 32 lanes per head updates the head's running maximum and sum (online softmax)
//     and turns the scores into weights;
//  4. each thread accumulates its own outputs (head, value dimension) over the tile's keys.
// The splits' partial results are merged as the general kernel's are. Cache layout as there.
#include <algorithm>

#include "backend/cuda/kernels.h"

namespace rf::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxOutputs = 8;  // (head, dimension) outputs a thread keeps
constexpr size_t kDefaultSharedBytes = 48 * 1024;

template <typename T> __device__ float to_float(T v);
template <> __device__ float to_float<float>(float v) { return v; }
template <> __device__ float to_float<gpuHalf>(gpuHalf v) { return __half2float(v); }

// Dot product of 8 consecutive cached values (one 16-byte word of f16, two of f32) with q.
__device__ float dot8(const uint4* w, const float* q, gpuHalf) {
    const uint4 u = *w;
    const uint32_t words[4] = {u.x, u.y, u.z, u.w};
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&words[k]));
        sum += f.x * q[2 * k] + f.y * q[2 * k + 1];
    }
    return sum;
}
__device__ float dot8(const uint4* w, const float* q, float) {
    const float4 a = *reinterpret_cast<const float4*>(w), b = *reinterpret_cast<const float4*>(w + 1);
    return a.x * q[0] + a.y * q[1] + a.z * q[2] + a.w * q[3] + b.x * q[4] + b.y * q[5] + b.z * q[6] + b.w * q[7];
}

// Shared memory of a block, carved from one dynamic allocation (sizes in DecodeShape).
struct DecodeShape {
    int group;         // query heads per KV head
    int tile;          // keys per tile
    int key_words;     // 16-byte words per cached key row (+1 of padding in shared memory)
    int value_words;   // per cached value row
    int outputs;       // outputs per thread
    size_t shared_bytes;
};

template <typename T>
DecodeShape decode_shape(const AttentionParams& p, int tile) {
    DecodeShape s{};
    s.group = static_cast<int>(p.n_heads / p.n_kv_heads);
    s.tile = tile;
    s.key_words = static_cast<int>(p.head_dim_k * sizeof(T) / 16);
    s.value_words = static_cast<int>(p.head_dim_v * sizeof(T) / 16);
    s.outputs = static_cast<int>((s.group * p.head_dim_v + kThreads - 1) / kThreads);
    s.shared_bytes = static_cast<size_t>(tile) * (s.key_words + 1 + s.value_words) * 16 +
                     (static_cast<size_t>(s.group) * (p.head_dim_k + tile + 3)) * sizeof(float);
    return s;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) decode_attention_kernel(AttentionParams p, DecodeShape shape, const T* keys,
                                                                    const T* values, int64_t split_keys, float* partial,
                                                                    int* fault, L2Prefetch prefetch) {
    gpu_kernel_prologue();
    prefetch_to_l2(prefetch);
    extern __shared__ uint4 shared_words[];
    const int group = shape.group, tile = shape.tile;
    const int key_stride = shape.key_words + 1;  // 16-byte words; the pad spreads a warp's rows over the banks
    uint4* k_tile = shared_words;                                     // tile x key_stride words
    uint4* v_tile = k_tile + tile * key_stride;                       // tile x value_words words
    float* q = reinterpret_cast<float*>(v_tile + tile * shape.value_words);  // group x head_dim_k
    float* weights = q + group * p.head_dim_k;                        // group x tile
    float* run_max = weights + group * tile;                          // group
    float* run_sum = run_max + group;                                 // group
    float* rescale = run_sum + group;                                 // group

    const int64_t t = blockIdx.y, kv_head = blockIdx.x, first_head = kv_head * group;
    KeyRange range;
    if (!key_range(p, t, split_keys, fault, range)) return;
    const int32_t* table = range.table;
    const int64_t first = range.first, last = range.last;

    for (int64_t i = threadIdx.x; i < group * p.head_dim_k; i += kThreads)
        q[i] = p.q[t * p.q_stride + first_head * p.head_dim_k + i];
    if (threadIdx.x < group) {
        run_max[threadIdx.x] = -INFINITY;
        run_sum[threadIdx.x] = 0.0f;
    }
    __syncthreads();  // read by every thread at the end, also where no tile of keys follows
    float acc[kMaxOutputs];
#pragma unroll
    for (int i = 0; i < kMaxOutputs; ++i) acc[i] = 0.0f;

    for (int64_t tile_first = first; tile_first <= last; tile_first += tile) {
        const int n = static_cast<int>(min(int64_t{tile}, last - tile_first + 1));
        // 1. The tile's rows into shared memory; a key outside the cache is a fault and a zero row.
        const int row_words = shape.key_words + shape.value_words;
        for (int i = threadIdx.x; i < tile * row_words; i += kThreads) {
            const int key = i / row_words, w = i % row_words;
            const bool is_key = w < shape.key_words;
            uint4* dst = is_key ? k_tile + key * key_stride + w : v_tile + key * shape.value_words + (w - shape.key_words);
            int64_t slot = -1;
            if (key < n) {
                const int64_t position = tile_first + key, logical = position / p.block_size;
                const int32_t block = logical < p.max_blocks_per_seq ? table[logical] : -1;
                if (block >= 0 && block < p.n_blocks) slot = block * p.block_size + position % p.block_size;
                else if (w == 0) atomicCAS(fault, kFaultNone, kFaultCacheSlot);
            }
            if (slot < 0) {
                *dst = make_uint4(0, 0, 0, 0);
                continue;
            }
            const T* row = is_key ? keys + (slot * p.n_kv_heads + kv_head) * p.head_dim_k
                                  : values + (slot * p.n_kv_heads + kv_head) * p.head_dim_v;
            gpu_copy_async16(dst, reinterpret_cast<const uint4*>(row) + (is_key ? w : w - shape.key_words));
        }
        gpu_copy_wait();
        __syncthreads();

        // 2. Scores: thread (key, head), neighbouring lanes on neighbouring keys.
        for (int i = threadIdx.x; i < group * tile; i += kThreads) {
            const int key = i % tile, g = i / tile;
            float s = -INFINITY;
            if (key < n) {
                const uint4* row = k_tile + key * key_stride;
                const float* qg = q + g * p.head_dim_k;
                constexpr int kWordsPer8 = static_cast<int>(sizeof(T)) / 2;  // 16-byte words per 8 values
                float dot = 0.0f;
                for (int c = 0; c < p.head_dim_k / 8; ++c) dot += dot8(row + c * kWordsPer8, qg + 8 * c, T{});
                s = dot * p.scale;
                if (p.softcap > 0.0f) s = p.softcap * tanhf(s / p.softcap);
            }
            weights[g * tile + key] = s;
        }
        __syncthreads();

        // 3. Online softmax: a group of 32 lanes per head.
        const int lane = threadIdx.x % 32;
        for (int g = threadIdx.x / 32; g < group; g += kThreads / 32) {
            float m = -INFINITY;
            for (int key = lane; key < n; key += 32) m = fmaxf(m, weights[g * tile + key]);
            const float m_old = run_max[g], m_new = fmaxf(m_old, group_max(m));
            float sum = 0.0f;
            for (int key = lane; key < tile; key += 32) {
                const float s = weights[g * tile + key];
                const float e = key < n && s != -INFINITY ? expf(s - m_new) : 0.0f;
                weights[g * tile + key] = e;
                sum += e;
            }
            sum = group_sum(sum);
            gpu_syncwarp();
            if (lane == 0) {
                const float c = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
                rescale[g] = c;
                run_sum[g] = run_sum[g] * c + sum;
                run_max[g] = m_new;
            }
        }
        __syncthreads();

        // 4. Each thread's outputs (head, dimension) over the tile's weighted values.
        const T* v_values = reinterpret_cast<const T*>(v_tile);
        const int row_values = shape.value_words * 16 / static_cast<int>(sizeof(T));
#pragma unroll
        for (int i = 0; i < kMaxOutputs; ++i) {
            const int o = threadIdx.x + kThreads * i;
            if (i >= shape.outputs || o >= group * p.head_dim_v) break;
            const int g = o / static_cast<int>(p.head_dim_v), d = o % static_cast<int>(p.head_dim_v);
            float a = acc[i] * rescale[g];
            for (int key = 0; key < n; ++key) a += weights[g * tile + key] * to_float(v_values[key * row_values + d]);
            acc[i] = a;
        }
        __syncthreads();  // the tile's memory is refilled next
    }

#pragma unroll
    for (int i = 0; i < kMaxOutputs; ++i) {
        const int o = threadIdx.x + kThreads * i;
        if (i >= shape.outputs || o >= group * p.head_dim_v) break;
        const int g = o / static_cast<int>(p.head_dim_v), d = o % static_cast<int>(p.head_dim_v);
        const int64_t head = first_head + g;
        if (partial) {
            float* dst = partial + ((t * p.n_heads + head) * gridDim.z + blockIdx.z) * (p.head_dim_v + 2);
            if (d == 0) {
                dst[0] = run_max[g];
                dst[1] = run_sum[g];
            }
            dst[2 + d] = acc[i];
        } else {
            p.out[t * p.out_stride + head * p.head_dim_v + d] = acc[i] / run_sum[g];
        }
    }
}

// The largest tile of 64, 32 or 16 keys whose shared memory fits the default 48 KiB.
template <typename T>
DecodeShape pick_shape(const AttentionParams& p) {
    for (int tile : {64, 32}) {
        const DecodeShape s = decode_shape<T>(p, tile);
        if (s.shared_bytes <= kDefaultSharedBytes) return s;
    }
    return decode_shape<T>(p, 16);
}

DecodeShape pick_shape(bool f16, const AttentionParams& p) {
    return f16 ? pick_shape<gpuHalf>(p) : pick_shape<float>(p);
}

}  // namespace

bool decode_attention_supports(bool f16, const AttentionParams& p, const void* keys, const void* values) {
    if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.head_dim_k % 8 != 0 || p.head_dim_v % 8 != 0) return false;
    const int64_t group = p.n_heads / p.n_kv_heads;
    const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
    return group <= kDecodeMaxGroup && group * p.head_dim_v <= int64_t{kMaxOutputs} * kThreads && aligned(keys) &&
           aligned(values) && pick_shape(f16, p).shared_bytes <= kDefaultSharedBytes;
}

AttentionSplit decode_attention_split(bool f16, const AttentionParams& p, int64_t max_keys) {
    // Up to about 1,024 blocks (several per SM of a large card, so that one block's tile loads
    // overlap another's arithmetic), splits of whole tiles, at most 64 splits to merge.
    constexpr int64_t kTargetBlocks = 1024;
    const int64_t tile = pick_shape(f16, p).tile;
    const int64_t tiles = std::max<int64_t>(1, (max_keys + tile - 1) / tile);
    const int64_t pairs = std::max<int64_t>(1, p.n_tokens * p.n_kv_heads);
    const int64_t wanted = std::clamp<int64_t>((kTargetBlocks + pairs - 1) / pairs, 1, std::min(tiles, kMaxAttentionSplits));
    const int64_t keys = (tiles + wanted - 1) / wanted * tile;
    return {.splits = std::max<int64_t>(1, (max_keys + keys - 1) / keys), .keys = keys, .partial = nullptr};
}

gpuError_t launch_decode_attention(gpuStream_t stream, bool f16, const AttentionParams& p, const void* keys,
                                   const void* values, const AttentionSplit& split, int* fault,
                                   const L2Prefetch& prefetch) {
    if (p.n_tokens == 0) return gpuSuccess;
    const DecodeShape shape = pick_shape(f16, p);
    const dim3 grid(static_cast<unsigned>(p.n_kv_heads), static_cast<unsigned>(p.n_tokens), static_cast<unsigned>(split.splits));
    float* partial = split.splits > 1 ? split.partial : nullptr;
    if (f16)
        gpu_launch(decode_attention_kernel<gpuHalf>, grid, kThreads, shape.shared_bytes, stream, p, shape,
                   static_cast<const gpuHalf*>(keys), static_cast<const gpuHalf*>(values), split.keys, partial, fault,
                   prefetch);
    else
        gpu_launch(decode_attention_kernel<float>, grid, kThreads, shape.shared_bytes, stream, p, shape,
                   static_cast<const float*>(keys), static_cast<const float*>(values), split.keys, partial, fault,
                   prefetch);
    if (partial) return launch_merge_attention_splits(stream, p, split.splits, partial);
    return gpuGetLastError();
}

}  // namespace rf::gpu
