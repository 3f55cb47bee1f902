// Embeddings on a small synthetic model: unit length, the same vector on every call and for every
// batch size, pooled rows that match the engine's hidden rows, and clear errors for bad input.
// Embeddings computed in generation's steps (ScheduledEmbedding): a step mixing logits and hidden
// rows gives each what a step of its own gives; the scheduler's embeddings equal the Embedder's,
// for both poolings, while greedy generation beside them is unchanged; bad input is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <thread>

#include "engine/embedder.h"
#include "engine/scheduled_embedder.h"
#include "engine_fixture.h"
#include "scheduler_support.h"

namespace rf::engine {
namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0.0;
    for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i];
    return s;
}

struct Fixture : test::TinyModel {
    Fixture() : TinyModel(TensorType::F32) {}
    std::unique_ptr<Embedder> embedder(Pooling pooling, int64_t n_batch = 256, StepGate gate = {}) {
        auto e = Embedder::create(*model, *tok,
                                  {.n_ctx = 64, .n_batch = n_batch, .pooling = pooling, .gate = std::move(gate)});
        EXPECT_TRUE(e.ok()) << e.error().message;
        return std::move(*e);
    }
};

TEST(Embedder, UnitLengthAndTheSameOnEveryCall) {
    Fixture f;
    auto e = f.embedder(Pooling::Mean);
    auto a = e->embed_text("the cat sat on the mat");
    auto b = e->embed_text("the cat sat on the mat");
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    ASSERT_EQ(a->size(), static_cast<size_t>(e->dimension()));
    EXPECT_NEAR(dot(*a, *a), 1.0, 1e-5);
    EXPECT_EQ(*a, *b);  // bit for bit: the sequence starts empty each time
}

TEST(Embedder, SimilarityRanksTheSameTextFirst) {
    Fixture f;
    auto e = f.embedder(Pooling::Mean);
    auto q = e->embed_text("abcabc hello world");
    auto same = e->embed_text("abcabc hello world");
    auto other = e->embed_text("zzzz 0123 ~~~~ ####");
    ASSERT_TRUE(q.ok() && same.ok() && other.ok());
    EXPECT_NEAR(dot(*q, *same), 1.0, 1e-5);
    EXPECT_LT(dot(*q, *other), 0.9999);
    EXPECT_GE(dot(*q, *other), -1.0 - 1e-5);
}

TEST(Embedder, BatchSizeDoesNotChangeTheVector) {
    Fixture f;
    for (Pooling p : {Pooling::Mean, Pooling::Last}) {
        auto whole = f.embedder(p, 256)->embed_text("spans batches of three");
        auto pieces = f.embedder(p, 3)->embed_text("spans batches of three");
        ASSERT_TRUE(whole.ok()) << whole.error().message;
        ASSERT_TRUE(pieces.ok()) << pieces.error().message;
        EXPECT_NEAR(dot(*whole, *pieces), 1.0, 1e-4) << pooling_name(p);
    }
}

TEST(Embedder, PoolingReadsTheEnginesHiddenRows) {
    Fixture f;
    const std::vector<int32_t> tokens = {1, 40, 50, 60, 70};
    auto engine = f.engine({.n_ctx = 64, .n_batch = 16, .max_sequences = 1, .block_size = 4});
    std::vector<BatchToken> batch;
    for (int32_t i = 0; i < 5; ++i) batch.push_back({tokens[i], 0, i, true});
    std::vector<float> hidden;
    ASSERT_TRUE(engine->step_hidden(batch, hidden).ok());
    const size_t dim = static_cast<size_t>(f.model->hparams().n_embd);
    ASSERT_EQ(hidden.size(), 5 * dim);
    std::vector<float> mean(dim, 0.0f), last(hidden.end() - static_cast<ptrdiff_t>(dim), hidden.end());
    for (size_t r = 0; r < 5; ++r)
        for (size_t j = 0; j < dim; ++j) mean[j] += hidden[r * dim + j];
    auto normalise = [](std::vector<float>& v) {
        const double n = std::sqrt(dot(v, v));
        for (float& x : v) x = static_cast<float>(x / n);
    };
    normalise(mean);
    normalise(last);
    auto m = f.embedder(Pooling::Mean)->embed_tokens(tokens);
    auto l = f.embedder(Pooling::Last)->embed_tokens(tokens);
    ASSERT_TRUE(m.ok() && l.ok());
    EXPECT_NEAR(dot(*m, mean), 1.0, 1e-5);
    EXPECT_NEAR(dot(*l, last), 1.0, 1e-5);
    // The logits step still gives the vocabulary product after a hidden-only step.
    std::vector<float> logits;
    engine->rewind(0, 0);
    ASSERT_TRUE(engine->step(batch, logits).ok());
    EXPECT_EQ(logits.size(), 5 * static_cast<size_t>(f.model->hparams().n_vocab));
}

TEST(Embedder, GateRunsEveryStep) {
    Fixture f;
    int calls = 0;
    auto e = f.embedder(Pooling::Mean, 256, [&](const std::function<Status()>& work) {
        ++calls;
        return work();
    });
    ASSERT_TRUE(e->embed_text("gated").ok());
    EXPECT_EQ(calls, 1);
}

TEST(Embedder, BadInputIsAnError) {
    Fixture f;
    auto e = f.embedder(Pooling::Mean);
    auto empty = e->embed_tokens({});
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().message.find("no tokens"), std::string::npos);
    const std::vector<int32_t> outside = {1, 100000};
    auto bad = e->embed_tokens(outside);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("outside the vocabulary"), std::string::npos);
    const std::vector<int32_t> too_long(65, 5);
    auto long_input = e->embed_tokens(too_long);
    ASSERT_FALSE(long_input.ok());
    EXPECT_NE(long_input.error().message.find("embedding context of 64"), std::string::npos);
    EXPECT_TRUE(e->embed_text("still works").ok());
    EXPECT_FALSE(parse_pooling("max").ok());
}

// Embeddings computed in generation's steps.
TEST(ScheduledEmbedding, MixedStepGivesEachTheirOwnRows) {
    test::TinyModel f(TensorType::F32);
    const EngineOptions o{.n_ctx = 64, .n_batch = 16, .max_sequences = 2, .block_size = 4};
    const std::vector<int32_t> a = {1, 40, 50, 60}, b = {1, 70, 80, 90, 100};
    std::vector<BatchToken> mixed, logits_only, hidden_only;
    for (int32_t i = 0; i < 4; ++i) {
        mixed.push_back({a[i], 0, i, i == 3});
        logits_only.push_back({a[i], 0, i, i == 3});
    }
    for (int32_t i = 0; i < 5; ++i) {
        mixed.push_back({b[i], 1, i, false, true});
        hidden_only.push_back({b[i], 1, i, true});
    }
    std::vector<float> logits, hidden, want_logits, want_hidden;
    ASSERT_TRUE(f.engine(o)->step(mixed, logits, hidden).ok());
    ASSERT_TRUE(f.engine(o)->step(logits_only, want_logits).ok());
    ASSERT_TRUE(f.engine(o)->step_hidden(hidden_only, want_hidden).ok());
    EXPECT_EQ(logits, want_logits);  // the backend is batch-invariant: bit for bit
    EXPECT_EQ(hidden, want_hidden);
    ASSERT_EQ(hidden.size(), 5 * static_cast<size_t>(f.model->hparams().n_embd));
    // A token cannot want both, nor hidden rows without a place for them.
    std::vector<BatchToken> both = {{1, 0, 0, true, true}};
    EXPECT_FALSE(f.engine(o)->step(both, logits, hidden).ok());
    std::vector<BatchToken> nowhere = {{1, 0, 0, false, true}};
    EXPECT_FALSE(f.engine(o)->step(nowhere, logits).ok());
}

// step_logits leaves the logits in the engine's own memory (page-locked on a GPU): the same
// values as step's copy, for steps of more rows than the memory held before and of fewer.
TEST(EngineStep, LogitsInTheEnginesMemoryEqualTheCopies) {
    test::TinyModel f(TensorType::F32);
    const EngineOptions o{.n_ctx = 64, .n_batch = 16, .max_sequences = 2, .block_size = 4};
    auto copied = f.engine(o), in_place = f.engine(o);
    const auto n_vocab = static_cast<size_t>(copied->n_vocab());
    const std::vector<std::vector<BatchToken>> steps = {
        {{1, 0, 0, true}},
        {{40, 0, 1, true}, {1, 1, 0, true}, {2, 1, 1, true}},  // more rows: the memory grows
        {{50, 0, 2, false}, {3, 1, 2, true}},
    };
    for (const std::vector<BatchToken>& step : steps) {
        std::vector<float> want, hidden;
        ASSERT_TRUE(copied->step(step, want).ok());
        auto got = in_place->step_logits(step, &hidden);
        ASSERT_TRUE(got.ok()) << got.error().message;
        size_t rows = 0;
        for (const BatchToken& t : step) rows += t.want_logits ? 1 : 0;
        ASSERT_EQ(got->size(), rows * n_vocab);
        EXPECT_TRUE(std::equal(got->begin(), got->end(), want.begin(), want.end()));
        EXPECT_TRUE(hidden.empty());
    }
}

TEST(ScheduledEmbedding, EqualsTheEmbedderBesideGeneration) {
    test::TinyModel f(TensorType::F32);
    const std::string text = "a text of some length that spans several steps of sixteen tokens each, or more";
    // The reference: greedy generation alone, and the Embedder's vectors.
    auto alone_engine = f.engine({.n_ctx = 128, .n_batch = 16, .max_sequences = 4, .block_size = 4});
    auto alone = Scheduler::create(*alone_engine, *f.tok, {.max_running = 4, .step_token_budget = 16});
    ASSERT_TRUE(alone.ok());
    test::Collector reference;
    (void)test::submitted((*alone)->submit(test::greedy(test::prompt_of(3, 9), 24), reference.sink(0)));
    ASSERT_TRUE(reference.wait(1));

    auto engine = f.engine({.n_ctx = 128, .n_batch = 16, .max_sequences = 4, .block_size = 4});
    auto scheduler = Scheduler::create(*engine, *f.tok, {.max_running = 4, .step_token_budget = 16});
    ASSERT_TRUE(scheduler.ok());
    for (Pooling pooling : {Pooling::Mean, Pooling::Last}) {
        auto own = Embedder::create(*f.model, *f.tok, {.n_ctx = 128, .pooling = pooling});
        ASSERT_TRUE(own.ok());
        const auto want = (*own)->embed_text(text);
        ASSERT_TRUE(want.ok());

        ScheduledEmbedder scheduled(**scheduler, *f.tok, f.model->hparams().n_embd, 128, pooling);
        test::Collector beside;
        (void)test::submitted((*scheduler)->submit(test::greedy(test::prompt_of(3, 9), 24), beside.sink(0)));
        std::vector<std::optional<Result<std::vector<float>>>> embedded(3);
        std::vector<std::thread> clients;
        for (size_t i = 0; i < embedded.size(); ++i)
            clients.emplace_back([&, i] { embedded[i] = scheduled.embed_text(text); });
        for (auto& c : clients) c.join();
        for (auto& e : embedded) {
            ASSERT_TRUE(e.has_value());
            auto& got = *e;
            ASSERT_TRUE(got.ok()) << got.error().message;
            ASSERT_EQ(got->size(), want->size());
            // Steps of other sizes and sequences: the same vector within float rounding.
            EXPECT_NEAR(dot(*got, *want), 1.0, 1e-5) << pooling_name(pooling);
            for (size_t j = 0; j < want->size(); ++j) EXPECT_NEAR((*got)[j], (*want)[j], 1e-4) << j;
        }
        ASSERT_TRUE(beside.wait(1));
        test::expect_same(beside.get(0), reference.get(0), 0);
    }
    // No block is held once everything finished (published ones stay in the prefix cache, unheld).
    EXPECT_EQ((*scheduler)->stats().kv_blocks_used, 0);
}

// More inputs than the queue takes: each waits for one of its own to finish and make room.
TEST(ScheduledEmbedding, ManyInputsThroughAShortQueue) {
    test::TinyModel f(TensorType::F32);
    auto engine = f.engine({.n_ctx = 64, .n_batch = 16, .max_sequences = 1, .block_size = 4});
    auto scheduler = Scheduler::create(*engine, *f.tok, {.max_queue = 0, .max_running = 1, .step_token_budget = 16});
    ASSERT_TRUE(scheduler.ok());
    ScheduledEmbedder scheduled(**scheduler, *f.tok, f.model->hparams().n_embd, 64, Pooling::Mean);
    std::vector<std::vector<int32_t>> inputs;
    for (int i = 0; i < 6; ++i) inputs.push_back(scheduled.tokenize("input number " + std::to_string(i)));
    auto all = scheduled.embed_many(inputs);
    ASSERT_TRUE(all.ok()) << all.error().message;
    ASSERT_EQ(all->size(), inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        auto one = scheduled.embed_tokens(inputs[i]);
        ASSERT_TRUE(one.ok()) << one.error().message;
        EXPECT_NEAR(dot((*all)[i], *one), 1.0, 1e-5) << i;
    }
}

TEST(ScheduledEmbedding, BadInputIsRefused) {
    test::TinyModel f(TensorType::F32);
    auto engine = f.engine({.n_ctx = 32, .n_batch = 16, .max_sequences = 2, .block_size = 4});
    auto scheduler = Scheduler::create(*engine, *f.tok, {.max_running = 2, .step_token_budget = 16});
    ASSERT_TRUE(scheduler.ok());
    ScheduledEmbedder scheduled(**scheduler, *f.tok, f.model->hparams().n_embd, 32, Pooling::Mean);
    EXPECT_FALSE(scheduled.embed_tokens({}).ok());
    const std::vector<int32_t> too_long(33, 5);
    auto long_input = scheduled.embed_tokens(too_long);
    ASSERT_FALSE(long_input.ok());
    EXPECT_NE(long_input.error().message.find("embedding context of 32"), std::string::npos);
    const std::vector<int32_t> outside = {1, 100000};
    auto bad = scheduled.embed_tokens(outside);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("outside the vocabulary"), std::string::npos);
    // A whole context is allowed for an embedding (nothing is generated after it).
    EXPECT_TRUE(scheduled.embed_tokens(std::vector<int32_t>(32, 5)).ok());
}

}  // namespace
}  // namespace rf::engine
