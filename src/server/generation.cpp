#include "server/generation.h"

namespace rf::server {

ApiError submit_error(const engine::SubmitFailure& f) {
    switch (f.kind) {
        case engine::SubmitError::Overloaded:
            return {.status = 429, .message = "the server is overloaded: " + f.message, .type = "rate_limit_error",
                    .code = "queue_full"};
        case engine::SubmitError::ShuttingDown:
            return {.status = 503, .message = "the server is shutting down", .type = "service_unavailable",
                    .code = "shutting_down"};
        case engine::SubmitError::Invalid: break;
    }
    return bad_request(f.message);
}

std::variant<std::shared_ptr<Generation>, ApiError> Generation::start(engine::Scheduler& scheduler,
                                                                      const ParsedRequest& request) {
    std::shared_ptr<Generation> g(new Generation(scheduler));
    for (size_t p = 0; p < request.prompts.size(); ++p) {
        for (int64_t i = 0; i < request.n; ++i) {
            engine::RequestOptions options = request.options;
            options.prompt = request.prompts[p];
            if (i > 0) options.sampling.seed += static_cast<uint64_t>(i);
            const size_t choice = g->choices_.size();
            g->choices_.push_back({.index = static_cast<int64_t>(choice), .prompt_index = static_cast<int64_t>(p)});
            auto sink = [queue = g->queue_, choice](const engine::RequestEvent& event) {
                {
                    std::lock_guard lock(queue->mutex);
                    queue->events.push_back({event, Clock::now(), choice});
                }
                queue->ready.notify_one();
            };
            auto submitted = scheduler.submit(std::move(options), std::move(sink));
            if (auto* failure = std::get_if<engine::SubmitFailure>(&submitted)) {
                g->cancel_all();
                g->n_finished_ = g->choices_.size();  // nothing more to wait for
                return submit_error(*failure);
            }
            g->ids_.push_back(std::get<uint64_t>(submitted));
        }
    }
    return g;
}

Generation::~Generation() {
    if (!finished()) cancel_all();
}

void Generation::cancel_all() {
    if (cancelled_.exchange(true)) return;
    for (uint64_t id : ids_) scheduler_->cancel(id);
}

std::optional<TimedEvent> Generation::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(queue_->mutex);
    if (!queue_->ready.wait_for(lock, timeout, [&] { return !queue_->events.empty(); })) return std::nullopt;
    TimedEvent e = std::move(queue_->events.front());
    queue_->events.pop_front();
    return e;
}

Choice& Generation::apply(const TimedEvent& e) {
    Choice& c = choices_[e.choice];
    const engine::RequestEvent& ev = e.event;
    c.text += ev.text;
    if (ev.kind == engine::RequestEvent::Kind::Token) {
        c.logprobs.push_back({ev.token, ev.logprob, ev.top_logprobs});
    } else {
        c.reason = ev.reason;
        c.error = ev.error;
        c.failed = ev.failed;
        c.usage = ev.usage;
        ++n_finished_;
    }
    return c;
}

}  // namespace rf::server
