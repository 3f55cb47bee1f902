// Text embeddings from any loaded model: the final hidden state (after the output norm, before the
// vocabulary product) pooled over the tokens — their mean, or the last token's row — and scaled to
// unit length. The embedder runs its own one-sequence engine over the shared model, so it never
// takes a KV slot from generation; a `gate` makes its forward steps run where they cannot overlap
// the scheduler's (the server passes Scheduler::run_between_steps), since a backend runs one step
// at a time.
//
//   auto e = Embedder::create(model, tokenizer, {.pooling = Pooling::Mean});
//   RF_ASSIGN_OR_RETURN(std::vector<float> v, (*e)->embed_text("hello"));  // n_embd floats, |v| = 1
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/pooling.h"
#include "tokenizer/tokenizer.h"

namespace rf::engine {

// Runs `work` where no other forward step runs, and returns its status.
using StepGate = std::function<Status(const std::function<Status()>& work)>;

struct EmbedderOptions {
    int64_t n_ctx = 2048;  // longest text in tokens (0: the model's training context)
    int64_t n_batch = 256;
    Pooling pooling = Pooling::Mean;
    StepGate gate = {};    // empty: steps run on the calling thread
};

// What the context store and the embeddings route need of an embedding model: its tokenizer, and
// unit-length vectors of token sequences. Embedder computes them with its own engine; tests give
// cheaper ones.
class TextEmbedder {
public:
    virtual ~TextEmbedder() = default;
    // The text's tokens as embed_tokens wants them.
    virtual std::vector<int32_t> tokenize(std::string_view text) const = 0;
    // L2-normalised, dimension() floats; an Error for no tokens or more than n_ctx().
    virtual Result<std::vector<float>> embed_tokens(std::span<const int32_t> tokens) = 0;
    Result<std::vector<float>> embed_text(std::string_view text) { return embed_tokens(tokenize(text)); }
    // Many inputs, in order; one after another unless the embedder can do better.
    virtual Result<std::vector<std::vector<float>>> embed_many(std::span<const std::vector<int32_t>> inputs);
    virtual int64_t dimension() const = 0;
    virtual int64_t n_ctx() const = 0;
    virtual const tokenizer::Tokenizer& tokenizer() const = 0;
};

class Embedder : public TextEmbedder {
public:
    // The model (on whatever backends it was placed) and tokenizer must outlive the embedder.
    static Result<std::unique_ptr<Embedder>> create(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                                    EmbedderOptions options);

    // The text's tokens as embed_tokens wants them: special tokens added as the vocabulary asks,
    // special-token text not parsed (stored text is data, not markup).
    std::vector<int32_t> tokenize(std::string_view text) const override;
    // L2-normalised embedding of n_embd floats. Errors: no tokens, an id outside the vocabulary, more
    // tokens than n_ctx, a failed step. Thread-safe (one embedding at a time).
    Result<std::vector<float>> embed_tokens(std::span<const int32_t> tokens) override;

    int64_t dimension() const override { return engine_.hparams().n_embd; }
    int64_t n_ctx() const override { return engine_.n_ctx(); }
    Pooling pooling() const { return options_.pooling; }
    const tokenizer::Tokenizer& tokenizer() const override { return *tokenizer_; }

private:
    Embedder(Engine engine, const tokenizer::Tokenizer& tokenizer, EmbedderOptions options)
        : engine_(std::move(engine)), tokenizer_(&tokenizer), options_(std::move(options)) {}
    Status run(std::span<const int32_t> tokens, std::vector<double>& sum);

    std::mutex mu_;
    Engine engine_;
    const tokenizer::Tokenizer* tokenizer_;
    EmbedderOptions options_;
    std::vector<BatchToken> batch_;
    std::vector<float> hidden_;
};

}  // namespace rf::engine
