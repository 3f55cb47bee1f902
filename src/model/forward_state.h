// Everything one forward step works on, allocated once through the backend for the largest batch:
// the batch description, the activations each block reads and writes, and the logits.
#pragma once

#include <cstdint>
#include <span>

#include "backend/backend.h"
#include "model/hparams.h"

namespace rf::model {

// One step's tokens, on the host: a flat batch that may mix sequences. Sequence s's cache blocks
// are block_tables[seq_rows[t] * max_blocks_per_seq ...]; kv_slots[t] is where token t's keys go.
struct StepBatch {
    std::span<const int32_t> tokens;
    std::span<const int32_t> positions;
    std::span<const int32_t> seq_rows;
    std::span<const int32_t> kv_slots;
    std::span<const int32_t> block_tables;
    int64_t max_blocks_per_seq = 0;
    std::span<const int32_t> logit_rows;  // tokens whose logits are wanted, in output order
};

class ForwardState {
public:
    // Buffers for up to `max_tokens` tokens per step and `max_table_entries` block-table entries.
    static Result<ForwardState> create(Backend& backend, const HParams& hp, int64_t max_tokens,
                                       int64_t max_table_entries);

    // Copies the batch to backend memory; checks it fits the buffers.
    Status set_batch(const StepBatch& batch);

    Backend& backend() const { return *backend_; }
    KvStorage& kv() const { return *kv_; }
    void set_kv(KvStorage& kv) { kv_ = &kv; }
    int64_t n_tokens() const { return n_tokens_; }
    int64_t n_logit_rows() const { return n_logit_rows_; }
    int64_t max_tokens() const { return max_tokens_; }
    // Backend memory of all the buffers (the engine sizes the KV pool around it).
    size_t bytes() const;

    const BatchLayout& layout() const { return layout_; }
    const int32_t* tokens() const { return tokens_.i32(); }
    const int32_t* positions() const { return positions_.i32(); }
    const int32_t* logit_rows() const { return logit_rows_.i32(); }

    // Activations, n_tokens rows each (widths from the hyper-parameters).
    Act residual() const { return act(residual_, hp_.n_embd); }    // the residual stream
    Act normed() const { return act(normed_, hp_.n_embd); }        // input of the current block
    Act block_out() const { return act(block_out_, hp_.n_embd); }  // output of the current block
    // Scratch of `cols` columns (projections, FFN hidden state, expert rows); slot 0..kScratch-1.
    static constexpr int kScratch = 4;
    Result<Act> scratch(int slot, int64_t cols, int64_t rows = -1) const;
    // Expert routing of the batch: ids and weights, n_tokens * k each.
    int32_t* expert_ids() const { return expert_ids_.i32(); }
    float* expert_weights() const { return expert_weights_.f32(); }
    // Output: the final-norm rows of the wanted tokens and their logits.
    Act logit_inputs() const { return {logit_inputs_.f32(), n_logit_rows_, hp_.n_embd, hp_.n_embd}; }
    Act logits() const { return {logits_.f32(), n_logit_rows_, hp_.n_vocab, hp_.n_vocab}; }

private:
    Act act(const DeviceBuffer& b, int64_t cols) const { return {b.f32(), n_tokens_, cols, cols}; }

    Backend* backend_ = nullptr;
    KvStorage* kv_ = nullptr;
    HParams hp_;
    int64_t max_tokens_ = 0, max_table_entries_ = 0, scratch_floats_ = 0;
    int64_t n_tokens_ = 0, n_logit_rows_ = 0;
    BatchLayout layout_;
    DeviceBuffer tokens_, positions_, seq_rows_, kv_slots_, block_tables_, logit_rows_;
    DeviceBuffer residual_, normed_, block_out_, scratch_[kScratch];
    DeviceBuffer expert_ids_, expert_weights_, logit_inputs_, logits_;
};

}  // namespace rf::model
