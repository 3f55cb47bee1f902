// Everything one forward step works on, allocated once for the largest batch on every backend of
// the model's placement: the batch description, the activations each block reads and writes, and
// the logits. The step runs on one backend at a time (the current part); the model enters each
// layer and the output head, and the residual stream follows it across a change of backend.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/collective.h"
#include "model/hparams.h"
#include "model/placement.h"

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
    std::span<const int32_t> logit_rows;  // tokens whose final-norm rows are wanted, in output order
    // How many of logit_rows, from the first, get the vocabulary product (-1: all); the others'
    // final-norm rows are what is wanted (embeddings).
    int64_t vocab_rows = -1;
};

class ForwardState {
public:
    // Buffers for up to `max_tokens` tokens per step and `max_table_entries` block-table entries
    // on each backend of `placement`.
    static Result<ForwardState> create(const Placement& placement, const HParams& hp, int64_t max_tokens,
                                       int64_t max_table_entries);

    // The backend memory create() takes on each backend for these sizes (placement estimates).
    static size_t planned_bytes(const HParams& hp, int64_t max_tokens, int64_t max_table_entries);

    // Copies the batch to every backend's memory; checks it fits the buffers. The step starts on
    // the embedding's backend.
    Status set_batch(const StepBatch& batch);
    // set_batch's checks alone (a tensor-parallel group turns a bad batch away before any rank
    // starts the step and its collectives).
    Status check_batch(const StepBatch& batch) const;
    // Moves the step to the backend of layer `il` (or of the output head), carrying the residual
    // stream there when it changes.
    Status enter_layer(int64_t il) { return enter(placement_.layers[static_cast<size_t>(il)]); }
    Status enter_output() { return enter(placement_.output); }

    const Placement& placement() const { return placement_; }
    // One rank of a tensor-parallel group (the model holds a share of every layer): the collective
    // it sums its partial products with. Not needed for a whole model.
    void set_collective(Collective* collective) { collective_ = collective; }
    const TensorShard& shard() const { return hp_.shard; }
    // x summed over the group's ranks, in place; nothing to do for a whole model without one.
    Status all_reduce_sum(const Act& x) const;
    Backend& backend() const { return *part().backend; }
    // The KV storage of the current backend, which holds its layers only: layer il is its layer
    // kv_layer(il).
    KvStorage& kv() const { return *part().kv; }
    int64_t kv_layer(int64_t il) const { return kv_layers_[static_cast<size_t>(il)]; }
    void set_kv(int part, KvStorage& kv) { parts_[static_cast<size_t>(part)].kv = &kv; }
    int64_t n_tokens() const { return n_tokens_; }
    int64_t n_logit_rows() const { return n_logit_rows_; }
    int64_t n_vocab_rows() const { return n_vocab_rows_; }
    int64_t max_tokens() const { return max_tokens_; }
    // Backend memory of all the buffers on the backend of `part` (the engine sizes the KV pool
    // around it).
    size_t bytes(int part) const;

    const BatchLayout& layout() const { return part().layout; }
    const int32_t* tokens() const { return part().tokens.i32(); }
    const int32_t* positions() const { return part().positions.i32(); }
    const int32_t* logit_rows() const { return part().logit_rows.i32(); }

    // Activations, n_tokens rows each (widths from the hyper-parameters).
    Act residual() const { return act(part().residual, hp_.n_embd); }    // the residual stream
    Act normed() const { return act(part().normed, hp_.n_embd); }        // input of the current block
    Act block_out() const { return act(part().block_out, hp_.n_embd); }  // output of the current block
    // Scratch of `cols` columns (projections, FFN hidden state, expert rows); slot 0..kScratch-1.
    static constexpr int kScratch = 4;
    Result<Act> scratch(int slot, int64_t cols, int64_t rows = -1) const;
    // Expert routing of the batch: ids and weights, n_tokens * k each.
    int32_t* expert_ids() const { return part().expert_ids.i32(); }
    float* expert_weights() const { return part().expert_weights.f32(); }
    // Output: the final-norm rows of the wanted tokens and their logits (on the output head's
    // backend; a tensor-parallel rank's logits are its run of the vocabulary).
    Act logit_inputs() const { return {part().logit_inputs.f32(), n_logit_rows_, hp_.n_embd, hp_.n_embd}; }
    Act logits() const {
        return {parts_[static_cast<size_t>(placement_.output)].logits.f32(), n_vocab_rows_, hp_.local_vocab(),
                hp_.local_vocab()};
    }

private:
    // The buffers of one backend.
    struct Part {
        Backend* backend = nullptr;
        KvStorage* kv = nullptr;
        BatchLayout layout;
        DeviceBuffer tokens, positions, seq_rows, kv_slots, block_tables, logit_rows;
        DeviceBuffer residual, normed, block_out, scratch[kScratch];
        DeviceBuffer expert_ids, expert_weights, logit_inputs, logits;
    };
    static Result<Part> allocate_part(Backend& backend, const HParams& hp, int64_t max_tokens,
                                      int64_t max_table_entries, int64_t scratch_floats);
    static int64_t scratch_floats(const HParams& hp, int64_t max_tokens);
    Status upload_batch(Part& p, const StepBatch& b, int64_t n_seq_rows, int64_t max_position);
    Status enter(int part);
    const Part& part() const { return parts_[static_cast<size_t>(current_)]; }
    Act act(const DeviceBuffer& b, int64_t cols) const { return {b.f32(), n_tokens_, cols, cols}; }

    Placement placement_;
    Collective* collective_ = nullptr;
    std::vector<Part> parts_;        // one per backend of the placement
    std::vector<int64_t> kv_layers_; // per layer: its index in its backend's KV storage
    int current_ = 0;
    HParams hp_;
    int64_t max_tokens_ = 0, max_table_entries_ = 0, scratch_floats_ = 0;
    int64_t n_tokens_ = 0, n_logit_rows_ = 0;
    std::vector<float> crossing_;    // host copy of the residual stream between two backends
    int64_t n_vocab_rows_ = 0;
};

}  // namespace rf::model
