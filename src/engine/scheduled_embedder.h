// Embeddings computed by the scheduler, in the same forward steps as generation: an embedding
// request's tokens join the step batches like a prompt's, and their final hidden states are pooled
// as they come. This is how the server embeds with the model it serves (a separate embedding
// model has an Embedder of its own).
#pragma once

#include <chrono>

#include "engine/embedder.h"
#include "engine/scheduler.h"

namespace rf::engine {

class ScheduledEmbedder final : public TextEmbedder {
public:
    // The scheduler, its engine's model and the tokenizer must outlive this. A full queue is an
    // Error (transient) at once, or after `wait_for_room` of retrying (work that has no client to
    // answer 429 to, such as storing a chat exchange).
    ScheduledEmbedder(Scheduler& scheduler, const tokenizer::Tokenizer& tokenizer, int64_t dimension, int64_t n_ctx,
                      Pooling pooling, std::chrono::milliseconds wait_for_room = std::chrono::milliseconds(0))
        : scheduler_(&scheduler), tokenizer_(&tokenizer), dimension_(dimension), n_ctx_(n_ctx), pooling_(pooling),
          wait_for_room_(wait_for_room) {}

    std::vector<int32_t> tokenize(std::string_view text) const override;
    // Waits for the scheduler; Errors: no tokens, too many, a full queue, a failed step, shutdown.
    Result<std::vector<float>> embed_tokens(std::span<const int32_t> tokens) override;
    // All at once (up to kInFlight queued together), so that they share steps with each other too;
    // after an error the ones still queued are cancelled.
    Result<std::vector<std::vector<float>>> embed_many(std::span<const std::vector<int32_t>> inputs) override;
    static constexpr size_t kInFlight = 16;
    int64_t dimension() const override { return dimension_; }
    int64_t n_ctx() const override { return n_ctx_; }
    const tokenizer::Tokenizer& tokenizer() const override { return *tokenizer_; }
    Pooling pooling() const { return pooling_; }

private:
    Scheduler* scheduler_;
    const tokenizer::Tokenizer* tokenizer_;
    int64_t dimension_, n_ctx_;
    Pooling pooling_;
    std::chrono::milliseconds wait_for_room_;
};

}  // namespace rf::engine
