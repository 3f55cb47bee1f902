// Hyper-parameters of a model, read from the `ARCH.*` metadata keys of its GGUF file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "core/result.h"
#include "gguf/reader.h"

namespace rf::model {

// Bounds on the hyper-parameters read from a file, far above any published model (2025: width
// 16384, FFN 73728, 128 heads, heads of 256, 384 experts, 126 layers, 10M tokens of context). They
// keep every product formed from them (heads x head size, experts used x FFN width x batch, layers x
// KV width x block size) far from 64-bit overflow; a value outside its bound is an Error naming the key.
inline constexpr int64_t kMaxWidth = int64_t{1} << 20;     // embedding_length, feed_forward_length
inline constexpr int64_t kMaxHeadSize = int64_t{1} << 16;  // attention.key/value_length, rope.dimension_count
inline constexpr int64_t kMaxCount = int64_t{1} << 14;     // block_count, head counts, expert counts
inline constexpr int64_t kMaxContext = INT32_MAX;          // context lengths, sliding window (positions are int32)
inline constexpr int64_t kMaxVocab = INT32_MAX;            // rows of token_embd.weight (token ids are int32)

// The share of every layer one rank of a tensor-parallel group holds; world 1 is the whole model.
// Query heads, KV heads and the feed-forward width split evenly (rank r holds the r-th of `world`
// equal runs); the vocabulary (the output head's rows) in runs of ceil(n_vocab / world), the last
// one shorter.
struct TensorShard {
    int rank = 0;
    int world = 1;

    bool whole() const { return world == 1; }
    int64_t even_count(int64_t n) const { return n / world; }
    int64_t even_first(int64_t n) const { return rank * (n / world); }
    int64_t vocab_first(int64_t n_vocab) const { return std::min(n_vocab, rank * vocab_run(n_vocab)); }
    int64_t vocab_count(int64_t n_vocab) const {
        return std::min(n_vocab, vocab_first(n_vocab) + vocab_run(n_vocab)) - vocab_first(n_vocab);
    }

private:
    int64_t vocab_run(int64_t n_vocab) const { return (n_vocab + world - 1) / world; }
};

struct HParams {
    std::string arch;            // general.architecture
    int64_t n_ctx_train = 0;     // context_length
    int64_t n_embd = 0;          // embedding_length
    int64_t n_layer = 0;         // block_count
    int64_t n_ff = 0;            // feed_forward_length (per expert for MoE)
    int64_t n_head = 0;          // attention.head_count
    int64_t n_head_kv = 0;       // attention.head_count_kv (defaults to n_head)
    int64_t head_dim_k = 0;      // attention.key_length (defaults to n_embd / n_head)
    int64_t head_dim_v = 0;      // attention.value_length (defaults to head_dim_k)
    int64_t n_vocab = 0;         // rows of token_embd.weight
    float norm_eps = 1e-5f;      // attention.layer_norm_rms_epsilon
    int64_t n_expert = 0;        // expert_count (0: dense)
    int64_t n_expert_used = 0;   // expert_used_count
    float attn_softcap = 0.0f;   // attn_logit_softcapping (0: none)
    float final_softcap = 0.0f;  // final_logit_softcapping (0: none)
    int64_t sliding_window = 0;  // attention.sliding_window (0: none)
    RopeConfig rope;             // rope.*; style is set by the architecture
    TensorShard shard;           // the share the model holds (set by the loader from its placement)

    // What one rank computes: its heads, KV heads, feed-forward width and logits.
    int64_t local_heads() const { return shard.even_count(n_head); }
    int64_t local_kv_heads() const { return shard.even_count(n_head_kv); }
    int64_t local_ff() const { return shard.even_count(n_ff); }
    int64_t local_vocab() const { return shard.vocab_count(n_vocab); }

    // Architecture key prefix: "llama.embedding_length" for key "embedding_length".
    std::string key(std::string_view name) const { return arch + "." + std::string(name); }
};

// Reads every key above. Missing required keys and values that cannot be right (zero layers,
// heads that do not divide, a rope dimension larger than the head, a value beyond the bounds
// above, experts used by a dense model) are Errors naming the key.
// n_vocab is left for the loader, which reads it from the embedding table.
Result<HParams> read_hparams(const gguf::File& file);

}  // namespace rf::model
