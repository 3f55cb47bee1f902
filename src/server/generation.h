// One HTTP generation request: its submissions to the scheduler (prompts x n), the events they
// send back (queued here from the scheduler thread, with their arrival time), and what they add up
// to. The HTTP handler thread drains the events; cancel_all() is how a vanished client stops them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace rf::server {

using Clock = std::chrono::steady_clock;

struct TimedEvent {
    engine::RequestEvent event;
    Clock::time_point at;
    size_t choice = 0;  // index into Generation::choices()
};

class Generation {
public:
    // Submits every prompt n times (seed + i for the i-th choice when a seed was given, so that
    // choices differ but stay reproducible). On failure, cancels what was submitted.
    static std::variant<std::shared_ptr<Generation>, ApiError> start(engine::Scheduler& scheduler,
                                                                     const ParsedRequest& request);
    ~Generation();

    // The next event, or nothing after `timeout`.
    std::optional<TimedEvent> next(std::chrono::milliseconds timeout);
    void cancel_all();  // once; later calls do nothing
    bool finished() const { return n_finished_ == choices_.size(); }

    // Applies an event to its choice (text, logprobs, finish); returns the choice.
    Choice& apply(const TimedEvent& e);
    const std::vector<Choice>& choices() const { return choices_; }
    const std::vector<uint64_t>& ids() const { return ids_; }
    Clock::time_point submitted() const { return submitted_; }

private:
    Generation(engine::Scheduler& scheduler) : scheduler_(&scheduler) {}

    struct Queue {
        std::mutex mutex;
        std::condition_variable ready;
        std::deque<TimedEvent> events;
    };

    engine::Scheduler* scheduler_;
    std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();  // shared with the sinks
    std::vector<uint64_t> ids_;
    std::vector<Choice> choices_;
    size_t n_finished_ = 0;
    std::atomic<bool> cancelled_{false};
    Clock::time_point submitted_ = Clock::now();
};

// The HTTP status for a refused submission: 400, 429 (queue full) or 503 (shutting down).
ApiError submit_error(const engine::SubmitFailure& failure);

}  // namespace rf::server
