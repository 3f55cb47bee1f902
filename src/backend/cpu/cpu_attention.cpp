// KV cache storage and attention for the CPU backend. Per layer and KV head, the cache has
// n_blocks blocks of block_size slots; a block's values are rows of head_dim_v elements, one per
// slot, and its keys are transposed: head_dim_k rows of block_size elements, row d holding element
// d of every slot's key, so that attention takes positions in vector lanes (kernels/attention.h).
#include <algorithm>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels/attention.h"
#include "backend/kv_checks.h"
#include "core/huge_pages.h"
#include "quant/float_convert.h"

namespace rf::cpu {

namespace {

size_t round64(size_t n) { return (n + 63) / 64 * 64; }
size_t element_bytes(KvType type) { return type == KvType::F16 ? 2 : 4; }

// One allocation for all layers, on 64-byte boundaries (a vector of positions or of value columns
// is one cache line, never split across two) and on huge pages (attention at depth streams it).
class CpuKvStorage final : public KvStorage {
public:
    static Result<std::unique_ptr<CpuKvStorage>> create(const KvCacheShape& shape) {
        auto kv = std::unique_ptr<CpuKvStorage>(new CpuKvStorage(shape));
        // The cache is zeroed here, so all of it becomes resident at once; a tenth of the free
        // memory is left for everything else (as for the weights' copy).
        const size_t available = available_memory();
        if (available != 0 && kv->bytes_ > available / 10 * 9)
            return make_error("kv cache: {} MiB needed, more than nine tenths of the {} MiB of memory available "
                              "(lower the context size or the parallel sequences, or use an F16 cache)",
                              kv->bytes_ >> 20, available >> 20);
        kv->memory_ = allocate_huge_pages(kv->bytes_);
        if (!kv->memory_) return make_error("kv cache: out of memory allocating {} bytes", kv->bytes_);
        std::memset(kv->memory_.get(), 0, kv->bytes_);
        return kv;
    }
    const KvCacheShape& shape() const override { return shape_; }

    // Where a KV head's keys (values) start in a layer: the layout of AttendJob, values
    // value_slot_bytes() apart.
    const uint8_t* keys(int64_t layer, int64_t kv_head) const { return layer_keys(layer) + head_offset(kv_head, shape_.head_dim_k); }
    const uint8_t* values(int64_t layer, int64_t kv_head) const {
        return layer_values(layer) + head_offset(kv_head, shape_.head_dim_v);
    }
    size_t value_slot_bytes() const { return static_cast<size_t>(shape_.head_dim_v) * elem_; }

    // k and v: one token's rows of all KV heads.
    void store(int64_t layer, int64_t slot, const float* k, const float* v) {
        const int64_t bs = shape_.block_size, dim_k = shape_.head_dim_k, dim_v = shape_.head_dim_v;
        for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
            const size_t key_block = head_offset(h, dim_k) + static_cast<size_t>(slot / bs * dim_k * bs) * elem_;
            for (int64_t d = 0; d < dim_k; ++d)
                save(layer_keys(layer) + key_block + static_cast<size_t>(d * bs + slot % bs) * elem_, k + h * dim_k + d, 1);
            save(layer_values(layer) + head_offset(h, dim_v) + static_cast<size_t>(slot) * value_slot_bytes(), v + h * dim_v, dim_v);
        }
    }

private:
    explicit CpuKvStorage(const KvCacheShape& shape)
        : shape_(shape), elem_(element_bytes(shape.type)), slots_(static_cast<size_t>(shape.n_blocks * shape.block_size)) {
        // Per layer: keys, kKeyPadding, values, each part rounded up to 64 bytes (kv_block_bytes
        // bounds each block's share of this).
        key_bytes_ = round64(slots_ * static_cast<size_t>(shape.n_kv_heads * shape.head_dim_k) * elem_ + kKeyPadding);
        value_bytes_ = round64(slots_ * static_cast<size_t>(shape.n_kv_heads * shape.head_dim_v) * elem_);
        bytes_ = static_cast<size_t>(shape.n_layers) * (key_bytes_ + value_bytes_);
    }
    uint8_t* layer_keys(int64_t layer) const { return memory_.get() + static_cast<size_t>(layer) * (key_bytes_ + value_bytes_); }
    uint8_t* layer_values(int64_t layer) const { return layer_keys(layer) + key_bytes_; }
    size_t head_offset(int64_t kv_head, int64_t dim) const { return static_cast<size_t>(kv_head * dim) * slots_ * elem_; }
    void save(uint8_t* at, const float* x, int64_t n) {
        if (shape_.type == KvType::F32) {
            std::memcpy(at, x, static_cast<size_t>(n) * sizeof(float));
            return;
        }
        for (int64_t i = 0; i < n; ++i) {
            const uint16_t h = quant::f32_to_fp16(x[i]);
            std::memcpy(at + 2 * i, &h, 2);
        }
    }

    KvCacheShape shape_;
    size_t elem_;   // bytes per element
    size_t slots_;  // per layer and head
    size_t key_bytes_ = 0, value_bytes_ = 0, bytes_ = 0;  // per layer (64-byte multiples), in all
    HugePageBytes memory_;
};

}  // namespace

int64_t CpuBackend::kv_block_bytes(const KvCacheShape& s) const {
    // A pool of n blocks takes n times this plus kKeyPadding per layer; exactly so when a block's
    // keys and values of one layer are whole multiples of 64 bytes (block_size 16 and an even
    // n_kv_heads * head_dim), and at most so otherwise.
    const auto slots = static_cast<size_t>(s.block_size), elem = element_bytes(s.type);
    const size_t keys = round64(slots * static_cast<size_t>(s.n_kv_heads * s.head_dim_k) * elem);
    const size_t values = round64(slots * static_cast<size_t>(s.n_kv_heads * s.head_dim_v) * elem);
    return s.n_layers * static_cast<int64_t>(keys + values);
}

Result<std::unique_ptr<KvStorage>> CpuBackend::create_kv_storage(const KvCacheShape& shape) {
    if (shape.n_layers <= 0 || shape.n_kv_heads <= 0 || shape.head_dim_k <= 0 || shape.head_dim_v <= 0 ||
        shape.block_size <= 0 || shape.n_blocks <= 0)
        return make_error("kv cache: invalid shape");
    auto kv = CpuKvStorage::create(shape);
    if (!kv.ok()) return kv.error();
    // Per worker: the scores of one run of heads over the whole context.
    const auto scratch = static_cast<size_t>(kMaxAttendHeads * shape.n_blocks * shape.block_size);
    attention_scratch_.resize(pool_.size());
    for (auto& s : attention_scratch_)
        if (s.size() < scratch) s.resize(scratch);
    return std::unique_ptr<KvStorage>(std::move(*kv));
}

Status CpuBackend::store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v, const BatchLayout& batch) {
    auto& kv = static_cast<CpuKvStorage&>(cache);
    const KvCacheShape& s = kv.shape();
    RF_TRY(check_store_kv(s, layer, k, v, batch));
    const int64_t n_slots = s.n_blocks * s.block_size;
    for (int64_t t = 0; t < batch.n_tokens; ++t)
        if (batch.kv_slots[t] < 0 || batch.kv_slots[t] >= n_slots)
            return make_error("store_kv: slot {} outside the cache of {}", batch.kv_slots[t], n_slots);
    for_rows(k, [&](float* key_row, int64_t t) { kv.store(layer, batch.kv_slots[t], key_row, v.data + t * v.stride); });
    return ok_status();
}

Status CpuBackend::attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& c,
                             const BatchLayout& batch, const Act& out) {
    auto& kv = static_cast<const CpuKvStorage&>(cache);
    const KvCacheShape& s = kv.shape();
    RF_TRY(check_attention(s, layer, q, c, batch, out));
    const int64_t max_context = s.n_blocks * s.block_size;
    for (int64_t t = 0; t < batch.n_tokens; ++t)
        if (batch.positions[t] < 0 || batch.positions[t] >= max_context ||
            batch.positions[t] / s.block_size >= batch.max_blocks_per_seq)
            return make_error("attention: position {} is beyond the cache", batch.positions[t]);

    // Jobs are (token, KV head, run of that head's query heads); runs are shortened only where
    // the batch would leave workers idle (one token has n_kv_heads jobs at full length).
    const int64_t group = c.n_heads / c.n_kv_heads;
    int64_t run = std::min<int64_t>(group, kMaxAttendHeads);
    const auto runs_of = [&](int64_t length) { return (group + length - 1) / length; };
    while (run > 1 && batch.n_tokens * c.n_kv_heads * runs_of(run) < 2 * pool_.size()) run = (run + 1) / 2;
    const int64_t runs = runs_of(run);
    pool_.parallel_for(batch.n_tokens * c.n_kv_heads * runs, [&](int64_t begin, int64_t end, int worker) {
        for (int64_t job = begin; job < end; ++job) {
            // Tokens vary fastest: a thread's consecutive jobs read the same keys and values.
            const int64_t t = job % batch.n_tokens, kv_head = job / batch.n_tokens / runs;
            const int64_t head = kv_head * group + job / batch.n_tokens % runs * run;
            const int64_t pos = batch.positions[t];
            AttendJob a;
            a.q = q.data + t * q.stride + head * c.head_dim_k;
            a.q_stride = c.head_dim_k;
            a.n_heads = static_cast<int>(std::min(run, (kv_head + 1) * group - head));
            a.keys = kv.keys(layer, kv_head);
            a.values = kv.values(layer, kv_head);
            a.v_stride = kv.value_slot_bytes();
            a.f16 = s.type == KvType::F16;
            a.block_table = batch.block_tables + batch.seq_slots[t] * batch.max_blocks_per_seq;
            a.block_size = s.block_size;
            a.first = c.sliding_window > 0 ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
            a.last = pos;
            a.head_dim_k = c.head_dim_k;
            a.head_dim_v = c.head_dim_v;
            a.scale = c.scale;
            a.softcap = c.softcap;
            a.out = out.data + t * out.stride + head * c.head_dim_v;
            a.out_stride = c.head_dim_v;
            a.scores = attention_scratch_[worker].data();
            attend(isa_, a);
        }
    });
    return ok_status();
}

}  // namespace rf::cpu
