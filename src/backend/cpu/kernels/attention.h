// Attention of one query token over the visible positions of its sequence, for a run of query
// heads that share one KV head: scaled (and optionally soft-capped) dot products with the keys, a
// softmax, and the weighted sum of the values. Keys and values are read from the paged cache
// through the sequence's block table, as F32 or F16.
//
// Each key and value is read once for the whole run of heads (grouped-query attention shares
// them). A head's arithmetic does not depend on the other heads of its run nor on the
// batch, so a token's result is the same alone or in any batch, whatever the runs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backend/cpu/kernels/isa.h"

namespace rf::cpu {

// Most query heads one call takes (their accumulators stay in registers).
inline constexpr int kMaxAttendHeads = 8;
// Bytes the key memory must extend past its last block (vector loads may read that far).
inline constexpr size_t kKeyPadding = 64;

struct AttendJob {
    const float* q = nullptr;  // n_heads rows of head_dim_k floats, q_stride floats apart
    int64_t q_stride = 0;
    int n_heads = 0;  // 1..kMaxAttendHeads
    // The KV head's keys, each block transposed: element d of the key in slot s (block b = s /
    // block_size, o = s % block_size) is element (b * head_dim_k + d) * block_size + o, so the
    // same element of a block's positions is contiguous (the positions go in vector lanes). The
    // memory must extend a vector's width past the last block.
    const uint8_t* keys = nullptr;
    // The KV head's value of slot s starts at values + s * v_stride bytes.
    const uint8_t* values = nullptr;
    size_t v_stride = 0;
    bool f16 = false;  // cache elements are F16 (else F32)
    // Position p of the sequence is in slot block_table[p / block_size] * block_size + p % block_size.
    const int32_t* block_table = nullptr;
    int64_t block_size = 0;
    int64_t first = 0, last = 0;  // the visible positions, inclusive
    int64_t head_dim_k = 0, head_dim_v = 0;
    float scale = 1.0f;    // applied to q.k
    float softcap = 0.0f;  // scores become softcap * tanh(score / softcap) when > 0
    float* out = nullptr;  // n_heads rows of head_dim_v floats, out_stride floats apart
    int64_t out_stride = 0;
    float* scores = nullptr;  // scratch of n_heads * (last - first + 1) floats
};

// Calls fn(i, slot, count) for each run of visible positions in consecutive cache slots: positions
// first + i .. first + i + count - 1 are in slots slot .. slot + count - 1 (one run per block).
template <typename Fn>
[[gnu::always_inline]] inline void for_each_slot_run(const AttendJob& job, Fn&& fn) {
    for (int64_t p = job.first; p <= job.last;) {
        const int64_t in_block = p % job.block_size;
        const int64_t count = std::min(job.block_size - in_block, job.last - p + 1);
        fn(p - job.first, static_cast<int64_t>(job.block_table[p / job.block_size]) * job.block_size + in_block, count);
        p += count;
    }
}

// Runs `job` with the given variant; the CPU must support it.
void attend(Isa isa, const AttendJob& job);

namespace detail {
void attend_scalar(const AttendJob& job);
// Where the build has no x86 kernels these run attend_scalar.
void attend_avx2(const AttendJob& job);
void attend_avx512(const AttendJob& job);
}  // namespace detail

}  // namespace rf::cpu
