// Runs a model over token batches: owns the forward state and the KV cache. A step is a flat batch
// of tokens that may belong to several sequences (each with its position); `feed` is the one-
// sequence convenience that splits a prompt into batches.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/rank_threads.h"
#include "model/model.h"

namespace rf::engine {

struct EngineOptions {
    int64_t n_ctx = 4096;   // 0: the model's training context
    int64_t n_batch = 256;  // most tokens per forward step
    int64_t max_sequences = 1;
    int64_t block_size = 16;
    KvType kv_type = KvType::F32;
    // KV pool size in bytes (rounded down to whole blocks). 0: n_ctx * max_sequences positions,
    // so every sequence can fill its context, or as many as fit in memory_fraction (smaller pools
    // rely on sequences being shorter).
    int64_t kv_memory_bytes = 0;
    // With kv_memory_bytes 0: the share of the backend's free memory (measured once the weights
    // are loaded) that the forward state and the KV pool may take together, as vLLM's
    // gpu_memory_utilization. The rest is left for everything else on the device or host.
    double memory_fraction = 0.9;
};

// The KV pool's blocks (of `block_bytes`) when options.kv_memory_bytes is 0: every sequence's full
// context when that fits in memory_fraction of memory.free_bytes less `state_bytes` (the forward
// state), else as many blocks as fit there; an Error naming the bytes needed and free when not
// even one context fits. Unknown free memory (0) leaves the pool at every full context.
Result<int64_t> kv_blocks_for_memory(const MemoryInfo& memory, const EngineOptions& options, int64_t block_bytes,
                                     int64_t state_bytes, std::string_view device);

struct BatchToken {
    int32_t token = 0;
    int32_t seq = 0;
    int32_t pos = 0;
    bool want_logits = false;
    bool want_hidden = false;  // its final hidden state (an embedding's), not logits
};

// Where the model runs after Engine::relocate (names only, for the log and /metrics).
struct EngineMove {
    std::string backend, device;  // "cpu", "AMD EPYC ... (16 threads)"
    std::string placement;        // "cpu: embedding, layers 0-31, output"
    std::vector<std::pair<std::string, int64_t>> layers_per_backend;
};

class Engine {
public:
    // Runs each part of `model` on the backend it was loaded on (model.placement()).
    static Result<Engine> create(const model::Model& model, EngineOptions options);
    // Runs a tensor-parallel group: ranks[r] is the model loaded with the share {r, N}, on a
    // backend of its own, and `group` the collective they sum with (it must outlive the engine).
    // Every step runs all ranks at once (a thread each) over the same batch and block tables; each
    // rank's KV storage holds its own heads; the logits come back whole. The KV pool is sized on
    // rank 0's backend and must fit on the others'.
    static Result<Engine> create(std::span<const model::Model* const> ranks, CollectiveGroup& group,
                                 EngineOptions options);

    const model::HParams& hparams() const { return model_->hparams(); }
    int64_t n_vocab() const { return model_->hparams().n_vocab; }
    // The ranks of the tensor-parallel group it runs (1: one model).
    int tensor_parallel() const { return static_cast<int>(collectives_.empty() ? 1 : collectives_.size()); }
    int64_t n_ctx() const { return cache_.n_ctx(); }
    int64_t n_batch() const { return options_.n_batch; }
    KvCache& cache() { return cache_; }

    int64_t max_sequences() const { return options_.max_sequences; }
    // Whether the KV pool holds every sequence's full context (false: sized down to memory).
    bool kv_pool_holds_all_contexts() const {
        return cache_.total_blocks() >= cache_.max_blocks_per_seq() * cache_.max_sequences();
    }

    // One forward step over exactly these tokens (at most n_batch). Tokens may come from any
    // sequences, each at its own position; no token may write into a shared (prefix-cached) block.
    // The logits of the tokens that
    // want them are written to `logits`, n_vocab floats each, in batch order.
    Status step(std::span<const BatchToken> batch, std::vector<float>& logits);
    // The same, and `hidden` receives the final hidden state (after the output norm) of the
    // tokens that want it, n_embd floats each, in batch order: embeddings computed in the same
    // step as generation.
    Status step(std::span<const BatchToken> batch, std::vector<float>& logits, std::vector<float>& hidden);
    // The same step, but `hidden` receives the final hidden state (after the output norm, before
    // the vocabulary product, which is skipped) of the tokens that want logits: n_embd floats each.
    Status step_hidden(std::span<const BatchToken> batch, std::vector<float>& hidden);
    // The same step as step(batch, logits[, hidden]), the logits left in the engine's own host
    // memory (page-locked where the backend downloads faster into it: a batch's logits are
    // megabytes every step), valid and writable until the next step or feed (or relocate, or the
    // engine's end).
    Result<std::span<float>> step_logits(std::span<const BatchToken> batch, std::vector<float>* hidden = nullptr);

    // Appends `tokens` to sequence `seq` (positions continue from its length), in batches of n_batch.
    // `logits` receives the last token's logits, or every token's when all_logits is set.
    Status feed(int32_t seq, std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

    // Steps that failed transiently and were run again (at most kStepRetries times each).
    static constexpr int kStepRetries = 2;
    int64_t retried_steps() const { return retried_steps_; }

    // Runs `model` (the same file's model, loaded elsewhere: on the CPU after the device was lost)
    // from now on, with the same options and a fresh, empty KV cache: every sequence starts
    // again. On an Error the engine is left as it was. `model` must outlive the engine. (A
    // tensor-parallel group's engine then runs the one model.)
    Status relocate(const model::Model& model);

    // Forgets the sequence's positions from `n` on.
    void rewind(int32_t seq, int64_t n) { cache_.truncate(seq, n); }

private:
    // Builds the step and runs it (again when it fails transiently); `out` receives the logits or,
    // with hidden_only, the final-norm rows of the tokens that want logits; `hidden` (if any) the
    // final-norm rows of the tokens that want them.
    // (out null: into out_host_, as step_logits returns them).
    Status run_step(std::span<const BatchToken> batch, bool hidden_only, std::vector<float>* out,
                    std::vector<float>* hidden);
    Engine(const model::Model& model, EngineOptions options, model::ForwardState state, KvCache cache);
    // The forward pass over the batch in tokens_ ... logit_rows_, once.
    Status run_forward(bool hidden_only, std::vector<float>* out, std::vector<float>* hidden);
    // One model's (or rank's) forward pass over `batch`, between its backends' begin and end_step.
    static Status forward_on(const model::Model& model, model::ForwardState& state, const model::StepBatch& batch);
    // Room for the step's n_floats results: `out` resized, or (out null) out_host_, from `head`.
    Result<float*> output_space(Backend& head, size_t n_floats, std::vector<float>* out);

    const model::Model* model_;  // (rank 0 of a tensor-parallel group)
    EngineOptions options_;
    model::ForwardState state_;
    KvCache cache_;
    // Ranks 1..N-1 of a tensor-parallel group (rank 0 is model_, state_ and cache_'s storage): each
    // with its forward state and the KV storage of its heads, for the blocks cache_ hands out.
    struct Peer {
        const model::Model* model;
        model::ForwardState state;
        std::unique_ptr<KvStorage> kv;
    };
    std::vector<Peer> peers_;
    std::vector<std::unique_ptr<Collective>> collectives_;  // by rank; empty for one model
    std::unique_ptr<RankThreads> threads_;
    // Host copies of the batch, kept to avoid allocating per step.
    std::vector<int32_t> tokens_, positions_, seq_rows_, slots_, logit_rows_, hidden_rows_;
    int64_t vocab_rows_ = 0;  // of logit_rows_ (the rest: hidden_rows_, after them)
    std::vector<float> feed_logits_;
    HostBuffer out_host_;                   // step_logits' results, from out_host_owner_
    const Backend* out_host_owner_ = nullptr;
    size_t out_floats_ = 0;                 // of the last step
    std::vector<BatchToken> feed_batch_;
    int64_t retried_steps_ = 0;
};

}  // namespace rf::engine
