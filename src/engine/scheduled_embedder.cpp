#include "engine/scheduled_embedder.h"

#include <deque>
#include <future>
#include <thread>
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

struct Queued {
    size_t index;
    uint64_t id;
    std::future<RequestEvent> finished;
};

// Queues one embedding; its Finished event arrives through the future.
std::variant<Queued, SubmitFailure> submit_embedding(Scheduler& scheduler, size_t index, std::span<const int32_t> tokens,
                                                     Pooling pooling) {
    RequestOptions request;
    request.prompt.assign(tokens.begin(), tokens.end());
    request.embed = pooling;
    auto done = std::make_shared<std::promise<RequestEvent>>();
    std::future<RequestEvent> finished = done->get_future();
    auto submitted = scheduler.submit(std::move(request), [done](const RequestEvent& e) {
        if (e.kind == RequestEvent::Kind::Finished) done->set_value(e);
    });
    if (auto* failure = std::get_if<SubmitFailure>(&submitted)) return std::move(*failure);
    return Queued{index, std::get<uint64_t>(submitted), std::move(finished)};
}

}  // namespace

Result<std::vector<float>> ScheduledEmbedder::embed_tokens(std::span<const int32_t> tokens) {
    const std::vector<int32_t> input(tokens.begin(), tokens.end());
    RF_ASSIGN_OR_RETURN(std::vector<std::vector<float>> out, embed_many(std::span(&input, 1)));
    return std::move(out[0]);
}

Result<std::vector<std::vector<float>>> ScheduledEmbedder::embed_many(std::span<const std::vector<int32_t>> inputs) {
    for (const std::vector<int32_t>& input : inputs) RF_TRY(check_input(input, n_ctx_));
    std::vector<std::vector<float>> out(inputs.size());
    std::deque<Queued> in_flight;
    Status failed = ok_status();
    auto collect_oldest = [&] {
        Queued q = std::move(in_flight.front());
        in_flight.pop_front();
        auto v = result_of(q.finished);
        if (v.ok()) {
            out[q.index] = std::move(*v);
        } else if (failed.ok()) {
            failed = v.error();
        }
    };
    const auto give_up = std::chrono::steady_clock::now() + wait_for_room_;
    for (size_t i = 0; i < inputs.size() && failed.ok();) {
        if (in_flight.size() >= kInFlight) {
            collect_oldest();
            continue;
        }
        auto submitted = submit_embedding(*scheduler_, i, inputs[i], pooling_);
        if (auto* queued = std::get_if<Queued>(&submitted)) {
            in_flight.push_back(std::move(*queued));
            ++i;
            continue;
        }
        const auto& failure = std::get<SubmitFailure>(submitted);
        if (failure.kind == SubmitError::Overloaded) {
            // A full queue: one of ours finishing makes room; else wait for others' while allowed.
            if (!in_flight.empty()) {
                collect_oldest();
                continue;
            }
            if (std::chrono::steady_clock::now() < give_up) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                continue;
            }
        }
        failed = Error{.message = failure.message, .transient = failure.kind == SubmitError::Overloaded};
    }
    if (!failed.ok())
        for (const Queued& q : in_flight) scheduler_->cancel(q.id);  // their answers are not wanted now
    while (!in_flight.empty()) collect_oldest();  // every one has finished before this returns
    RF_TRY(failed);
    return out;
}

}  // namespace rf::engine
