// The continuous-batching scheduler on a small synthetic model: concurrent requests give exactly
// what each gives alone, prefix reuse changes nothing but the work done, cancellation, timeouts,
// the bounded queue and shutdown behave, and no KV block leaks.
#include <gtest/gtest.h>

#include <future>
#include <random>
#include <set>
#include <thread>

#include "engine/generate.h"
#include "grammar/gbnf_parser.h"
#include "engine/scheduler.h"
#include "engine/embedder.h"
#include "engine_fixture.h"
#include "scheduler_support.h"

namespace rf::engine {
namespace {

using namespace std::chrono_literals;
using namespace test;

struct Served {
    test::TinyModel model;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<Scheduler> scheduler;

    explicit Served(SchedulerOptions so = {}, EngineOptions eo = {.n_ctx = 128, .n_batch = 64, .max_sequences = 32,
                                                                  .block_size = 4, .kv_type = KvType::F32}) {
        engine = model.engine(eo);
        auto s = Scheduler::create(*engine, *model.tok, so);
        EXPECT_TRUE(s.ok()) << s.error().message;
        scheduler = std::move(*s);
    }
    // Used blocks back to zero and every block free or cached.
    void expect_no_leak() {
        const SchedulerStats st = scheduler->stats();
        EXPECT_EQ(st.kv_blocks_used, 0);
        EXPECT_EQ(st.running, 0);
        EXPECT_EQ(st.queued, 0);
        EXPECT_EQ(engine->cache().free_blocks() + engine->cache().cached_blocks(), engine->cache().total_blocks());
    }
};

TEST(Scheduler, ThirtyTwoConcurrentRequestsMatchEachRunAlone) {
    constexpr size_t kRequests = 32;
    std::vector<RequestOptions> requests;
    for (size_t i = 0; i < kRequests; ++i) {
        RequestOptions r = greedy(prompt_of(static_cast<uint32_t>(i), 2 + (i * 7) % 37), 1 + static_cast<int64_t>(i % 12));
        if (i % 5 == 0) {  // sampled, with its own seed
            r.sampling = {.temperature = 0.9f, .top_k = 20, .seed = 1000 + i};
        }
        if (i % 7 == 3) r.stop_strings = {"a"};
        requests.push_back(r);
    }
    // Alone: one request at a time.
    Collector alone;
    {
        Served s({.max_running = 1, .prefix_caching = false});
        for (size_t i = 0; i < kRequests; ++i) {
            submitted(s.scheduler->submit(requests[i], alone.sink(i)));
            ASSERT_TRUE(alone.wait(i + 1));
        }
        s.expect_no_leak();
    }
    std::set<std::vector<int32_t>> distinct;
    for (size_t i = 0; i < kRequests; ++i) {
        EXPECT_FALSE(alone.get(i).tokens.empty()) << i;
        distinct.insert(alone.get(i).tokens);
    }
    EXPECT_GT(distinct.size(), kRequests / 2);  // the requests really differ
    // The single-sequence loop agrees on the greedy ones.
    {
        test::TinyModel m;
        for (size_t i : {1, 2, 9}) {
            auto e = m.engine({.n_ctx = 128, .n_batch = 64, .max_sequences = 1, .block_size = 4});
            GenerateOptions alone_options;
            static_cast<DecodeOptions&>(alone_options) = requests[i];
            alone_options.stop_at_end_of_generation = false;
            auto r = generate(*e, *m.tok, requests[i].prompt, alone_options);
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->tokens, alone.get(i).tokens) << "request " << i;
            EXPECT_EQ(r->text, alone.get(i).text) << "request " << i;
        }
    }
    // All at once, with a small budget so prompts are chunked and interleaved with decoding.
    for (bool staggered : {false, true}) {
        Collector together;
        Served s({.max_running = 32, .step_token_budget = 48});
        for (size_t i = 0; i < kRequests; ++i) {
            submitted(s.scheduler->submit(requests[i], together.sink(i)));
            if (staggered && i % 4 == 3) std::this_thread::sleep_for(2ms);
        }
        ASSERT_TRUE(together.wait(kRequests));
        for (size_t i = 0; i < kRequests; ++i) {
            expect_same(together.get(i), alone.get(i), i);
            EXPECT_EQ(together.get(i).finished_count, 1);
        }
        const SchedulerStats st = s.scheduler->stats();
        EXPECT_GT(st.steps, 0);
        EXPECT_LT(st.steps, 200);  // batched, not one request after another
        s.expect_no_leak();
    }
}

// A step's rows sampled on several threads give what one thread gives: sampled and greedy rows,
// log-probabilities, a grammar, and a prompt-only request, all in the same steps (the loop is held
// until every request is queued).
TEST(Scheduler, SamplingOnSeveralThreadsChangesNothing) {
    auto words = grammar::parse_gbnf(R"(root ::= [a-z]{3,12} " " [a-z]{2,8} ".")");
    ASSERT_TRUE(words.ok()) << words.error().message;
    const auto g = std::make_shared<const grammar::Grammar>(std::move(*words));
    constexpr size_t kRequests = 12;
    std::vector<RequestOptions> requests;
    for (size_t i = 0; i < kRequests; ++i) {
        RequestOptions r = greedy(prompt_of(static_cast<uint32_t>(100 + i), 3 + i % 5), 4 + static_cast<int64_t>(i % 6));
        if (i % 2 == 0) r.sampling = {.temperature = 1.0f, .seed = 7 + i};
        if (i % 4 == 1) {
            r.grammar = g;
            r.max_tokens = 40;
        }
        if (i == kRequests - 1) r.max_tokens = 0;
        requests.push_back(r);
    }
    std::vector<Output> outputs[2];
    for (int run = 0; run < 2; ++run) {
        Collector c;
        LoopGate gate;
        Served s({.max_running = kRequests, .sampling_threads = run == 0 ? 1 : 4});
        RequestOptions first = greedy(prompt_of(1, 2), 1);
        submitted(s.scheduler->submit(first, c.sink(kRequests, gate.hook())));
        gate.wait_until_held();
        for (size_t i = 0; i < kRequests; ++i) submitted(s.scheduler->submit(requests[i], c.sink(i)));
        gate.release();
        ASSERT_TRUE(c.wait(kRequests + 1));
        for (size_t i = 0; i < kRequests; ++i) outputs[run].push_back(c.get(i));
        s.expect_no_leak();
    }
    for (size_t i = 0; i < kRequests; ++i) {
        expect_same(outputs[1][i], outputs[0][i], i);
        EXPECT_FALSE(outputs[1][i].finished->failed) << i << ": " << outputs[1][i].finished->error;
        if (requests[i].grammar) {
            EXPECT_EQ(outputs[1][i].text.back(), '.') << i << ": " << outputs[1][i].text;
        }
    }
    EXPECT_TRUE(outputs[1][kRequests - 1].tokens.empty());
}

TEST(Scheduler, SharedPrefixIsReusedAndChangesNothing) {
    const auto system = prompt_of(77, 41);
    auto first = greedy(system, 4), second = greedy(system, 6);
    first.prompt.push_back(50);
    for (int32_t t : {60, 61, 62}) second.prompt.push_back(t);

    Collector plain;
    {
        Served s({.prefix_caching = false});
        submitted(s.scheduler->submit(second, plain.sink(0)));
        ASSERT_TRUE(plain.wait(1));
        EXPECT_EQ(plain.get(0).finished->usage.cached_prompt_tokens, 0);
        EXPECT_EQ(s.scheduler->stats().prefix_lookup_tokens, 0);
    }
    Collector cached;
    Served s;
    submitted(s.scheduler->submit(first, cached.sink(0)));
    ASSERT_TRUE(cached.wait(1));
    EXPECT_EQ(cached.get(0).finished->usage.cached_prompt_tokens, 0);
    EXPECT_GT(s.scheduler->stats().kv_blocks_cached, 0);
    submitted(s.scheduler->submit(second, cached.sink(1)));
    ASSERT_TRUE(cached.wait(2));
    const Output reused = cached.get(1);
    EXPECT_EQ(reused.finished->usage.cached_prompt_tokens, 40);  // ten full blocks of the 41 shared tokens
    EXPECT_EQ(reused.finished->usage.prompt_tokens, 44);
    EXPECT_EQ(reused.finished->timings.prefill_chunks, 1);  // the four new tokens in one step
    expect_same(reused, plain.get(0), 1);
    const SchedulerStats st = s.scheduler->stats();
    EXPECT_EQ(st.prefix_lookup_tokens, 42 + 44);
    EXPECT_EQ(st.prefix_hit_tokens, 40);
    EXPECT_EQ(st.prompt_tokens, 42 + 4);
    s.expect_no_leak();
}

// A prompt longer than the step's token budget is computed in chunks, which its finish counts.
TEST(Scheduler, PrefillChunksAreCounted) {
    Served s({.step_token_budget = 16, .prefix_caching = false});
    Collector c;
    submitted(s.scheduler->submit(greedy(prompt_of(90, 41), 3), c.sink(0)));
    ASSERT_TRUE(c.wait(1));
    const Output out = c.get(0);
    const RequestEvent& done = *out.finished;
    EXPECT_EQ(done.timings.prefill_chunks, 3);  // 16 + 16 + 9 prompt tokens
    EXPECT_EQ(done.timings.preemptions, 0);
    EXPECT_GT(done.timings.prefill, 0.0);
    s.expect_no_leak();
}

// A queued request reports no completion tokens (not minus its prompt), also once cancelled; ids
// are drawn at random, below 2^53, and differ.
TEST(Scheduler, QueuedRequestsReportNoCompletionTokensAndIdsAreRandom) {
    Served s({.max_running = 1});
    Collector c;
    const uint64_t running = submitted(s.scheduler->submit(greedy(prompt_of(1, 5), 200), c.sink(0)));
    const uint64_t queued = submitted(s.scheduler->submit(greedy(prompt_of(2, 9), 3), c.sink(1)));
    EXPECT_NE(running, queued);
    EXPECT_LT(running, uint64_t{1} << 53);
    EXPECT_LT(queued, uint64_t{1} << 53);
    EXPECT_FALSE(running == 1 && queued == 2) << "ids look sequential";
    auto st = s.scheduler->status(queued);
    ASSERT_TRUE(st.has_value());
    if (st->state == RequestState::Queued) {
        EXPECT_EQ(st->usage.completion_tokens, 0);
    }
    EXPECT_GE(st->usage.completion_tokens, 0);
    EXPECT_TRUE(s.scheduler->cancel(queued));
    EXPECT_TRUE(s.scheduler->cancel(running));
    ASSERT_TRUE(c.wait(2));
    EXPECT_EQ(c.get(1).finished->usage.completion_tokens, 0);
    st = s.scheduler->status(queued);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->usage.completion_tokens, 0);
    s.expect_no_leak();
}

TEST(Scheduler, CancelMidPrefillAndMidDecodeFreesTheBlocks) {
    Served s({.step_token_budget = 8});
    Collector c;
    std::atomic<uint64_t> long_id{0};
    std::atomic<uint64_t> self_id{0};
    // A long prompt is prefilled 8 tokens a step at most (less what the others take); the short
    // request's second token cancels it from inside the short request's sink.
    std::atomic<int> short_tokens{0};
    submitted(s.scheduler->submit(greedy(prompt_of(2, 3), 6), c.sink(1, [&](const RequestEvent& e) {
        if (e.kind != RequestEvent::Kind::Token || ++short_tokens != 2) return;
        while (long_id == 0) std::this_thread::yield();  // the test thread is storing it
        EXPECT_TRUE(s.scheduler->cancel(long_id));
    })));
    long_id = submitted(s.scheduler->submit(greedy(prompt_of(1, 120), 5), c.sink(0)));
    // A request cancels itself from its sink after three tokens.
    int tokens = 0;
    self_id = submitted(s.scheduler->submit(greedy(prompt_of(3, 5), 100), c.sink(2, [&](const RequestEvent& e) {
        if (e.kind != RequestEvent::Kind::Token || ++tokens != 3) return;
        while (self_id == 0) std::this_thread::yield();
        EXPECT_TRUE(s.scheduler->cancel(self_id));
    })));
    ASSERT_TRUE(c.wait(3));
    const Output prefill = c.get(0), decode = c.get(2);
    EXPECT_EQ(prefill.finished->reason, StopReason::Cancelled);
    EXPECT_TRUE(prefill.tokens.empty());
    EXPECT_TRUE(prefill.finished->error.empty());
    EXPECT_EQ(decode.finished->reason, StopReason::Cancelled);
    EXPECT_EQ(decode.tokens.size(), 3u);
    EXPECT_EQ(decode.finished->usage.completion_tokens, 3);
    EXPECT_EQ(c.get(1).finished->reason, StopReason::MaxTokens);
    EXPECT_FALSE(s.scheduler->cancel(self_id));  // already finished
    EXPECT_FALSE(s.scheduler->cancel(12345));
    auto st = s.scheduler->status(long_id);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->state, RequestState::Finished);
    EXPECT_EQ(st->reason, StopReason::Cancelled);
    s.expect_no_leak();
}

TEST(Scheduler, FullQueueIsOverloadedAndBadRequestsAreInvalid) {
    Served s({.max_queue = 2, .max_running = 1});
    Collector c;
    LoopGate gate;  // the first request's first token holds the loop thread until the test lets it go
    submitted(s.scheduler->submit(greedy(prompt_of(4, 4), 3), c.sink(0, gate.hook())));
    gate.wait_until_held();
    submitted(s.scheduler->submit(greedy(prompt_of(5, 4), 2), c.sink(1)));
    submitted(s.scheduler->submit(greedy(prompt_of(6, 4), 2), c.sink(2)));
    auto refused = s.scheduler->submit(greedy(prompt_of(7, 4), 2), c.sink(3));
    ASSERT_TRUE(std::holds_alternative<SubmitFailure>(refused));
    EXPECT_EQ(std::get<SubmitFailure>(refused).kind, SubmitError::Overloaded);
    EXPECT_EQ(s.scheduler->stats().queued, 2);
    gate.release();
    ASSERT_TRUE(c.wait(3));

    // max_queue 0: only what a free running slot takes at once is accepted.
    {
        Served z({.max_queue = 0, .max_running = 1});
        Collector zc;
        std::promise<void> in, out;
        auto let_go = out.get_future().share();
        std::atomic<bool> once{true};
        submitted(z.scheduler->submit(greedy(prompt_of(11, 4), 2), zc.sink(0, [&](const RequestEvent&) {
            if (once.exchange(false)) {
                in.set_value();
                let_go.wait();
            }
        })));
        in.get_future().wait();
        auto busy = z.scheduler->submit(greedy(prompt_of(12, 4), 2), zc.sink(1));
        ASSERT_TRUE(std::holds_alternative<SubmitFailure>(busy));
        EXPECT_EQ(std::get<SubmitFailure>(busy).kind, SubmitError::Overloaded);
        out.set_value();
        ASSERT_TRUE(zc.wait(1));
    }

    auto kind = [&](RequestOptions r) {
        auto result = s.scheduler->submit(std::move(r), {});
        return std::holds_alternative<SubmitFailure>(result) ? std::get<SubmitFailure>(result).kind
                                                             : SubmitError::ShuttingDown;
    };
    EXPECT_EQ(kind(greedy({}, 2)), SubmitError::Invalid);
    EXPECT_EQ(kind(greedy(prompt_of(8, 128), 2)), SubmitError::Invalid);  // no room to generate
    EXPECT_EQ(kind(greedy({1, 300}, 2)), SubmitError::Invalid);           // outside the vocabulary
    EXPECT_EQ(kind(greedy({1, 5}, -1)), SubmitError::Invalid);
    auto hot = greedy({1, 5}, 2);
    hot.sampling.temperature = -1.0f;
    EXPECT_EQ(kind(hot), SubmitError::Invalid);
    auto many = greedy({1, 5}, 2);
    many.top_logprobs = -2;
    EXPECT_EQ(kind(many), SubmitError::Invalid);
    s.expect_no_leak();
}

TEST(Scheduler, TimeoutsCancelQueuedAndRunningRequests) {
    Served s({.max_running = 1});
    Collector c;
    // Each token of the first request takes 5 ms to consume; it times out after 150 ms.
    auto slow = greedy(prompt_of(9, 4), 100);
    slow.timeout = 150ms;
    submitted(s.scheduler->submit(slow, c.sink(0, [](const RequestEvent&) { std::this_thread::sleep_for(5ms); })));
    // The second waits in the queue behind it (one running at a time) and times out there.
    auto waiting = greedy(prompt_of(10, 4), 2);
    waiting.timeout = 10ms;
    submitted(s.scheduler->submit(waiting, c.sink(1)));
    ASSERT_TRUE(c.wait(2));
    const Output a = c.get(0), b = c.get(1);
    EXPECT_EQ(a.finished->reason, StopReason::Cancelled);
    EXPECT_NE(a.finished->error.find("timed out"), std::string::npos);
    EXPECT_FALSE(a.finished->failed);  // cut short, not failed
    EXPECT_GT(a.tokens.size(), 0u);
    EXPECT_LT(a.tokens.size(), 100u);
    EXPECT_EQ(b.finished->reason, StopReason::Cancelled);
    EXPECT_NE(b.finished->error.find("timed out"), std::string::npos);
    EXPECT_TRUE(b.tokens.empty());
    s.expect_no_leak();
}

TEST(Scheduler, ShutdownDrainsThenRefuses) {
    Served s;
    Collector c;
    for (size_t i = 0; i < 4; ++i) submitted(s.scheduler->submit(greedy(prompt_of(20 + i, 6), 8), c.sink(i)));
    s.scheduler->shutdown(30s);
    for (size_t i = 0; i < 4; ++i) {
        const Output o = c.get(i);
        ASSERT_TRUE(o.finished.has_value()) << i;
        EXPECT_EQ(o.finished->reason, StopReason::MaxTokens);
        EXPECT_EQ(o.tokens.size(), 8u);
    }
    auto refused = s.scheduler->submit(greedy(prompt_of(30, 4), 2), {});
    ASSERT_TRUE(std::holds_alternative<SubmitFailure>(refused));
    EXPECT_EQ(std::get<SubmitFailure>(refused).kind, SubmitError::ShuttingDown);
    s.scheduler->shutdown(0ms);  // idempotent
    s.expect_no_leak();

    // A deadline that passes cancels what is left, and every request still hears how it ended.
    Served t({.max_running = 1});
    Collector d;
    for (size_t i = 0; i < 3; ++i)
        submitted(t.scheduler->submit(greedy(prompt_of(40 + i, 6), 120),
                                      d.sink(i, [](const RequestEvent&) { std::this_thread::sleep_for(1ms); })));
    t.scheduler->shutdown(20ms);
    for (size_t i = 0; i < 3; ++i) {
        const Output o = d.get(i);
        ASSERT_TRUE(o.finished.has_value()) << i;
        EXPECT_EQ(o.finished->reason, StopReason::Cancelled);
        EXPECT_FALSE(o.finished->error.empty());
        EXPECT_FALSE(o.finished->failed);
    }
    t.expect_no_leak();
}

TEST(Scheduler, DestructionCancelsWhatIsLeft) {
    Served s({.max_running = 2});
    Collector c;
    for (size_t i = 0; i < 4; ++i)
        submitted(s.scheduler->submit(greedy(prompt_of(50 + static_cast<uint32_t>(i), 6), 120),
                                      c.sink(i, [](const RequestEvent&) { std::this_thread::sleep_for(1ms); })));
    std::this_thread::sleep_for(5ms);
    s.scheduler.reset();
    for (size_t i = 0; i < 4; ++i) {
        const Output o = c.get(i);
        ASSERT_TRUE(o.finished.has_value()) << i;
        EXPECT_EQ(o.finished->reason, StopReason::Cancelled);
        EXPECT_EQ(o.finished_count, 1);
    }
    EXPECT_EQ(s.engine->cache().used_blocks(), 0);
}

TEST(Scheduler, SmallPoolEvictsCachedPrefixesAndStillAnswersRight) {
    // Room for two requests' worst case at a time; every finished prompt leaves cached blocks.
    test::TinyModel probe;
    const int64_t per_block = KvCache::block_bytes(*probe.backend, probe.model->hparams(), 4, KvType::F32);
    Served s({.max_running = 4}, {.n_ctx = 64, .n_batch = 64, .max_sequences = 4, .block_size = 4,
                                 .kv_type = KvType::F32, .kv_memory_bytes = per_block * 12});
    Collector c, alone;
    Served reference({.max_running = 1, .prefix_caching = false});
    for (size_t i = 0; i < 6; ++i) {
        const auto r = greedy(prompt_of(60 + static_cast<uint32_t>(i % 3), 17), 4);
        submitted(s.scheduler->submit(r, c.sink(i)));
        submitted(reference.scheduler->submit(r, alone.sink(i)));
    }
    ASSERT_TRUE(c.wait(6));
    ASSERT_TRUE(alone.wait(6));
    for (size_t i = 0; i < 6; ++i) expect_same(c.get(i), alone.get(i), i);
    EXPECT_GT(s.engine->cache().evictions(), 0);
    EXPECT_EQ(s.scheduler->stats().kv_blocks_total, 12);
    s.expect_no_leak();
}

TEST(Scheduler, PreemptionWhenThePoolRunsShortChangesNoOutput) {
    // Ten blocks of four positions; three requests growing to seven blocks each cannot all stay.
    test::TinyModel probe;
    const int64_t per_block = KvCache::block_bytes(*probe.backend, probe.model->hparams(), 4, KvType::F32);
    for (bool prefix_caching : {false, true}) {
        Served s({.max_running = 3, .prefix_caching = prefix_caching},
                 {.n_ctx = 64, .n_batch = 64, .max_sequences = 3, .block_size = 4, .kv_type = KvType::F32,
                  .kv_memory_bytes = per_block * 10});
        Served reference({.max_running = 1, .prefix_caching = false});
        Collector c, alone;
        LoopGate gate;  // all three queued before any runs, so that they run together
        for (size_t i = 0; i < 3; ++i) {
            auto r = greedy(prompt_of(70 + static_cast<uint32_t>(i), 6), 20);
            if (i == 1) r.sampling = {.temperature = 1.0f, .seed = 3};
            submitted(s.scheduler->submit(r, i == 0 ? c.sink(i, gate.hook()) : c.sink(i)));
            if (i == 0) gate.wait_until_held();
            submitted(reference.scheduler->submit(r, alone.sink(i)));
        }
        gate.release();
        ASSERT_TRUE(c.wait(3));
        ASSERT_TRUE(alone.wait(3));
        for (size_t i = 0; i < 3; ++i) {
            expect_same(c.get(i), alone.get(i), i);
            EXPECT_EQ(c.get(i).tokens.size(), 20u);
        }
        EXPECT_GT(s.scheduler->stats().preemptions, 0);
        int64_t reported = 0;  // each request says how often it was preempted
        for (size_t i = 0; i < 3; ++i) reported += c.get(i).finished->timings.preemptions;
        EXPECT_EQ(reported, s.scheduler->stats().preemptions);
        s.expect_no_leak();
    }
    // A request that alone outgrows the pool ends as ContextFull, saying why.
    Served small({}, {.n_ctx = 64, .n_batch = 64, .max_sequences = 2, .block_size = 4, .kv_type = KvType::F32,
                      .kv_memory_bytes = per_block * 4});
    Collector c;
    submitted(small.scheduler->submit(greedy(prompt_of(80, 6), 40), c.sink(0)));
    ASSERT_TRUE(c.wait(1));
    EXPECT_EQ(c.get(0).finished->reason, StopReason::ContextFull);
    EXPECT_NE(c.get(0).finished->error.find("KV cache"), std::string::npos);
    EXPECT_TRUE(c.get(0).finished->failed);
    EXPECT_EQ(c.get(0).tokens.size(), 11u);  // 16 positions: 6 prompt + 10 fed + the last sampled
    small.expect_no_leak();
}

TEST(Scheduler, RandomBurstWithCancelsLeaksNoBlock) {
    // A pool too small for eight long requests at once: preemption, eviction and cancels mix.
    test::TinyModel probe;
    const int64_t per_block = KvCache::block_bytes(*probe.backend, probe.model->hparams(), 4, KvType::F32);
    Served s({.max_queue = 64, .max_running = 8, .step_token_budget = 24},
            {.n_ctx = 96, .n_batch = 64, .max_sequences = 8, .block_size = 4, .kv_type = KvType::F32,
             .kv_memory_bytes = per_block * 40});
    Collector c;
    std::mt19937 rng(5);
    std::vector<uint64_t> ids;
    const auto shared = prompt_of(99, 24);
    constexpr size_t kRequests = 48;
    std::vector<RequestOptions> requests;
    // A first request holds the loop thread until the burst is queued, so that the burst runs
    // together (and preempts) however the threads are scheduled.
    Collector first;
    LoopGate gate;
    submitted(s.scheduler->submit(greedy(prompt_of(98, 4), 2), first.sink(0, gate.hook())));
    gate.wait_until_held();
    for (size_t i = 0; i < kRequests; ++i) {
        std::vector<int32_t> prompt = rng() % 2 ? shared : prompt_of(static_cast<uint32_t>(rng()), 1 + rng() % 8);
        for (size_t k = rng() % 20; k > 0; --k) prompt.push_back(3 + static_cast<int32_t>(rng() % 200));
        RequestOptions r = greedy(prompt, 1 + rng() % 16);
        r.sampling = {.temperature = 0.7f, .seed = rng()};
        requests.push_back(r);
        const bool self_cancel = rng() % 5 == 0;
        auto self = std::make_shared<std::atomic<uint64_t>>(0);
        const auto id = submitted(s.scheduler->submit(r, c.sink(i, [&, self, self_cancel](const RequestEvent& e) {
            if (self_cancel && e.kind == RequestEvent::Kind::Token) s.scheduler->cancel(*self);
        })));
        *self = id;
        ids.push_back(id);
        if (rng() % 4 == 0) s.scheduler->cancel(ids[rng() % ids.size()]);
    }
    gate.release();
    ASSERT_TRUE(first.wait(1));
    ASSERT_TRUE(c.wait(kRequests));
    for (size_t i = 0; i < kRequests; ++i) EXPECT_EQ(c.get(i).finished_count, 1) << i;
    s.expect_no_leak();
    EXPECT_GT(s.scheduler->stats().prefix_hit_tokens, 0);
    EXPECT_GT(s.scheduler->stats().preemptions, 0);
    // What was not cancelled streamed exactly what it streams alone.
    Served reference({.max_running = 1, .prefix_caching = false});
    Collector alone;
    size_t compared = 0;
    for (size_t i = 0; i < kRequests; ++i) {
        if (c.get(i).finished->reason == StopReason::Cancelled) continue;
        submitted(reference.scheduler->submit(requests[i], alone.sink(i)));
        ASSERT_TRUE(alone.wait(++compared));
        expect_same(c.get(i), alone.get(i), i);
    }
    EXPECT_GT(compared, kRequests / 3);
}


// Embeddings computed between the scheduler's steps (on their own engine, same backend) while
// requests run: generation is unchanged and the vectors equal those computed alone.
TEST(Scheduler, WorkBetweenStepsLeavesGenerationAlone) {
    Collector alone, together;
    std::vector<RequestOptions> requests;
    for (uint32_t i = 0; i < 4; ++i) requests.push_back(greedy(prompt_of(90 + i, 9), 12));
    {
        Served s;
        for (size_t i = 0; i < requests.size(); ++i) submitted(s.scheduler->submit(requests[i], alone.sink(i)));
        ASSERT_TRUE(alone.wait(requests.size()));
    }
    Served s;
    auto solo = Embedder::create(*s.model.model, *s.model.tok, {.n_ctx = 64});
    ASSERT_TRUE(solo.ok());
    auto expected = (*solo)->embed_text("between the steps");
    ASSERT_TRUE(expected.ok());
    auto gated = Embedder::create(
        *s.model.model, *s.model.tok,
        {.n_ctx = 64, .gate = [&](const std::function<Status()>& w) { return s.scheduler->run_between_steps(w); }});
    ASSERT_TRUE(gated.ok());
    for (size_t i = 0; i < requests.size(); ++i) submitted(s.scheduler->submit(requests[i], together.sink(i)));
    for (int k = 0; k < 5; ++k) {
        auto v = (*gated)->embed_text("between the steps");
        ASSERT_TRUE(v.ok()) << v.error().message;
        EXPECT_EQ(*v, *expected);
    }
    ASSERT_TRUE(together.wait(requests.size()));
    for (size_t i = 0; i < requests.size(); ++i) expect_same(together.get(i), alone.get(i), i);
    s.scheduler->shutdown(0ms);
    auto after = s.scheduler->run_between_steps([] { return ok_status(); });
    EXPECT_FALSE(after.ok());
}

}  // namespace
}  // namespace rf::engine
