#include "model/forward_state.h"

#include <algorithm>
#include <initializer_list>

namespace rf::model {

Result<ForwardState::Part> ForwardState::allocate_part(Backend& backend, const HParams& hp, int64_t max_tokens,
                                                       int64_t max_table_entries, int64_t scratch_floats) {
    const int64_t k = std::max<int64_t>(1, hp.n_expert_used);
    auto ints = [&](int64_t n) { return backend.allocate(static_cast<size_t>(n) * sizeof(int32_t)); };
    auto floats = [&](int64_t n) { return backend.allocate(static_cast<size_t>(n) * sizeof(float)); };
    Part p;
    p.backend = &backend;
    RF_ASSIGN_OR_RETURN(p.tokens, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(p.positions, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(p.seq_rows, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(p.kv_slots, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(p.logit_rows, ints(max_tokens));
    RF_ASSIGN_OR_RETURN(p.block_tables, ints(max_table_entries));
    RF_ASSIGN_OR_RETURN(p.residual, floats(hp.n_embd * max_tokens));
    RF_ASSIGN_OR_RETURN(p.normed, floats(hp.n_embd * max_tokens));
    RF_ASSIGN_OR_RETURN(p.block_out, floats(hp.n_embd * max_tokens));
    for (auto& b : p.scratch) {
        RF_ASSIGN_OR_RETURN(b, floats(scratch_floats));
    }
    RF_ASSIGN_OR_RETURN(p.expert_ids, ints(k * max_tokens));
    RF_ASSIGN_OR_RETURN(p.expert_weights, floats(k * max_tokens));
    RF_ASSIGN_OR_RETURN(p.logit_inputs, floats(hp.n_embd * max_tokens));
    RF_ASSIGN_OR_RETURN(p.logits, floats(hp.local_vocab() * max_tokens));
    return p;
}

int64_t ForwardState::scratch_floats(const HParams& hp, int64_t max_tokens) {
    const int64_t k = std::max<int64_t>(1, hp.n_expert_used);
    const int64_t q_width = hp.local_heads() * std::max(hp.head_dim_k, hp.head_dim_v);
    const int64_t qkv_width = hp.local_heads() * hp.head_dim_k + hp.local_kv_heads() * (hp.head_dim_k + hp.head_dim_v);
    // Scratch rows: a token's widest intermediate (fused QKV, fused gate+up, an expert's hidden
    // state for each of its k experts, the router logits), of this rank's share.
    const int64_t widest =
        std::max({qkv_width, q_width, 2 * hp.local_ff() * k, hp.n_embd * k, hp.n_expert, hp.n_embd});
    return widest * max_tokens;
}

size_t ForwardState::planned_bytes(const HParams& hp, int64_t max_tokens, int64_t max_table_entries) {
    const int64_t k = std::max<int64_t>(1, hp.n_expert_used);
    const int64_t ints = 5 * max_tokens + max_table_entries + k * max_tokens;
    const int64_t floats = 4 * hp.n_embd * max_tokens + kScratch * scratch_floats(hp, max_tokens) + k * max_tokens +
                           hp.local_vocab() * max_tokens;
    return static_cast<size_t>(ints) * sizeof(int32_t) + static_cast<size_t>(floats) * sizeof(float);
}

Result<ForwardState> ForwardState::create(const Placement& placement, const HParams& hp, int64_t max_tokens,
                                          int64_t max_table_entries) {
    if (max_tokens <= 0 || max_table_entries <= 0) return make_error("forward state: empty batch size");
    RF_TRY(placement.check(hp.n_layer));
    ForwardState s;
    s.placement_ = placement;
    s.hp_ = hp;
    s.max_tokens_ = max_tokens;
    s.max_table_entries_ = max_table_entries;
    s.scratch_floats_ = scratch_floats(hp, max_tokens);
    for (Backend* backend : placement.backends) {
        RF_ASSIGN_OR_RETURN(Part p, allocate_part(*backend, hp, max_tokens, max_table_entries, s.scratch_floats_));
        s.parts_.push_back(std::move(p));
    }
    std::vector<int64_t> layers_so_far(placement.backends.size(), 0);
    for (int part : placement.layers) s.kv_layers_.push_back(layers_so_far[static_cast<size_t>(part)]++);
    s.current_ = placement.input;
    return s;
}

size_t ForwardState::bytes(int part) const {
    const Part& p = parts_[static_cast<size_t>(part)];
    size_t total = 0;
    for (const DeviceBuffer* b : {&p.tokens, &p.positions, &p.seq_rows, &p.kv_slots, &p.block_tables, &p.logit_rows,
                                  &p.residual, &p.normed, &p.block_out, &p.expert_ids, &p.expert_weights,
                                  &p.logit_inputs, &p.logits})
        total += b->size_bytes();
    for (const DeviceBuffer& b : p.scratch) total += b.size_bytes();
    return total;
}

Result<Act> ForwardState::scratch(int slot, int64_t cols, int64_t rows) const {
    if (rows < 0) rows = n_tokens_;
    if (slot < 0 || slot >= kScratch || cols * rows > scratch_floats_)
        return make_error("forward state: scratch slot {} cannot hold {}x{}", slot, rows, cols);
    return Act{part().scratch[slot].f32(), rows, cols, cols};
}

Status ForwardState::all_reduce_sum(const Act& x) const {
    // (A group of one sums through its collective too: the same code path on one GPU.)
    if (collective_) return collective_->all_reduce_sum(x);
    if (hp_.shard.whole()) return ok_status();
    return make_error("rank {} of a tensor-parallel group has no collective", hp_.shard.rank);
}

Status ForwardState::enter(int target) {
    if (target == current_) return ok_status();
    const Part& from = part();
    const Part& to = parts_[static_cast<size_t>(target)];
    const size_t n = static_cast<size_t>(n_tokens_ * hp_.n_embd);
    crossing_.resize(n);
    RF_TRY(from.backend->download(crossing_.data(), from.residual.f32(), n));
    RF_TRY(to.backend->upload(to.residual, crossing_.data(), n * sizeof(float)));
    current_ = target;
    return ok_status();
}

Status ForwardState::upload_batch(Part& p, const StepBatch& b, int64_t n_seq_rows, int64_t max_position) {
    const auto n = static_cast<int64_t>(b.tokens.size());
    Backend& be = *p.backend;
    RF_TRY(be.upload(p.tokens, b.tokens.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(p.positions, b.positions.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(p.seq_rows, b.seq_rows.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(p.kv_slots, b.kv_slots.data(), n * sizeof(int32_t)));
    RF_TRY(be.upload(p.block_tables, b.block_tables.data(), b.block_tables.size() * sizeof(int32_t)));
    RF_TRY(be.upload(p.logit_rows, b.logit_rows.data(), b.logit_rows.size() * sizeof(int32_t)));
    p.layout = BatchLayout{.n_tokens = n,
                           .n_seq_rows = n_seq_rows,
                           .positions = p.positions.i32(),
                           .seq_slots = p.seq_rows.i32(),
                           .kv_slots = p.kv_slots.i32(),
                           .block_tables = p.block_tables.i32(),
                           .max_blocks_per_seq = b.max_blocks_per_seq,
                           .max_position = max_position};
    return ok_status();
}

Status ForwardState::check_batch(const StepBatch& b) const {
    const auto n = static_cast<int64_t>(b.tokens.size());
    if (n == 0 || n > max_tokens_) return make_error("batch of {} tokens (1..{} allowed)", n, max_tokens_);
    if (static_cast<int64_t>(b.positions.size()) != n || static_cast<int64_t>(b.seq_rows.size()) != n ||
        static_cast<int64_t>(b.kv_slots.size()) != n || b.max_blocks_per_seq <= 0)
        return make_error("batch arrays differ in length");
    if (static_cast<int64_t>(b.block_tables.size()) > max_table_entries_)
        return make_error("block tables of {} entries exceed the {} reserved", b.block_tables.size(), max_table_entries_);
    if (static_cast<int64_t>(b.logit_rows.size()) > n) return make_error("more logit rows than tokens");
    if (b.vocab_rows > static_cast<int64_t>(b.logit_rows.size()))
        return make_error("{} vocabulary rows of {} logit rows", b.vocab_rows, b.logit_rows.size());
    const int64_t n_seq_rows = static_cast<int64_t>(b.block_tables.size()) / b.max_blocks_per_seq;
    for (int64_t t = 0; t < n; ++t) {
        if (b.tokens[t] < 0 || b.tokens[t] >= hp_.n_vocab)
            return make_error("token id {} is outside the vocabulary of {}", b.tokens[t], hp_.n_vocab);
        if (b.seq_rows[t] < 0 || b.seq_rows[t] >= n_seq_rows) return make_error("bad sequence row {}", b.seq_rows[t]);
    }
    for (int32_t r : b.logit_rows)
        if (r < 0 || r >= n) return make_error("logit row {} outside the batch", r);
    return ok_status();
}

Status ForwardState::set_batch(const StepBatch& b) {
    RF_TRY(check_batch(b));
    const auto n = static_cast<int64_t>(b.tokens.size());
    const int64_t n_seq_rows = static_cast<int64_t>(b.block_tables.size()) / b.max_blocks_per_seq;
    int64_t max_position = -1;
    for (int32_t pos : b.positions) max_position = std::max<int64_t>(max_position, pos);
    for (Part& p : parts_) RF_TRY(upload_batch(p, b, n_seq_rows, max_position));
    n_tokens_ = n;
    n_logit_rows_ = static_cast<int64_t>(b.logit_rows.size());
    current_ = placement_.input;
    n_vocab_rows_ = b.vocab_rows < 0 ? n_logit_rows_ : b.vocab_rows;
    return ok_status();
}

}  // namespace rf::model
