#include "engine/embedder.h"

#include <algorithm>

namespace rf::engine {

Result<std::vector<std::vector<float>>> TextEmbedder::embed_many(std::span<const std::vector<int32_t>> inputs) {
    std::vector<std::vector<float>> out;
    out.reserve(inputs.size());
    for (const std::vector<int32_t>& input : inputs) {
        RF_ASSIGN_OR_RETURN(std::vector<float> v, embed_tokens(input));
        out.push_back(std::move(v));
    }
    return out;
}

Result<std::unique_ptr<Embedder>> Embedder::create(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                                   EmbedderOptions o) {
    const model::HParams& hp = model.hparams();
    const int64_t n_ctx = o.n_ctx == 0 ? hp.n_ctx_train : o.n_ctx;
    if (n_ctx <= 0 || n_ctx > (int64_t{1} << 24)) return make_error("embedding context {} is not usable", n_ctx);
    // A pool of exactly one context, so that its size does not depend on the free memory that
    // generation's pool has already taken.
    constexpr int64_t kBlock = 16;
    const model::Placement& placement = model.placement();
    int64_t block_bytes = 0;  // over every backend that holds layers of the model
    for (int part = 0; part < placement.parts(); ++part)
        block_bytes += KvCache::part_block_bytes(placement, part, hp, kBlock, KvType::F32);
    RF_ASSIGN_OR_RETURN(Engine engine, Engine::create(model,
                                                      {.n_ctx = n_ctx,
                                                       .n_batch = o.n_batch,
                                                       .max_sequences = 1,
                                                       .block_size = kBlock,
                                                       .kv_type = KvType::F32,
                                                       .kv_memory_bytes = (n_ctx + kBlock - 1) / kBlock * block_bytes}));
    return std::unique_ptr<Embedder>(new Embedder(std::move(engine), tokenizer, std::move(o)));
}

std::vector<int32_t> Embedder::tokenize(std::string_view text) const {
    return tokenizer_->encode(text, {.add_special = true, .parse_special = false});
}

Result<std::vector<float>> Embedder::embed_tokens(std::span<const int32_t> tokens) {
    if (tokens.empty()) return make_error("nothing to embed: the input has no tokens");
    if (static_cast<int64_t>(tokens.size()) > n_ctx())
        return make_error("the input has {} tokens, more than the embedding context of {}", tokens.size(), n_ctx());
    for (int32_t t : tokens)
        if (t < 0 || t >= engine_.n_vocab())
            return make_error("token id {} is outside the vocabulary of {}", t, engine_.n_vocab());
    std::lock_guard lock(mu_);
    std::vector<double> sum(static_cast<size_t>(dimension()), 0.0);
    Status ran = options_.gate ? options_.gate([&] { return run(tokens, sum); }) : run(tokens, sum);
    engine_.rewind(0, 0);  // the next embedding starts from an empty sequence
    RF_TRY(ran);
    return unit_length(sum);
}

// Feeds the tokens in batches and adds up the pooled rows (the mean's scale drops out in the norm).
Status Embedder::run(std::span<const int32_t> tokens, std::vector<double>& sum) {
    engine_.rewind(0, 0);
    const size_t n_batch = static_cast<size_t>(engine_.n_batch());
    const auto dim = static_cast<size_t>(dimension());
    for (size_t begin = 0; begin < tokens.size(); begin += n_batch) {
        const size_t end = std::min(tokens.size(), begin + n_batch);
        batch_.clear();
        for (size_t i = begin; i < end; ++i)
            batch_.push_back({tokens[i], 0, static_cast<int32_t>(i), pooled(options_.pooling, i, tokens.size())});
        RF_TRY(engine_.step_hidden(batch_, hidden_));
        for (size_t r = 0; r * dim < hidden_.size(); ++r)
            for (size_t j = 0; j < dim; ++j) sum[j] += hidden_[r * dim + j];
    }
    return ok_status();
}

}  // namespace rf::engine
