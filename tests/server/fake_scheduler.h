// A Scheduler that runs no model: every request emits token 100 + i with text "t<i> " every
// `interval` until max_tokens, from its own thread; its prompt counts as one prefill chunk. Lets the HTTP layer be tested for queueing,
// cancellation and shutdown without timing depending on a model.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "engine/scheduler.h"

namespace rf::test {

class FakeScheduler final : public engine::Scheduler {
public:
    explicit FakeScheduler(std::chrono::milliseconds interval, int64_t max_active = 64)
        : interval_(interval), max_active_(max_active), thread_([this] { loop(); }) {}
    ~FakeScheduler() override { shutdown(std::chrono::milliseconds(0)); }

    std::variant<uint64_t, engine::SubmitFailure> submit(engine::RequestOptions request, engine::EventSink sink) override {
        std::lock_guard lock(mutex_);
        if (stopping_) return engine::SubmitFailure{engine::SubmitError::ShuttingDown, "shutting down"};
        if (request.prompt.empty()) return engine::SubmitFailure{engine::SubmitError::Invalid, "empty prompt"};
        if (static_cast<int64_t>(active_.size()) >= max_active_)
            return engine::SubmitFailure{engine::SubmitError::Overloaded, "queue full"};
        const uint64_t id = ++next_id_;
        active_[id] = {std::move(request), std::move(sink), 0, false, {}, Clock::now(), {}};
        status_[id] = {.id = id, .state = engine::RequestState::Decoding, .usage = {}, .reason = std::nullopt};
        return id;
    }
    bool cancel(uint64_t id) override {
        std::lock_guard lock(mutex_);
        auto it = active_.find(id);
        if (it == active_.end()) return false;
        it->second.cancelled = true;
        ++cancelled_;
        return true;
    }
    std::optional<engine::RequestStatus> status(uint64_t id) const override {
        std::lock_guard lock(mutex_);
        auto it = status_.find(id);
        return it == status_.end() ? std::nullopt : std::optional(it->second);
    }
    engine::SchedulerStats stats() const override {
        std::lock_guard lock(mutex_);
        return {.running = static_cast<int64_t>(active_.size()), .kv_blocks_total = 10, .kv_blocks_used = 3};
    }
    Status run_between_steps(const std::function<Status()>& work) override {
        std::lock_guard lock(mutex_);  // no model steps here: serialising the work is enough
        if (stopping_) return make_error("the scheduler has stopped");
        return work();
    }
    void shutdown(std::chrono::milliseconds deadline) override {
        {
            std::unique_lock lock(mutex_);
            stopping_ = true;
            drained_.wait_for(lock, deadline, [&] { return active_.empty(); });
            for (auto& [id, r] : active_) {
                r.cancelled = true;
                r.cut = "the scheduler shut down before the request finished";  // as the real one says
            }
            quit_ = true;
        }
        if (thread_.joinable()) thread_.join();
    }
    int64_t cancelled() const { return cancelled_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Active {
        engine::RequestOptions options;
        engine::EventSink sink;
        int64_t generated = 0;
        bool cancelled = false;
        std::string cut;  // why shutdown cut it
        Clock::time_point submitted, first_token;
    };
    static double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

    void loop() {
        for (;;) {
            std::this_thread::sleep_for(interval_);
            std::lock_guard lock(mutex_);
            for (auto it = active_.begin(); it != active_.end();) {
                Active& r = it->second;
                const uint64_t id = it->first;
                auto& st = status_[id];
                const bool done = r.cancelled || r.generated >= r.options.max_tokens;
                if (!done) {
                    engine::RequestEvent e{.kind = engine::RequestEvent::Kind::Token, .request = id,
                                           .token = static_cast<int32_t>(100 + r.generated),
                                           .text = fmt::format("t{} ", r.generated), .logprob = -0.5f,
                                           .top_logprobs = {}, .error = {}, .usage = {}, .timings = {}, .embedding = {}};
                    if (r.generated++ == 0) r.first_token = Clock::now();
                    st.usage.completion_tokens = r.generated;
                    r.sink(e);
                    ++it;
                    continue;
                }
                const auto reason = r.cancelled ? engine::StopReason::Cancelled : engine::StopReason::MaxTokens;
                st.state = engine::RequestState::Finished;
                st.reason = reason;
                st.usage.prompt_tokens = static_cast<int64_t>(r.options.prompt.size());
                // Scheduled at once; the prompt takes until the first token, in one chunk.
                engine::RequestTimings timings;
                if (r.generated > 0)
                    timings = {.queued = 0.0,
                               .prefill = seconds(r.first_token - r.submitted),
                               .decode = seconds(Clock::now() - r.first_token),
                               .time_to_first_token = seconds(r.first_token - r.submitted),
                               .prefill_chunks = 1};
                engine::RequestEvent e{.kind = engine::RequestEvent::Kind::Finished, .request = id, .text = {},
                                       .top_logprobs = {}, .reason = reason, .error = r.cut, .usage = st.usage,
                                       .timings = timings};
                r.sink(e);
                it = active_.erase(it);
            }
            if (active_.empty()) drained_.notify_all();
            if (quit_ && active_.empty()) return;
        }
    }

    std::chrono::milliseconds interval_;
    int64_t max_active_;
    mutable std::mutex mutex_;
    std::condition_variable drained_;
    std::map<uint64_t, Active> active_;
    std::map<uint64_t, engine::RequestStatus> status_;
    uint64_t next_id_ = 0;
    bool stopping_ = false, quit_ = false;
    std::atomic<int64_t> cancelled_{0};
    std::thread thread_;  // last: starts once everything above exists
};

}  // namespace rf::test
