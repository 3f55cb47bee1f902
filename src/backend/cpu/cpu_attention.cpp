// KV cache storage and attention for the CPU backend. Per layer, keys and values are arrays of
// n_blocks * block_size slots; a slot holds all KV heads of one token.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "quant/float_convert.h"

namespace rf::cpu {

namespace {

class CpuKvStorage final : public KvStorage {
public:
    explicit CpuKvStorage(const KvCacheShape& shape) : shape_(shape) {
        const size_t slots = static_cast<size_t>(shape.n_blocks * shape.block_size);
        const size_t elem = shape.type == KvType::F16 ? 2 : 4;
        k_stride_ = static_cast<size_t>(shape.n_kv_heads * shape.head_dim_k);
        v_stride_ = static_cast<size_t>(shape.n_kv_heads * shape.head_dim_v);
        keys_.resize(shape.n_layers);
        values_.resize(shape.n_layers);
        for (auto& k : keys_) k.assign(slots * k_stride_ * elem, 0);
        for (auto& v : values_) v.assign(slots * v_stride_ * elem, 0);
    }
    const KvCacheShape& shape() const override { return shape_; }

    // The keys (values) of all KV heads of `slot`, converted to f32 in `scratch` when stored as f16.
    const float* keys(int64_t layer, int64_t slot, float* scratch) const {
        return row(keys_[layer], slot * k_stride_, k_stride_, scratch);
    }
    const float* values(int64_t layer, int64_t slot, float* scratch) const {
        return row(values_[layer], slot * v_stride_, v_stride_, scratch);
    }
    void store(int64_t layer, int64_t slot, const float* k, const float* v) {
        save(keys_[layer], slot * k_stride_, k, k_stride_);
        save(values_[layer], slot * v_stride_, v, v_stride_);
    }
    size_t row_floats() const { return std::max(k_stride_, v_stride_); }

private:
    const float* row(const std::vector<uint8_t>& data, size_t first, size_t n, float* scratch) const {
        if (shape_.type == KvType::F32) return reinterpret_cast<const float*>(data.data()) + first;
        const uint16_t* src = reinterpret_cast<const uint16_t*>(data.data()) + first;
        for (size_t i = 0; i < n; ++i) scratch[i] = quant::fp16_to_f32(src[i]);
        return scratch;
    }
    void save(std::vector<uint8_t>& data, size_t first, const float* x, size_t n) {
        if (shape_.type == KvType::F32) {
            std::copy_n(x, n, reinterpret_cast<float*>(data.data()) + first);
            return;
        }
        uint16_t* dst = reinterpret_cast<uint16_t*>(data.data()) + first;
        for (size_t i = 0; i < n; ++i) dst[i] = quant::f32_to_fp16(x[i]);
    }

    KvCacheShape shape_;
    size_t k_stride_ = 0, v_stride_ = 0;
    std::vector<std::vector<uint8_t>> keys_, values_;
};

int64_t slot_of(const BatchLayout& batch, int64_t seq_row, int64_t position, int64_t block_size) {
    const int32_t block = batch.block_tables[seq_row * batch.max_blocks_per_seq + position / block_size];
    return static_cast<int64_t>(block) * block_size + position % block_size;
}

}  // namespace

Result<std::unique_ptr<KvStorage>> CpuBackend::create_kv_storage(const KvCacheShape& shape) {
    if (shape.n_layers <= 0 || shape.n_kv_heads <= 0 || shape.head_dim_k <= 0 || shape.head_dim_v <= 0 ||
        shape.block_size <= 0 || shape.n_blocks <= 0)
        return make_error("kv cache: invalid shape");
    const int64_t max_context = shape.n_blocks * shape.block_size;
    const int64_t row_floats = shape.n_kv_heads * std::max(shape.head_dim_k, shape.head_dim_v);
    attention_scratch_.resize(pool_.size());
    for (auto& s : attention_scratch_)
        if (s.size() < static_cast<size_t>(max_context + shape.head_dim_v + row_floats))
            s.resize(static_cast<size_t>(max_context + shape.head_dim_v + row_floats));
    return std::unique_ptr<KvStorage>(std::make_unique<CpuKvStorage>(shape));
}

Status CpuBackend::store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v, const BatchLayout& batch) {
    auto& kv = static_cast<CpuKvStorage&>(cache);
    const KvCacheShape& s = kv.shape();
    if (layer < 0 || layer >= s.n_layers) return make_error("store_kv: layer {} out of range", layer);
    if (k.cols != s.n_kv_heads * s.head_dim_k || v.cols != s.n_kv_heads * s.head_dim_v || k.rows != batch.n_tokens ||
        v.rows != batch.n_tokens)
        return make_error("store_kv: key/value rows do not match the cache");
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
    if (c.n_kv_heads != s.n_kv_heads || c.head_dim_k != s.head_dim_k || c.head_dim_v != s.head_dim_v ||
        c.n_heads % c.n_kv_heads != 0 || q.cols != c.n_heads * c.head_dim_k || out.cols != c.n_heads * c.head_dim_v ||
        q.rows != batch.n_tokens || out.rows != batch.n_tokens)
        return make_error("attention: shapes do not match the cache");
    const int64_t max_context = s.n_blocks * s.block_size;
    for (int64_t t = 0; t < batch.n_tokens; ++t)
        if (batch.positions[t] < 0 || batch.positions[t] >= max_context ||
            batch.positions[t] / s.block_size >= batch.max_blocks_per_seq)
            return make_error("attention: position {} is beyond the cache", batch.positions[t]);

    const int64_t group = c.n_heads / c.n_kv_heads;
    pool_.parallel_for(batch.n_tokens * c.n_heads, [&](int64_t begin, int64_t end, int worker) {
        // Per worker: scores over the visible keys, the output accumulator, one converted cache row.
        float* scores = attention_scratch_[worker].data();
        float* acc = scores + max_context;
        float* converted = acc + c.head_dim_v;
        for (int64_t job = begin; job < end; ++job) {
            const int64_t t = job / c.n_heads, h = job % c.n_heads, kvh = h / group;
            const float* qh = q.data + t * q.stride + h * c.head_dim_k;
            const int64_t pos = batch.positions[t];
            const int64_t first = c.sliding_window > 0 ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
            float max_score = -std::numeric_limits<float>::infinity();
            for (int64_t p = first; p <= pos; ++p) {
                const int64_t slot = slot_of(batch, batch.seq_slots[t], p, s.block_size);
                const float* key = kv.keys(layer, slot, converted) + kvh * c.head_dim_k;
                float score = dot_f32(qh, key, c.head_dim_k) * c.scale;
                if (c.softcap > 0.0f) score = c.softcap * std::tanh(score / c.softcap);
                scores[p - first] = score;
                max_score = std::max(max_score, score);
            }
            double sum = 0.0;
            for (int64_t p = first; p <= pos; ++p) sum += scores[p - first] = std::exp(scores[p - first] - max_score);
            const float inv = static_cast<float>(1.0 / sum);
            std::fill(acc, acc + c.head_dim_v, 0.0f);
            for (int64_t p = first; p <= pos; ++p) {
                const int64_t slot = slot_of(batch, batch.seq_slots[t], p, s.block_size);
                const float* value = kv.values(layer, slot, converted) + kvh * c.head_dim_v;
                const float w = scores[p - first] * inv;
                for (int64_t i = 0; i < c.head_dim_v; ++i) acc[i] += w * value[i];
            }
            std::copy(acc, acc + c.head_dim_v, out.data + t * out.stride + h * c.head_dim_v);
        }
    });
    return ok_status();
}

}  // namespace rf::cpu
