// The scheduler loop. Each iteration: finish what was cancelled or timed out (freeing its blocks),
// admit queued requests FIFO while a sequence slot and enough KV blocks are free, build one batch
// (a decode token per running request first, then prompt chunks oldest first, within the token
// budget), run it, sample, stream, and retire finished requests. When the KV pool runs dry the
// newest running request is preempted: back to the front of the queue, to be recomputed later.
//
// Locking: `mu_` guards what other threads touch (the queue, the live set, statuses, stats and
// flags). The engine, its KV cache and the running requests belong to the loop thread alone.
// Sinks are called with no lock held, so a sink may call cancel(), status() or stats().
#include "engine/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "backend/cpu/kernels/thread_pool.h"
#include "engine/request.h"

namespace rf::engine {

std::string_view request_state_name(RequestState state) {
    switch (state) {
        case RequestState::Queued: return "queued";
        case RequestState::Prefilling: return "prefilling";
        case RequestState::Decoding: return "decoding";
        case RequestState::Finished: return "finished";
    }
    return "unknown";
}

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

class SchedulerImpl final : public Scheduler {
public:
    SchedulerImpl(Engine& engine, const tokenizer::Tokenizer& tokenizer, SchedulerOptions options)
        : engine_(engine), tok_(tokenizer), options_(options) {
        for (int32_t s = static_cast<int32_t>(engine.max_sequences()) - 1; s >= 0; --s) free_seqs_.push_back(s);
        // The cache may hold sequences from earlier use of the engine (generate); start clean.
        for (int32_t s = 0; s < engine.max_sequences(); ++s) engine_.cache().release(s);
        refresh_kv_stats();
        refresh_shape();
        int threads = options_.sampling_threads;
        if (threads <= 0)
            threads = static_cast<int>(std::min<int64_t>({std::max(1u, std::thread::hardware_concurrency()), 8,
                                                          std::max<int64_t>(options_.max_running, 1)}));
        sampling_pool_ = std::make_unique<cpu::ThreadPool>(threads);
        thread_ = std::thread([this] { run(); });
    }
    ~SchedulerImpl() override { shutdown(std::chrono::milliseconds(0)); }

    std::variant<uint64_t, SubmitFailure> submit(RequestOptions request, EventSink sink) override;
    bool cancel(uint64_t id) override;
    std::optional<RequestStatus> status(uint64_t id) const override;
    SchedulerStats stats() const override;
    Status run_between_steps(const std::function<Status()>& work) override;
    void shutdown(std::chrono::milliseconds deadline) override;

private:
    void run();
    // Runs the work handed to run_between_steps (loop thread, no lock held while it runs).
    void run_tasks();
    // Under mu_: queued or running requests that are cancelled, timed out, or cut by shutdown.
    void collect_doomed(std::vector<std::pair<RequestPtr, std::string>>& doomed, Clock::time_point now);
    // Under mu_: admits from the head of the queue while there is room.
    void admit(Clock::time_point now);
    // Blocks needed to compute every token a request has plus one more (one decode step).
    int64_t near_blocks(const Request& r) const;
    int64_t outstanding_blocks() const;
    // Makes room for `n` more positions of `r`, preempting the newest running requests when the
    // pool is short; false when `r` itself had to go.
    bool reserve_or_preempt(Request& r, int64_t n, int64_t& budget);
    // `publish`: its computed blocks go to the prefix cache (not those of a device that failed).
    void preempt(Request& r, int64_t& budget, bool publish = true);
    // Builds and runs one step; false when there was nothing to compute.
    bool step();
    // After a step failed: when the device counts as lost, sends the running requests back to the
    // queue and has options_.relocate move the model (once, until a step succeeds again).
    void on_failed_step(const Error& error);
    void refresh_shape();  // under mu_
    // A step's sampling: every logit row drawn at once (on the sampling threads), then each
    // request's token delivered in row order (on the loop thread: events, finishing).
    void sample_rows();
    struct Drawn {
        bool prompt_only = false;  // max_tokens 0: nothing drawn
        DecodeState::Step step;
        std::optional<LogProbs> logprobs;
    };
    // Touches only `r`'s decode state and its own row (`scratch` for a copy of it).
    static Drawn draw(Request& r, std::span<float> logits, std::vector<float>& scratch);
    void deliver(Request& r, Drawn drawn);
    // Adds the step's hidden rows to their embedding requests and finishes those now complete.
    void pool_embeddings();
    enum class Outcome { Ended, Failed };  // RequestEvent::failed
    void finish(Request& r, StopReason reason, std::string error = {}, Outcome outcome = Outcome::Ended);
    void emit(Request& r, const RequestEvent& event) const {
        if (r.sink) r.sink(event);
    }
    void refresh_kv_stats();  // under mu_
    // Under mu_: a new request id, random below 2^53 (exact in a JSON number) and not in use.
    uint64_t draw_id() {
        for (;;) {
            const uint64_t id = (uint64_t{id_source_()} << 32 | id_source_()) & ((uint64_t{1} << 53) - 1);
            if (id != 0 && !statuses_.contains(id)) return id;
        }
    }
    void update_statuses();   // under mu_

    // What submit() checks requests against, read under mu_: the engine changes when the model
    // moves, and submit() runs on other threads.
    struct Shape {
        int64_t n_ctx = 0, n_vocab = 0, block_size = 0, total_blocks = 0;
    };

    Engine& engine_;
    const tokenizer::Tokenizer& tok_;
    const SchedulerOptions options_;

    mutable std::mutex mu_;
    std::condition_variable wake_, drained_;
    std::deque<RequestPtr> queue_;
    struct Task {
        const std::function<Status()>* work;
        std::promise<Status> done;
    };
    std::deque<Task> tasks_;  // run_between_steps, in arrival order
    std::unordered_map<uint64_t, RequestPtr> live_;  // queued and running
    std::unordered_map<uint64_t, RequestStatus> statuses_;
    std::deque<uint64_t> finished_order_;
    SchedulerStats stats_;
    std::random_device id_source_;  // request ids are drawn, so that no client can guess another's
    bool accepting_ = true, cancel_all_ = false, stop_ = false;
    Shape shape_;

    std::mutex join_mu_;
    std::thread thread_;

    // Loop thread only.
    std::vector<RequestPtr> running_;  // in admission order
    std::vector<int32_t> free_seqs_;
    std::vector<BatchToken> batch_;
    std::vector<std::pair<Request*, int64_t>> batch_requests_;  // request, tokens it has in the batch
    std::vector<Request*> logit_rows_;
    std::vector<Request*> hidden_rows_;  // embedding requests, one per hidden row of the step
    std::span<float> logits_;  // the engine's, until the next step
    std::vector<float> hidden_;
    std::vector<Drawn> drawn_;  // per logit row
    std::unique_ptr<cpu::ThreadPool> sampling_pool_;
    int failed_in_a_row_ = 0;
    bool move_failed_ = false;  // relocate failed; not tried again until a step succeeds
};

std::variant<uint64_t, SubmitFailure> SchedulerImpl::submit(RequestOptions request, EventSink sink) {
    auto invalid = [](std::string message) { return SubmitFailure{SubmitError::Invalid, std::move(message)}; };
    const auto n_prompt = static_cast<int64_t>(request.prompt.size());
    const Shape shape = [&] {
        std::lock_guard lock(mu_);
        return shape_;
    }();
    if (n_prompt == 0) return invalid("the prompt has no tokens");
    if (request.embed) {
        request.max_tokens = 0;  // the prompt only
        request.logprobs = false;
        request.top_logprobs = 0;
        if (n_prompt > shape.n_ctx)
            return invalid(fmt::format("the input ({} tokens) is longer than the context of {} tokens", n_prompt,
                                       shape.n_ctx));
    } else if (n_prompt + 1 > shape.n_ctx)
        return invalid(fmt::format("the prompt ({} tokens) leaves no room to generate in the context of {} tokens",
                                   n_prompt, shape.n_ctx));
    for (int32_t t : request.prompt)
        if (t < 0 || t >= shape.n_vocab) return invalid(fmt::format("token id {} is outside the vocabulary", t));
    if (request.max_tokens < 0) return invalid("max_tokens must not be negative");
    if (request.top_logprobs < 0 || request.top_logprobs > shape.n_vocab)
        return invalid(fmt::format("top_logprobs must be in [0, {}]", shape.n_vocab));
    if (request.timeout.count() < 0) return invalid("the timeout must not be negative");
    if (auto valid = validate(request.sampling); !valid.ok()) return invalid(valid.error().message);
    const int64_t bs = shape.block_size;
    const int64_t positions = request.embed ? n_prompt : n_prompt + 1;  // an embedding generates nothing
    if ((positions + bs - 1) / bs > shape.total_blocks)
        return invalid(fmt::format("the prompt ({} tokens) does not fit the KV cache of {} blocks of {}", n_prompt,
                                   shape.total_blocks, bs));

    auto r = std::make_shared<Request>();
    r->options = std::move(request);
    r->sink = std::move(sink);
    r->submitted = Clock::now();
    if (r->options.timeout.count() > 0) r->deadline = r->submitted + r->options.timeout;
    r->prompt_size = n_prompt;

    std::lock_guard lock(mu_);
    if (!accepting_) return SubmitFailure{SubmitError::ShuttingDown, "the server is shutting down"};
    // Requests that a free running slot will take at once do not count as waiting.
    const int64_t free_slots = std::max<int64_t>(0, options_.max_running - stats_.running);
    if (static_cast<int64_t>(queue_.size()) >= options_.max_queue + free_slots)
        return SubmitFailure{SubmitError::Overloaded,
                             fmt::format("{} requests are waiting already; try again later", queue_.size())};
    r->id = draw_id();
    queue_.push_back(r);
    live_[r->id] = r;
    RequestStatus& st = statuses_[r->id];
    st.id = r->id;
    st.usage = r->usage();
    stats_.queued = static_cast<int64_t>(queue_.size());
    wake_.notify_all();
    return r->id;
}

bool SchedulerImpl::cancel(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = live_.find(id);
    if (it == live_.end()) return false;
    it->second->cancel_requested = true;
    wake_.notify_all();
    return true;
}

std::optional<RequestStatus> SchedulerImpl::status(uint64_t id) const {
    std::lock_guard lock(mu_);
    auto it = statuses_.find(id);
    if (it == statuses_.end()) return std::nullopt;
    return it->second;
}

SchedulerStats SchedulerImpl::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void SchedulerImpl::shutdown(std::chrono::milliseconds deadline) {
    {
        std::unique_lock lock(mu_);
        accepting_ = false;
        drained_.wait_for(lock, deadline, [&] { return live_.empty(); });
        cancel_all_ = true;
        stop_ = true;
        wake_.notify_all();
    }
    std::lock_guard join(join_mu_);
    if (thread_.joinable()) thread_.join();
}

Status SchedulerImpl::run_between_steps(const std::function<Status()>& work) {
    std::future<Status> done;
    {
        std::lock_guard lock(mu_);
        if (stop_) return make_error("the scheduler has stopped");
        tasks_.push_back({&work, {}});
        done = tasks_.back().done.get_future();
        wake_.notify_all();
    }
    return done.get();
}

void SchedulerImpl::run_tasks() {
    std::deque<Task> tasks;
    {
        std::lock_guard lock(mu_);
        tasks.swap(tasks_);
    }
    for (Task& t : tasks) t.done.set_value((*t.work)());
}

void SchedulerImpl::run() {
    std::vector<std::pair<RequestPtr, std::string>> doomed;
    while (true) {
        doomed.clear();
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [&] { return stop_ || !queue_.empty() || !running_.empty() || !tasks_.empty(); });
            if (stop_ && live_.empty()) {
                lock.unlock();
                run_tasks();  // those that came before stop_: still answered
                return;
            }
            const auto now = Clock::now();
            collect_doomed(doomed, now);
        }
        run_tasks();
        for (auto& [r, error] : doomed) finish(*r, StopReason::Cancelled, std::move(error));
        std::erase_if(running_, [](const RequestPtr& r) { return r->finished || r->seq < 0; });
        {
            std::lock_guard lock(mu_);
            if (!cancel_all_) admit(Clock::now());
        }
        const bool worked = step();
        std::erase_if(running_, [](const RequestPtr& r) { return r->finished || r->seq < 0; });
        {
            std::lock_guard lock(mu_);
            update_statuses();
            refresh_kv_stats();
            if (live_.empty()) drained_.notify_all();
        }
        // Nothing could run (the queue head waits for room that only a finish can make): do not spin.
        if (!worked && doomed.empty()) {
            std::unique_lock lock(mu_);
            wake_.wait_for(lock, std::chrono::milliseconds(5));
        }
    }
}

void SchedulerImpl::collect_doomed(std::vector<std::pair<RequestPtr, std::string>>& doomed, Clock::time_point now) {
    auto verdict = [&](const Request& r) -> std::optional<std::string> {
        if (r.cancel_requested) return std::string();
        if (cancel_all_) return std::string("the scheduler shut down before the request finished");
        if (r.deadline && now >= *r.deadline)
            return fmt::format("the request timed out after {} ms", r.options.timeout.count());
        if (r.seq < 0 && near_blocks(r) > engine_.cache().total_blocks())  // preempted, and now too long
            return fmt::format("the request no longer fits the KV cache of {} blocks", engine_.cache().total_blocks());
        return std::nullopt;
    };
    for (auto it = queue_.begin(); it != queue_.end();) {
        if (auto why = verdict(**it)) {
            doomed.emplace_back(*it, std::move(*why));
            it = queue_.erase(it);
        } else {
            ++it;
        }
    }
    for (const RequestPtr& r : running_)
        if (!r->finished && r->seq >= 0)
            if (auto why = verdict(*r)) doomed.emplace_back(r, std::move(*why));
    stats_.queued = static_cast<int64_t>(queue_.size());
}

int64_t SchedulerImpl::near_blocks(const Request& r) const {
    const int64_t bs = engine_.cache().block_size();
    const int64_t positions = std::min(engine_.n_ctx(), static_cast<int64_t>(r.tokens.size()) + 1);
    return (positions + bs - 1) / bs;
}

int64_t SchedulerImpl::outstanding_blocks() const {
    int64_t n = 0;
    for (const RequestPtr& r : running_)
        if (!r->finished && r->seq >= 0) n += std::max<int64_t>(0, near_blocks(*r) - engine_.cache().held_blocks(r->seq));
    return n;
}

void SchedulerImpl::admit(Clock::time_point now) {
    KvCache& cache = engine_.cache();
    const auto max_running = static_cast<size_t>(options_.max_running);
    while (!queue_.empty() && running_.size() < max_running && !free_seqs_.empty()) {
        Request& r = *queue_.front();
        const std::span<const int32_t> prompt = r.options.prompt;
        // A preempted request comes back with everything it had (prompt and generated tokens)
        // to recompute; its sampler and stream state were kept.
        if (!r.started) r.tokens.assign(prompt.begin(), prompt.end());
        const bool reuse = options_.prefix_caching && !r.options.embed;  // an embedding needs every row
        const PrefixMatch match = reuse ? cache.probe_prefix(r.tokens) : PrefixMatch{};
        // Admit when its tokens and one decode step fit next to what the running requests need
        // for theirs; later growth is met by evicting cached blocks or preempting the newest.
        const int64_t room = cache.available_blocks() - match.evictable - outstanding_blocks();
        if (room < near_blocks(r) - match.blocks) break;  // FIFO: later requests wait behind it
        r.seq = free_seqs_.back();
        free_seqs_.pop_back();
        const int64_t reused = reuse ? cache.adopt_prefix(r.seq, r.tokens) : 0;
        r.computed = reused;
        if (!r.started) {
            r.cached = reused;
            r.decode.emplace(tok_, static_cast<const DecodeOptions&>(r.options));
            r.decode->accept_prompt(prompt);
            r.scheduled = now;
            r.started = true;
        }
        r.state = RequestState::Prefilling;
        if (reuse) {
            stats_.prefix_lookup_tokens += static_cast<int64_t>(r.tokens.size());
            stats_.prefix_hit_tokens += reused;
        }
        running_.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    stats_.queued = static_cast<int64_t>(queue_.size());
    refresh_kv_stats();
}

bool SchedulerImpl::reserve_or_preempt(Request& r, int64_t n, int64_t& budget) {
    KvCache& cache = engine_.cache();
    while (!cache.reserve(r.seq, r.computed + n).ok()) {
        Request* newest = nullptr;
        int64_t active = 0;
        for (const RequestPtr& q : running_) {
            if (q->finished || q->seq < 0) continue;
            newest = q.get();
            ++active;
        }
        if (active == 1) {  // alone and still short: the pool is too small for this request
            finish(r, StopReason::ContextFull, fmt::format("the KV cache ({} blocks) is full", cache.total_blocks()),
                   Outcome::Failed);
            return false;
        }
        preempt(*newest, budget);
        if (newest == &r) return false;
    }
    return true;
}

void SchedulerImpl::preempt(Request& r, int64_t& budget, bool publish) {
    // Take back what it has in this step's batch.
    for (auto it = batch_requests_.begin(); it != batch_requests_.end(); ++it) {
        if (it->first != &r) continue;
        budget += it->second;
        batch_requests_.erase(it);
        std::erase_if(batch_, [&](const BatchToken& t) { return t.seq == r.seq; });
        std::erase(logit_rows_, &r);
        std::erase(hidden_rows_, &r);
        break;
    }
    r.embedding_sum.clear();  // recomputed from its first token
    // Recomputation gives the same keys and values (and, with prefix caching, most come back
    // from the cache), so the request's output does not change. Only computed positions may be
    // published: those reserved for this step were never filled.
    if (options_.prefix_caching && publish)
        engine_.cache().publish(r.seq, std::span(r.tokens).first(static_cast<size_t>(r.computed)));
    engine_.cache().release(r.seq);
    free_seqs_.push_back(r.seq);
    r.seq = -1;
    r.computed = 0;
    r.state = RequestState::Queued;
    ++r.preemptions;
    std::lock_guard lock(mu_);
    ++stats_.preemptions;
    for (const RequestPtr& q : running_)
        if (q.get() == &r) queue_.push_front(q);  // ahead of requests that never ran
    if (auto it = statuses_.find(r.id); it != statuses_.end()) it->second.state = RequestState::Queued;
    stats_.queued = static_cast<int64_t>(queue_.size());
    refresh_kv_stats();
}

bool SchedulerImpl::step() {
    KvCache& cache = engine_.cache();
    int64_t budget = options_.step_token_budget;
    batch_.clear();
    batch_requests_.clear();
    logit_rows_.clear();
    hidden_rows_.clear();
    auto add = [&](Request& r, int64_t n) {
        if (!reserve_or_preempt(r, n, budget)) return;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t pos = r.computed + i;
            const auto size = r.tokens.size();
            const bool last = pos + 1 == static_cast<int64_t>(size);
            if (r.options.embed) {
                const bool wanted = pooled(*r.options.embed, static_cast<size_t>(pos), size);
                batch_.push_back({r.tokens[pos], r.seq, static_cast<int32_t>(pos), false, wanted});
                if (wanted) hidden_rows_.push_back(&r);
                continue;
            }
            batch_.push_back({r.tokens[pos], r.seq, static_cast<int32_t>(pos), last});
            if (last) logit_rows_.push_back(&r);
        }
        batch_requests_.emplace_back(&r, n);
        budget -= n;
    };
    auto active = [](const RequestPtr& r) { return !r->finished && r->seq >= 0; };
    // Decode tokens first (inter-token latency), then prompt chunks, oldest request first.
    for (size_t i = 0; i < running_.size(); ++i)
        if (active(running_[i]) && running_[i]->state == RequestState::Decoding && budget > 0) add(*running_[i], 1);
    for (size_t i = 0; i < running_.size(); ++i) {
        Request& r = *running_[i];
        if (!active(running_[i]) || r.state != RequestState::Prefilling || budget <= 0) continue;
        add(r, std::min(budget, static_cast<int64_t>(r.tokens.size()) - r.computed));
    }
    if (batch_.empty()) return false;

    auto stepped = engine_.step_logits(batch_, hidden_rows_.empty() ? nullptr : &hidden_);
    const Status done = stepped.ok() ? ok_status() : Status(stepped.error());
    logits_ = stepped.ok() ? *stepped : std::span<float>();
    if (!done.ok()) {
        {
            std::lock_guard lock(mu_);
            ++stats_.failed_steps;
        }
        for (auto& [r, n] : batch_requests_)
            if (!r->finished)
                finish(*r, StopReason::Cancelled, "the forward step failed: " + done.error().message, Outcome::Failed);
        on_failed_step(done.error());
        return true;
    }
    failed_in_a_row_ = 0;
    if (move_failed_) {  // the device works again after all
        move_failed_ = false;
        std::lock_guard lock(mu_);
        stats_.unavailable.clear();
    }
    int64_t prompt_tokens = 0;
    for (auto& [r, n] : batch_requests_) {
        if (r->state == RequestState::Prefilling) prompt_tokens += n;
        if (r->state == RequestState::Prefilling && r->generated() == 0) ++r->prefill_chunks;
        r->computed += n;
        if (options_.prefix_caching) cache.publish(r->seq, std::span(r->tokens).first(static_cast<size_t>(r->computed)));
    }
    {
        std::lock_guard lock(mu_);
        ++stats_.steps;
        stats_.prompt_tokens += prompt_tokens;
        stats_.generated_tokens += static_cast<int64_t>(logit_rows_.size());
    }
    sample_rows();
    pool_embeddings();
    return true;
}

void SchedulerImpl::pool_embeddings() {
    const auto dim = static_cast<size_t>(engine_.hparams().n_embd);
    for (size_t i = 0; i < hidden_rows_.size(); ++i) {
        std::vector<double>& sum = hidden_rows_[i]->embedding_sum;
        sum.resize(dim, 0.0);
        for (size_t j = 0; j < dim; ++j) sum[j] += hidden_[i * dim + j];
    }
    for (auto& [r, n] : batch_requests_) {
        if (!r->options.embed || r->finished || r->computed < static_cast<int64_t>(r->tokens.size())) continue;
        auto vector = unit_length(r->embedding_sum);
        if (!vector.ok()) {
            finish(*r, StopReason::Cancelled, "embedding: " + vector.error().message, Outcome::Failed);
            continue;
        }
        r->embedding = std::move(*vector);
        finish(*r, StopReason::MaxTokens);
    }
}

void SchedulerImpl::on_failed_step(const Error& error) {
    ++failed_in_a_row_;
    if (move_failed_ || (!error.device_lost && failed_in_a_row_ < kLostAfterFailedSteps)) return;
    if (!options_.relocate) {  // nowhere to move: unavailable (/ready 503) until a step succeeds
        move_failed_ = true;
        std::lock_guard lock(mu_);
        stats_.unavailable = fmt::format("the device failed ({}) and there is no other backend to move the model to",
                                         error.message);
        return;
    }
    {
        std::lock_guard lock(mu_);
        stats_.unavailable = fmt::format("the device failed ({}); the model is being moved", error.message);
    }
    // The running requests' keys and values were on the lost device: they go back to the front
    // of the queue (oldest first), as preempted, to be recomputed after the move with the
    // sampler and stream state they had, so their output does not change.
    int64_t no_budget = 0;
    for (auto it = running_.rbegin(); it != running_.rend(); ++it)
        if (!(*it)->finished && (*it)->seq >= 0) preempt(**it, no_budget, /*publish=*/false);
    // Queued requests wait meanwhile (nothing else runs on this thread).
    Result<EngineMove> moved = options_.relocate(error);
    std::lock_guard lock(mu_);
    if (moved.ok()) {
        failed_in_a_row_ = 0;
        ++stats_.device_fallbacks;
        stats_.moved = std::move(*moved);
        stats_.unavailable.clear();
    } else {
        move_failed_ = true;
        stats_.unavailable = fmt::format("the device failed ({}) and the model could not be moved: {}",
                                         error.message, moved.error().message);
    }
    refresh_shape();
    refresh_kv_stats();
}

void SchedulerImpl::sample_rows() {
    const auto n_vocab = static_cast<size_t>(engine_.n_vocab());
    const size_t n = logit_rows_.size();
    drawn_.assign(n, {});
    const auto draw_rows = [&](int64_t begin, int64_t end) {
        std::vector<float> scratch;
        for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i)
            if (!logit_rows_[i]->finished)
                drawn_[i] = draw(*logit_rows_[i], {logits_.data() + i * n_vocab, n_vocab}, scratch);
    };
    if (n > 1 && sampling_pool_->size() > 1)
        sampling_pool_->parallel_for(static_cast<int64_t>(n), draw_rows, /*chunks_per_thread=*/1);
    else
        draw_rows(0, static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i)
        if (!logit_rows_[i]->finished) deliver(*logit_rows_[i], std::move(drawn_[i]));
}

SchedulerImpl::Drawn SchedulerImpl::draw(Request& r, std::span<float> logits, std::vector<float>& scratch) {
    Drawn d;
    if (r.decode->at_limit()) {  // max_tokens 0: the prompt only
        d.prompt_only = true;
        return d;
    }
    std::span<float> row = logits;
    if (r.wants_logprobs()) {  // the sampler changes the row; log-probabilities are of the raw logits
        scratch.assign(logits.begin(), logits.end());
        row = scratch;
    }
    d.step = r.decode->sample(row);
    if (d.step.error.empty() && r.wants_logprobs()) d.logprobs = log_probs(logits, d.step.token, r.options.top_logprobs);
    return d;
}

void SchedulerImpl::deliver(Request& r, Drawn drawn) {
    if (drawn.prompt_only) {
        finish(r, StopReason::MaxTokens);
        return;
    }
    DecodeState::Step& step = drawn.step;
    if (!step.error.empty()) {
        finish(r, StopReason::Cancelled, step.error, Outcome::Failed);
        return;
    }
    RequestEvent e;
    e.kind = RequestEvent::Kind::Token;
    e.request = r.id;
    if (drawn.logprobs) {
        e.logprob = drawn.logprobs->logprob;
        for (auto [id, value] : drawn.logprobs->top) e.top_logprobs.push_back({id, value});
    }
    r.tokens.push_back(step.token);
    if (r.generated() == 1) r.first_token = Clock::now();
    r.state = RequestState::Decoding;
    e.token = step.token;
    e.text = std::move(step.text);
    emit(r, e);
    if (step.stop) {
        finish(r, *step.stop);
    } else if (r.computed >= engine_.n_ctx()) {
        finish(r, StopReason::ContextFull);
    } else if (r.decode->at_limit()) {
        finish(r, StopReason::MaxTokens);
    }
}

void SchedulerImpl::finish(Request& r, StopReason reason, std::string error, Outcome outcome) {
    if (r.finished) return;
    r.finished = true;
    const auto now = Clock::now();
    RequestEvent e;
    e.kind = RequestEvent::Kind::Finished;
    e.request = r.id;
    e.reason = reason;
    e.error = std::move(error);
    e.failed = outcome == Outcome::Failed;
    e.embedding = std::move(r.embedding);
    if (r.decode) e.text = r.decode->finish(reason);
    if (r.seq >= 0) {
        engine_.cache().release(r.seq);
        free_seqs_.push_back(r.seq);
        r.seq = -1;
    }
    e.usage = r.usage();
    const bool started = r.started;
    e.timings.queued = seconds_between(r.submitted, started ? r.scheduled : now);
    e.timings.prefill_chunks = r.prefill_chunks;
    e.timings.preemptions = r.preemptions;
    if (started && r.generated() > 0) {
        e.timings.prefill = seconds_between(r.scheduled, r.first_token);
        e.timings.decode = seconds_between(r.first_token, now);
        e.timings.time_to_first_token = seconds_between(r.submitted, r.first_token);
    } else if (started) {
        e.timings.prefill = seconds_between(r.scheduled, now);
    }
    r.state = RequestState::Finished;
    {
        std::lock_guard lock(mu_);
        RequestStatus& st = statuses_[r.id];
        st.id = r.id;
        st.state = RequestState::Finished;
        st.usage = e.usage;
        st.reason = reason;
        live_.erase(r.id);
        finished_order_.push_back(r.id);
        while (finished_order_.size() > options_.finished_history) {
            statuses_.erase(finished_order_.front());
            finished_order_.pop_front();
        }
        refresh_kv_stats();
    }
    emit(r, e);
}

void SchedulerImpl::refresh_kv_stats() {
    const KvCache& cache = engine_.cache();
    stats_.running = 0;
    for (const RequestPtr& r : running_) stats_.running += !r->finished && r->seq >= 0 ? 1 : 0;
    stats_.kv_blocks_total = cache.total_blocks();
    stats_.kv_blocks_used = cache.used_blocks();
    stats_.kv_blocks_cached = cache.cached_blocks();
    stats_.kv_evictions = cache.evictions();
    stats_.retried_steps = engine_.retried_steps();
}

void SchedulerImpl::refresh_shape() {
    shape_ = {.n_ctx = engine_.n_ctx(),
              .n_vocab = engine_.n_vocab(),
              .block_size = engine_.cache().block_size(),
              .total_blocks = engine_.cache().total_blocks()};
}

void SchedulerImpl::update_statuses() {
    for (const RequestPtr& r : running_) {
        auto it = statuses_.find(r->id);
        if (it == statuses_.end()) continue;
        it->second.state = r->state;
        it->second.usage = r->usage();
    }
}

}  // namespace

Result<std::unique_ptr<Scheduler>> Scheduler::create(Engine& engine, const tokenizer::Tokenizer& tokenizer,
                                                     SchedulerOptions o) {
    if (o.max_queue < 0) return make_error("the queue length must not be negative, not {}", o.max_queue);
    if (o.max_running < 1) return make_error("at least one request must run, not {}", o.max_running);
    if (o.step_token_budget < 1) return make_error("a step needs a token budget of at least 1, not {}", o.step_token_budget);
    // The engine bounds both: sequences it has slots for, tokens one step takes. Every running
    // request needs a decode token per step, so the budget also bounds the running count.
    o.max_running = std::min({o.max_running, engine.max_sequences(), o.step_token_budget});
    o.step_token_budget = std::min(o.step_token_budget, engine.n_batch());
    o.max_running = std::min(o.max_running, o.step_token_budget);
    return std::unique_ptr<Scheduler>(std::make_unique<SchedulerImpl>(engine, tokenizer, o));
}

}  // namespace rf::engine
