// Helpers for scheduler tests: collecting each request's events and comparing outputs.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>

#include "engine/scheduler.h"

namespace rf::engine::test {

using namespace std::chrono_literals;

// What one request streamed.
struct Output {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
    std::vector<std::vector<TokenLogprob>> top;
    std::string text;
    std::optional<RequestEvent> finished;
    int finished_count = 0;
};

// Holds the scheduler's loop thread inside a request's first event until release(): whatever is
// submitted meanwhile is queued together when the loop goes on, however the threads are scheduled.
class LoopGate {
public:
    std::function<void(const RequestEvent&)> hook() {
        return [this](const RequestEvent&) {
            if (first_.exchange(false)) {
                entered_.set_value();
                released_.wait();
            }
        };
    }
    void wait_until_held() { entered_.get_future().wait(); }
    void release() { release_.set_value(); }

private:
    std::promise<void> entered_, release_;
    std::shared_future<void> released_ = release_.get_future().share();
    std::atomic<bool> first_{true};
};

// Collects events of many requests (by the caller's index) and waits for them to finish.
class Collector {
public:
    EventSink sink(size_t index, std::function<void(const RequestEvent&)> also = {}) {
        return [this, index, also](const RequestEvent& e) {
            {
                std::lock_guard lock(mu_);
                Output& o = outputs_[index];
                if (e.kind == RequestEvent::Kind::Token) {
                    o.tokens.push_back(e.token);
                    o.logprobs.push_back(e.logprob);
                    o.top.push_back(e.top_logprobs);
                    o.text += e.text;
                } else {
                    o.text += e.text;
                    o.finished = e;
                    ++o.finished_count;
                }
            }
            if (also) also(e);
            cv_.notify_all();
        };
    }
    // Waits until `n` requests have finished; false after a minute.
    bool wait(size_t n) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, 60s, [&] { return finished_locked() >= n; });
    }
    Output get(size_t index) {
        std::lock_guard lock(mu_);
        return outputs_[index];
    }

private:
    size_t finished_locked() const {
        size_t n = 0;
        for (const auto& [i, o] : outputs_) n += o.finished ? 1 : 0;
        return n;
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<size_t, Output> outputs_;
};

inline std::vector<int32_t> prompt_of(uint32_t seed, size_t length) {
    std::mt19937 rng(seed);
    std::vector<int32_t> p{1};
    while (p.size() < length) p.push_back(3 + static_cast<int32_t>(rng() % 290));
    return p;
}

inline RequestOptions greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
    RequestOptions o;
    o.prompt = std::move(prompt);
    o.max_tokens = max_tokens;
    o.sampling = {.temperature = 0.0f};
    o.stop_at_end_of_generation = false;
    o.logprobs = true;
    o.top_logprobs = 3;
    return o;
}

inline uint64_t submitted(const std::variant<uint64_t, SubmitFailure>& r) {
    if (const auto* f = std::get_if<SubmitFailure>(&r)) ADD_FAILURE() << "submit failed: " << f->message;
    return std::holds_alternative<uint64_t>(r) ? std::get<uint64_t>(r) : 0;
}

inline void expect_same(const Output& a, const Output& b, size_t index) {
    EXPECT_EQ(a.tokens, b.tokens) << "request " << index;
    EXPECT_EQ(a.text, b.text) << "request " << index;
    ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
    for (size_t i = 0; i < a.logprobs.size(); ++i) {
        EXPECT_EQ(a.logprobs[i], b.logprobs[i]) << "request " << index << " token " << i;
        ASSERT_EQ(a.top[i].size(), b.top[i].size());
        for (size_t k = 0; k < a.top[i].size(); ++k) {
            EXPECT_EQ(a.top[i][k].token, b.top[i][k].token);
            EXPECT_EQ(a.top[i][k].logprob, b.top[i][k].logprob);
        }
    }
    ASSERT_TRUE(a.finished && b.finished);
    EXPECT_EQ(a.finished->reason, b.finished->reason);
}

}  // namespace rf::engine::test
