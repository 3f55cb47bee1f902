#include "engine/engine.h"

#include <algorithm>

namespace rf::engine {

Engine::Engine(const model::Model& model, Backend& backend, EngineOptions options, model::ForwardState state,
               KvCache cache)
    : model_(&model), backend_(&backend), options_(options), state_(std::move(state)), cache_(std::move(cache)) {
    state_.set_kv(cache_.storage());
}

Result<Engine> Engine::create(const model::Model& model, Backend& backend, EngineOptions o) {
    const auto& hp = model.hparams();
    if (o.n_ctx == 0) o.n_ctx = hp.n_ctx_train;
    if (o.n_ctx < 0 || o.n_ctx > (int64_t{1} << 24)) return make_error("context size {} is not usable", o.n_ctx);
    if (o.n_batch <= 0 || o.n_batch > 65536) return make_error("batch size {} is not usable", o.n_batch);
    if (o.max_sequences <= 0 || o.block_size <= 0 || o.kv_memory_bytes < 0)
        return make_error("sequences ({}), block size ({}) and KV memory ({}) must be positive", o.max_sequences,
                          o.block_size, o.kv_memory_bytes);
    o.n_batch = std::min(o.n_batch, o.n_ctx * o.max_sequences);
    int64_t n_blocks = 0;
    if (o.kv_memory_bytes > 0) {
        const int64_t per_block = KvCache::block_bytes(hp, o.block_size, o.kv_type);
        n_blocks = per_block > 0 ? o.kv_memory_bytes / per_block : 0;
        if (n_blocks < 1)
            return make_error("a KV memory of {} bytes holds no block of {} bytes", o.kv_memory_bytes, per_block);
    }
    RF_ASSIGN_OR_RETURN(KvCache cache, KvCache::create(backend, hp,
                                                       {.n_ctx = o.n_ctx,
                                                        .max_sequences = o.max_sequences,
                                                        .block_size = o.block_size,
                                                        .type = o.kv_type,
                                                        .n_blocks = n_blocks}));
    RF_ASSIGN_OR_RETURN(model::ForwardState state,
                        model::ForwardState::create(backend, hp, o.n_batch, static_cast<int64_t>(cache.block_tables().size())));
    Engine e(model, backend, o, std::move(state), std::move(cache));
    for (auto* v : {&e.tokens_, &e.positions_, &e.seq_rows_, &e.slots_, &e.logit_rows_})
        v->reserve(static_cast<size_t>(o.n_batch));
    e.feed_batch_.reserve(static_cast<size_t>(o.n_batch));
    return e;
}

Status Engine::step(std::span<const BatchToken> batch, std::vector<float>& logits) {
    if (batch.empty() || static_cast<int64_t>(batch.size()) > options_.n_batch)
        return make_error("a step takes 1 to {} tokens, not {}", options_.n_batch, batch.size());
    tokens_.clear(); positions_.clear(); seq_rows_.clear(); slots_.clear(); logit_rows_.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
        const BatchToken& t = batch[i];
        if (t.pos < 0) return make_error("negative position {}", t.pos);
        RF_TRY(cache_.reserve(t.seq, int64_t{t.pos} + 1));
        if (!cache_.writable(t.seq, t.pos))
            return make_error("sequence {} position {} lies in a shared KV block", t.seq, t.pos);
        tokens_.push_back(t.token);
        positions_.push_back(t.pos);
        seq_rows_.push_back(t.seq);
        slots_.push_back(cache_.slot(t.seq, t.pos));
        if (t.want_logits) logit_rows_.push_back(static_cast<int32_t>(i));
    }
    RF_TRY(state_.set_batch({.tokens = tokens_,
                             .positions = positions_,
                             .seq_rows = seq_rows_,
                             .kv_slots = slots_,
                             .block_tables = cache_.block_tables(),
                             .max_blocks_per_seq = cache_.max_blocks_per_seq(),
                             .logit_rows = logit_rows_}));
    RF_TRY(model_->forward(state_));
    const size_t n = logit_rows_.size() * static_cast<size_t>(n_vocab());
    logits.resize(n);
    return backend_->download(logits.data(), state_.logits().data, n);
}

Status Engine::feed(int32_t seq, std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
    if (tokens.empty()) return make_error("nothing to feed");
    if (seq < 0 || seq >= cache_.max_sequences()) return make_error("no sequence {}", seq);
    const int64_t start = cache_.length(seq);
    if (start + static_cast<int64_t>(tokens.size()) > cache_.n_ctx())
        return make_error("{} tokens do not fit the context: {} of {} positions are used", tokens.size(), start,
                          cache_.n_ctx());
    logits.clear();
    std::vector<BatchToken>& batch = feed_batch_;
    for (size_t begin = 0; begin < tokens.size(); begin += static_cast<size_t>(options_.n_batch)) {
        const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(options_.n_batch));
        batch.clear();
        for (size_t i = begin; i < end; ++i)
            batch.push_back({tokens[i], seq, static_cast<int32_t>(start + static_cast<int64_t>(i)),
                             all_logits || i + 1 == tokens.size()});
        RF_TRY(step(batch, feed_logits_));
        logits.insert(logits.end(), feed_logits_.begin(), feed_logits_.end());
    }
    return ok_status();
}

}  // namespace rf::engine
