#include "engine/kv_cache.h"

namespace rf::engine {

Result<KvCache> KvCache::create(Backend& backend, const model::HParams& hp, const KvCacheOptions& o) {
    if (o.n_ctx <= 0 || o.block_size <= 0 || o.max_sequences <= 0)
        return make_error("kv cache: context {}, block size {} and sequences {} must be positive", o.n_ctx,
                          o.block_size, o.max_sequences);
    if (o.n_ctx > (int64_t{1} << 24)) return make_error("kv cache: context of {} tokens is too large", o.n_ctx);
    KvCache c;
    c.options_ = o;
    c.max_blocks_per_seq_ = (o.n_ctx + o.block_size - 1) / o.block_size;
    const int64_t n_blocks = c.max_blocks_per_seq_ * o.max_sequences;
    const KvCacheShape shape{.n_layers = hp.n_layer,
                             .n_kv_heads = hp.n_head_kv,
                             .head_dim_k = hp.head_dim_k,
                             .head_dim_v = hp.head_dim_v,
                             .block_size = o.block_size,
                             .n_blocks = n_blocks,
                             .type = o.type};
    RF_ASSIGN_OR_RETURN(c.storage_, backend.create_kv_storage(shape));
    c.tables_.assign(static_cast<size_t>(n_blocks), -1);
    c.lengths_.assign(static_cast<size_t>(o.max_sequences), 0);
    for (int64_t b = n_blocks - 1; b >= 0; --b) c.free_.push_back(static_cast<int32_t>(b));
    return c;
}

Status KvCache::check_seq(int32_t seq) const {
    if (seq < 0 || seq >= options_.max_sequences) return make_error("kv cache: no sequence {}", seq);
    return ok_status();
}

Status KvCache::reserve(int32_t seq, int64_t n) {
    RF_TRY(check_seq(seq));
    if (n > options_.n_ctx) return make_error("context is full: {} positions requested, the context holds {}", n, options_.n_ctx);
    const int64_t needed = (n + options_.block_size - 1) / options_.block_size;
    int32_t* table = tables_.data() + seq * max_blocks_per_seq_;
    for (int64_t i = 0; i < needed; ++i) {
        if (table[i] >= 0) continue;
        if (free_.empty()) return make_error("kv cache: out of blocks");
        table[i] = free_.back();
        free_.pop_back();
    }
    if (n > lengths_[seq]) lengths_[seq] = n;
    return ok_status();
}

void KvCache::truncate(int32_t seq, int64_t n) {
    if (!check_seq(seq).ok() || n < 0) return;
    const int64_t keep = (n + options_.block_size - 1) / options_.block_size;
    int32_t* table = tables_.data() + seq * max_blocks_per_seq_;
    for (int64_t i = keep; i < max_blocks_per_seq_; ++i) {
        if (table[i] < 0) continue;
        free_.push_back(table[i]);
        table[i] = -1;
    }
    if (n < lengths_[seq]) lengths_[seq] = n;
}

int32_t KvCache::slot(int32_t seq, int64_t pos) const {
    const int32_t block = tables_[seq * max_blocks_per_seq_ + pos / options_.block_size];
    return static_cast<int32_t>(block * options_.block_size + pos % options_.block_size);
}

}  // namespace rf::engine
