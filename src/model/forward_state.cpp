#include "model/forward_state.h"

#include <algorithm>
#include <initializer_list>

namespace rf::model {

Result<ForwardState> ForwardState::create(Backend& backend, const HParams& hp, int64_t max_tokens,
                                          int64_t max_table_entries) {
    if (max_tokens <= 0 || max_table_entries <= 0) return make_error("forward state: empty batch size");
    ForwardState s;
    s.backend_ = &backend;
    s.hp_ = hp;
    s.max_tokens_ = max_tokens;
    s.max_table_entries_ = max_table_entries;
    const int64_t k = std::max<int64_t>(1, hp.n_expert_used);
    const int64_t q_width = hp.n_head * std::max(hp.head_dim_k, hp.head_dim_v);
    const int64_t qkv_width = hp.n_head * hp.head_dim_k + hp.n_head_kv * (hp.head_dim_k + hp.head_dim_v);
    // Scratch rows: a token's widest intermediate (fused QKV, fused gate+up, an expert's hidden
    // state for each of its k experts, the router logits).
    const int64_t widest = std::max({qkv_width, q_width, 2 * hp.n_ff * k, hp.n_embd * k, hp.n_expert, hp.n_embd});
    s.scratch_floats_ = widest * max_tokens;

    auto ints = [&](int64_t n) { return backend.allocate(static_cast<size_t>(n) * sizeof(int32_t)); };
    auto floats = [&](int64_t n) { return backend.allocate(static_cast<size_t>(n) * sizeof(float)); };
    RF_ASSIGN_OR_RETURN(s.tokens_, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(s.positions_, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(s.seq_rows_, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(s.kv_slots_, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(s.logit_rows_, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(s.block_tables_, ints(max_table_entries));
    RF_ASSIGN_OR_RETURN(s.residual_, floats(hp.n_embd * max_tokens));
    RF_ASSIGN_OR_RETURN(s.normed_, floats(hp.n_embd * max_tokens));
    RF_ASSIGN_OR_RETURN(s.block_out_, floats(hp.n_embd * max_tokens));
    for (auto& b : s.scratch_) {
        RF_ASSIGN_OR_RETURN(b, floats(s.scratch_floats_));
    }
    RF_ASSIGN_OR_RETURN(s.expert_ids_, ints(k * max_tokens));
    RF_ASSIGN_OR_RETURN(s.expert_weights_, floats(k * max_tokens));
    RF_ASSIGN_OR_RETURN(s.logit_inputs_, floats(hp.n_embd * max_tokens));
    RF_ASSIGN_OR_RETURN(s.logits_, floats(hp.n_vocab * max_tokens));
    return s;
}

size_t ForwardState::bytes() const {
    size_t total = 0;
    for (const DeviceBuffer* b : {&tokens_, &positions_, &seq_rows_, &kv_slots_, &block_tables_, &logit_rows_,
                                  &residual_, &normed_, &block_out_, &expert_ids_, &expert_weights_, &logit_inputs_,
                                  &logits_})
        total += b->size_bytes();
    for (const DeviceBuffer& b : scratch_) total += b.size_bytes();
    return total;
}

Result<Act> ForwardState::scratch(int slot, int64_t cols, int64_t rows) const {
    if (rows < 0) rows = n_tokens_;
    if (slot < 0 || slot >= kScratch || cols * rows > scratch_floats_)
        return make_error("forward state: scratch slot {} cannot hold {}x{}", slot, rows, cols);
    return Act{scratch_[slot].f32(), rows, cols, cols};
}

Status ForwardState::set_batch(const StepBatch& b) {
    const auto n = static_cast<int64_t>(b.tokens.size());
    if (n == 0 || n > max_tokens_) return make_error("batch of {} tokens (1..{} allowed)", n, max_tokens_);
    if (static_cast<int64_t>(b.positions.size()) != n || static_cast<int64_t>(b.seq_rows.size()) != n ||
        static_cast<int64_t>(b.kv_slots.size()) != n || b.max_blocks_per_seq <= 0)
        return make_error("batch arrays differ in length");
    if (static_cast<int64_t>(b.block_tables.size()) > max_table_entries_)
        return make_error("block tables of {} entries exceed the {} reserved", b.block_tables.size(), max_table_entries_);
    if (static_cast<int64_t>(b.logit_rows.size()) > n) return make_error("more logit rows than tokens");
    const int64_t n_seq_rows = static_cast<int64_t>(b.block_tables.size()) / b.max_blocks_per_seq;
    int64_t max_position = -1;
    for (int64_t t = 0; t < n; ++t) {
        max_position = std::max<int64_t>(max_position, b.positions[t]);
        if (b.tokens[t] < 0 || b.tokens[t] >= hp_.n_vocab)
            return make_error("token id {} is outside the vocabulary of {}", b.tokens[t], hp_.n_vocab);
        if (b.seq_rows[t] < 0 || b.seq_rows[t] >= n_seq_rows) return make_error("bad sequence row {}", b.seq_rows[t]);
    }
    for (int32_t r : b.logit_rows)
        if (r < 0 || r >= n) return make_error("logit row {} outside the batch", r);
    Backend& be = *backend_;
    RF_TRY(be.upload(tokens_, b.tokens.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(positions_, b.positions.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(seq_rows_, b.seq_rows.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(kv_slots_, b.kv_slots.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(block_tables_, b.block_tables.data(), b.block_tables.size() * sizeof(int32_t)));
    RF_TRY(be.upload(logit_rows_, b.logit_rows.data(), b.logit_rows.size() * sizeof(int32_t)));
    n_tokens_ = n;
    n_logit_rows_ = static_cast<int64_t>(b.logit_rows.size());
    layout_ = BatchLayout{.n_tokens = n,
                          .n_seq_rows = n_seq_rows,
                          .positions = positions_.i32(),
                          .seq_slots = seq_rows_.i32(),
                          .kv_slots = kv_slots_.i32(),
                          .block_tables = block_tables_.i32(),
                          .max_blocks_per_seq = b.max_blocks_per_seq,
                          .max_position = max_position};
    return ok_status();
}

}  // namespace rf::model
