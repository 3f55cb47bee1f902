#include "engine/scheduled_embedder.h"

#include <future>

namespace rf::engine {

std::vector<int32_t> ScheduledEmbedder::tokenize(std::string_view text) const {
    return tokenizer_->encode(text, {.add_special = true, .parse_special = false});  // as Embedder does
}

Result<std::vector<float>> ScheduledEmbedder::embed_tokens(std::span<const int32_t> tokens) {
    if (tokens.empty()) return make_error("nothing to embed: the input has no tokens");
    if (static_cast<int64_t>(tokens.size()) > n_ctx_)
        return make_error("the input has {} tokens, more than the embedding context of {}", tokens.size(), n_ctx_);
    RequestOptions request;
    request.prompt.assign(tokens.begin(), tokens.end());
    request.embed = pooling_;
    auto done = std::make_shared<std::promise<RequestEvent>>();
    std::future<RequestEvent> finished = done->get_future();
    auto submitted = scheduler_->submit(std::move(request), [done](const RequestEvent& e) {
        if (e.kind == RequestEvent::Kind::Finished) done->set_value(e);
    });
    if (const auto* failure = std::get_if<SubmitFailure>(&submitted))
        return Error{.message = failure->message, .transient = failure->kind == SubmitError::Overloaded};
    RequestEvent e = finished.get();
    if (e.embedding.empty())
        return make_error("the embedding did not finish: {}", e.error.empty() ? "cancelled" : e.error);
    return std::move(e.embedding);
}

}  // namespace rf::engine
