// The scheduler on a reference model with a real tokenizer: concurrent requests (with chunked
// prefill and a shared system prompt) stream exactly what each streams alone.
#include <gtest/gtest.h>

#include "engine/loaded_model.h"
#include "scheduler_support.h"
#include "support/shared_data.h"
#include "support/test_backend.h"

namespace rf::engine {
namespace {

using namespace test;

TEST(Scheduler, ReferenceModelGivesTheSameTextConcurrentlyAsAlone) {
    RF_REQUIRE_SHARED();
    const std::unique_ptr<Backend> backend = rf::test::make_test_backend({.threads = 2}, /*batch_invariant=*/true);
    auto loaded = LoadedModel::load(rf::test::shared_path("models/llama-gqa-q8_0.gguf").string(), *backend,
                                    {.n_ctx = 256, .n_batch = 128, .max_sequences = 8, .block_size = 16});
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    // Ten prompts, eight sequences: the last waits for a slot, and by then the first has put the
    // system text they share into the prefix cache.
    const std::string system =
        "You are a helpful assistant. Answer every question briefly and politely, never make things up, "
        "and say so plainly when you do not know the answer. ";
    const std::vector<std::string> texts = {
        system + "What is two plus two?", "The capital of France is", "def fibonacci(n):", "Hello",
        "The capital of France is Paris, and the capital of Italy is", "1, 2, 3, 4,", "Ünïcödé text → ok",
        "Once upon a time there was", "Once upon a time", system + "Name a colour."};
    std::vector<RequestOptions> requests;
    for (const auto& t : texts)
        requests.push_back(greedy(loaded->tokenizer->encode(t, {.add_special = true, .parse_special = false}), 12));
    Collector alone, together;
    {
        auto s = Scheduler::create(*loaded->engine, *loaded->tokenizer, {.max_running = 1, .prefix_caching = false});
        ASSERT_TRUE(s.ok());
        for (size_t i = 0; i < requests.size(); ++i) {
            submitted((*s)->submit(requests[i], alone.sink(i)));
            ASSERT_TRUE(alone.wait(i + 1));
        }
    }
    auto s = Scheduler::create(*loaded->engine, *loaded->tokenizer, {.step_token_budget = 32});
    ASSERT_TRUE(s.ok());
    for (size_t i = 0; i < requests.size(); ++i) submitted((*s)->submit(requests[i], together.sink(i)));
    ASSERT_TRUE(together.wait(requests.size()));
    for (size_t i = 0; i < requests.size(); ++i) expect_same(together.get(i), alone.get(i), i);
    EXPECT_GE(together.get(9).finished->usage.cached_prompt_tokens, 16);
    EXPECT_EQ((*s)->stats().kv_blocks_used, 0);
}

}  // namespace
}  // namespace rf::engine
