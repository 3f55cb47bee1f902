// Continuous batching: one loop thread runs a forward step at a time over every active request —
// one decode token per running request plus chunks of waiting prompts, within a token budget —
// and admits, retires and cancels requests between steps. Requests reach it from any thread;
// their results leave through per-request event sinks. The scheduler knows the Engine (a flat
// batch of tokens with block tables) and nothing about the device behind it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <variant>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/decode_options.h"
#include "engine/engine.h"
#include "engine/generate.h"
#include "engine/pooling.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"

namespace rf::engine {

struct RequestOptions : DecodeOptions {
    std::vector<int32_t> prompt;  // token ids, BOS included when the model wants one
    bool logprobs = false;     // report each generated token's log-probability (softmax of raw logits)
    int64_t top_logprobs = 0;  // and this many best alternatives per step
    std::chrono::milliseconds timeout{0};  // 0: none; counted from submission
    // An embedding instead of generation: the prompt's final hidden states pooled this way and
    // scaled to unit length, in the Finished event. Its tokens are computed in the same steps
    // as generation (never reused from the prefix cache: every row is needed).
    std::optional<Pooling> embed;
};

struct TokenLogprob {
    int32_t token = 0;
    float logprob = 0.0f;
};

struct RequestUsage {
    int64_t prompt_tokens = 0;
    int64_t cached_prompt_tokens = 0;  // reused from the prefix cache, not recomputed
    int64_t completion_tokens = 0;
};

struct RequestTimings {  // seconds, and the steps behind them
    double queued = 0.0;          // submission -> first scheduled
    double prefill = 0.0;         // first scheduled -> first token sampled
    double decode = 0.0;          // first token -> finished
    double time_to_first_token = 0.0;
    int64_t prefill_chunks = 0;   // forward steps that computed part of the prompt before the first token
    int64_t preemptions = 0;      // times it was sent back to the queue to free KV blocks
};

enum class RequestState { Queued, Prefilling, Decoding, Finished };
std::string_view request_state_name(RequestState state);

// What a sink receives, on the scheduler thread. A sink must return quickly and must not block on
// the scheduler (calling cancel() from a sink is allowed).
struct RequestEvent {
    enum class Kind { Token, Finished };
    Kind kind = Kind::Token;
    uint64_t request = 0;
    // Token: the sampled id and the text it releases (whole UTF-8 characters, text that may still
    // become part of a stop string held back; may be empty).
    int32_t token = -1;
    std::string text;
    float logprob = 0.0f;
    std::vector<TokenLogprob> top_logprobs;
    // Finished: why (Cancelled also for timeouts, shutdown and errors, with `error` set for those),
    // the text still held back, counts and timings. `failed`: the request could not run to its
    // end (a failed step, a KV cache too small for it alone), as opposed to being cut short.
    StopReason reason = StopReason::MaxTokens;
    std::string error;
    bool failed = false;
    RequestUsage usage;
    RequestTimings timings;
    std::vector<float> embedding = {};  // Finished, for an embedding request that ended well
};
using EventSink = std::function<void(const RequestEvent&)>;

struct RequestStatus {
    uint64_t id = 0;
    RequestState state = RequestState::Queued;
    RequestUsage usage;
    std::optional<StopReason> reason;  // once finished
};

struct SchedulerOptions {
    int64_t max_queue = 64;           // waiting requests beyond this (and free running slots) are refused
    int64_t max_running = 16;         // at most the engine's max_sequences
    int64_t step_token_budget = 256;  // tokens per forward step, at most the engine's n_batch
    bool prefix_caching = true;
    size_t finished_history = 256;    // finished requests whose status stays queryable
    // Threads that sample a step's rows together (a request's sampling, grammar mask and
    // log-probabilities touch only its own state): 0 takes the cores, up to 8 and max_running;
    // 1 samples on the loop thread. The output does not depend on it.
    int sampling_threads = 0;
    // Called on the loop thread when the engine's device is lost (a step failed with an Error
    // marked device_lost, or kLostAfterFailedSteps steps failed in a row): moves the model to
    // another backend (Engine::relocate) and says where it runs now, or an Error when it cannot.
    // Meanwhile nothing runs and new requests queue. Unset: failed steps only fail their requests.
    std::function<Result<EngineMove>(const Error& cause)> relocate = {};
};

struct SchedulerStats {
    int64_t queued = 0;
    int64_t running = 0;
    int64_t kv_blocks_total = 0;
    int64_t kv_blocks_used = 0;
    int64_t kv_blocks_cached = 0;      // held only by the prefix cache (reusable, evictable)
    int64_t prefix_lookup_tokens = 0;  // prompt tokens that were looked up in the prefix cache
    int64_t prefix_hit_tokens = 0;     // of those, tokens whose KV was reused
    int64_t steps = 0;
    int64_t prompt_tokens = 0;         // computed (not reused) prompt tokens
    int64_t generated_tokens = 0;
    int64_t preemptions = 0;           // running requests sent back to the queue to free KV blocks
    int64_t kv_evictions = 0;          // cached blocks evicted to make room
    int64_t retried_steps = 0;         // steps run again after a transient device failure
    int64_t failed_steps = 0;          // steps that failed (their requests ended with the error)
    int64_t device_fallbacks = 0;      // times the model was moved off a lost device
    // Why the scheduler cannot serve as it should now (the model is being moved, or could not be);
    // empty when it can.
    std::string unavailable = {};
    std::optional<EngineMove> moved = {};  // where the model runs since the last move; none: as loaded
};

enum class SubmitError { Invalid, Overloaded, ShuttingDown };
struct SubmitFailure {
    SubmitError kind = SubmitError::Invalid;
    std::string message;
};

class Scheduler {
public:
    // Steps that fail in a row, with errors not marked device_lost, before the device counts as lost.
    static constexpr int kLostAfterFailedSteps = 3;

    // The engine and tokenizer must outlive the scheduler. Starts the loop thread.
    static Result<std::unique_ptr<Scheduler>> create(Engine& engine, const tokenizer::Tokenizer& tokenizer,
                                                     SchedulerOptions options);
    virtual ~Scheduler() = default;  // stops the loop; unfinished requests finish as Cancelled

    // Queues a request; its events go to `sink`. Invalid: empty prompt, prompt + 1 longer than the
    // context, bad sampling parameters; Overloaded: the queue is full.
    virtual std::variant<uint64_t, SubmitFailure> submit(RequestOptions request, EventSink sink) = 0;
    // Cancels a queued or running request (its blocks are freed before the next step). False when
    // the id is unknown or already finished.
    virtual bool cancel(uint64_t id) = 0;
    virtual std::optional<RequestStatus> status(uint64_t id) const = 0;
    virtual SchedulerStats stats() const = 0;
    // Runs `work` on the loop thread between two forward steps and waits for it: work that must not
    // overlap a step on the same backend (an embedding engine's steps). An Error when the scheduler
    // has stopped, else what `work` returns.
    virtual Status run_between_steps(const std::function<Status()>& work) = 0;
    // Stops admitting (submit answers ShuttingDown), lets queued and running requests finish until
    // `deadline`, cancels what is left, and stops the loop. Idempotent.
    virtual void shutdown(std::chrono::milliseconds deadline) = 0;
};

}  // namespace rf::engine
