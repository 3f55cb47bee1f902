#include "engine/scheduled_embedder.h"

#include <deque>
#include <future>
#include <variant>

namespace rf::engine {

std::vector<int32_t> ScheduledEmbedder::tokenize(std::string_view text) const {
    return tokenizer_->encode(text, {.add_special = true, .parse_special = false});  // as Embedder does
}

namespace {

Status check_input(std::span<const int32_t> tokens, int64_t n_ctx) {
    if (tokens.empty()) return make_error("nothing to embed: the input has no tokens");
    if (static_cast<int64_t>(tokens.size()) > n_ctx)
        return make_error("the input has {} tokens, more than the embedding context of {}", tokens.size(), n_ctx);
    return ok_status();
}

Result<std::vector<float>> result_of(std::future<RequestEvent>& finished) {
    RequestEvent e = finished.get();
    if (e.embedding.empty())
        return make_error("the embedding did not finish: {}", e.error.empty() ? "cancelled" : e.error);
    return std::move(e.embedding);
}

// Queues one embedding; its Finished event arrives through the future.
std::variant<std::future<RequestEvent>, SubmitFailure> submit_embedding(Scheduler& scheduler,
                                                                        std::span<const int32_t> tokens, Pooling pooling) {
    RequestOptions request;
    request.prompt.assign(tokens.begin(), tokens.end());
    request.embed = pooling;
    auto done = std::make_shared<std::promise<RequestEvent>>();
    std::future<RequestEvent> finished = done->get_future();
    auto submitted = scheduler.submit(std::move(request), [done](const RequestEvent& e) {
        if (e.kind == RequestEvent::Kind::Finished) done->set_value(e);
    });
    if (auto* failure = std::get_if<SubmitFailure>(&submitted)) return std::move(*failure);
    return finished;
}

}  // namespace

Result<std::vector<float>> ScheduledEmbedder::embed_tokens(std::span<const int32_t> tokens) {
    RF_TRY(check_input(tokens, n_ctx_));
    auto submitted = submit_embedding(*scheduler_, tokens, pooling_);
    if (const auto* failure = std::get_if<SubmitFailure>(&submitted))
        return Error{.message = failure->message, .transient = failure->kind == SubmitError::Overloaded};
    return result_of(std::get<std::future<RequestEvent>>(submitted));
}

Result<std::vector<std::vector<float>>> ScheduledEmbedder::embed_many(std::span<const std::vector<int32_t>> inputs) {
    for (const std::vector<int32_t>& input : inputs) RF_TRY(check_input(input, n_ctx_));
    std::vector<std::vector<float>> out(inputs.size());
    std::deque<std::pair<size_t, std::future<RequestEvent>>> in_flight;
    Status failed = ok_status();
    auto collect_oldest = [&] {
        auto [index, finished] = std::move(in_flight.front());
        in_flight.pop_front();
        auto v = result_of(finished);
        if (!v.ok() && failed.ok()) failed = v.error();
        if (v.ok()) out[index] = std::move(*v);
    };
    for (size_t i = 0; i < inputs.size() && failed.ok();) {
        if (in_flight.size() >= kInFlight) {
            collect_oldest();
            continue;
        }
        auto submitted = submit_embedding(*scheduler_, inputs[i], pooling_);
        if (auto* finished = std::get_if<std::future<RequestEvent>>(&submitted)) {
            in_flight.emplace_back(i++, std::move(*finished));
            continue;
        }
        const auto& failure = std::get<SubmitFailure>(submitted);
        // A full queue with some of ours in it: wait for one of them to make room.
        if (failure.kind == SubmitError::Overloaded && !in_flight.empty()) {
            collect_oldest();
            continue;
        }
        failed = Error{.message = failure.message, .transient = failure.kind == SubmitError::Overloaded};
    }
    while (!in_flight.empty()) collect_oldest();  // none is left behind, even after an error
    RF_TRY(failed);
    return out;
}

}  // namespace rf::engine
