// The generation loop on a small synthetic model with a byte-level vocabulary: greedy output is
// the argmax chain of the engine's logits, limits and stop strings end it, and top logits are
// recorded per prompt position and step.
#include <gtest/gtest.h>

#include "engine/generate.h"
#include "engine_fixture.h"

namespace rf::engine {
namespace {

struct Fixture : test::TinyModel {
    Fixture() : TinyModel(TensorType::F32) {}
    Engine engine(int64_t n_ctx = 64) {
        return std::move(*TinyModel::engine(
            {.n_ctx = n_ctx, .n_batch = 8, .max_sequences = 1, .block_size = 4, .kv_type = KvType::F32}));
    }
};

TEST(Generate, GreedyFollowsTheArgmaxOfTheLogits) {
    Fixture f;
    Engine e = f.engine();
    const std::vector<int32_t> prompt = {1, 70, 80, 90};
    GenerateOptions o{{.max_tokens = 6, .sampling = {.temperature = 0.0f}, .stop_at_end_of_generation = false}, 3};
    std::string streamed;
    auto r = generate(e, *f.tok, prompt, o, [&](std::string_view t) { streamed += t; });
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->tokens.size(), 6u);
    EXPECT_EQ(r->reason, StopReason::MaxTokens);
    EXPECT_EQ(streamed, r->text);
    ASSERT_EQ(r->prompt_top.size(), prompt.size());
    ASSERT_EQ(r->step_top.size(), r->tokens.size());
    for (size_t i = 0; i < r->tokens.size(); ++i) {
        ASSERT_EQ(r->step_top[i].size(), 3u);
        EXPECT_EQ(r->step_top[i][0].first, r->tokens[i]);
        EXPECT_GE(r->step_top[i][0].second, r->step_top[i][1].second);
    }
    // The last prompt position's best token is the first generated one.
    EXPECT_EQ(r->prompt_top.back()[0].first, r->tokens[0]);

    // Recomputing from scratch with the generated tokens appended gives the same argmax chain.
    Engine again = f.engine();
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), r->tokens.begin(), r->tokens.end() - 1);
    std::vector<float> logits;
    ASSERT_TRUE(again.feed(0, all, true, logits).ok());
    const int64_t v = again.n_vocab();
    for (size_t i = 0; i < r->tokens.size(); ++i) {
        const float* row = logits.data() + (prompt.size() - 1 + i) * v;
        EXPECT_EQ(std::max_element(row, row + v) - row, r->tokens[i]) << "step " << i;
    }
}

TEST(Generate, StopsAtAStopStringAndTheContext) {
    Fixture f;
    Engine probe = f.engine();
    const std::vector<int32_t> prompt = {1, 100, 101};
    GenerateOptions o{{.max_tokens = 8, .sampling = {.temperature = 0.0f}, .stop_at_end_of_generation = false}};
    auto free_run = generate(probe, *f.tok, prompt, o);
    ASSERT_TRUE(free_run.ok());
    ASSERT_GE(free_run->text.size(), 2u);

    Engine e = f.engine();
    o.stop_strings = {free_run->text.substr(1, 1)};
    auto stopped = generate(e, *f.tok, prompt, o);
    ASSERT_TRUE(stopped.ok());
    EXPECT_EQ(stopped->reason, StopReason::StopString);
    EXPECT_EQ(stopped->text, free_run->text.substr(0, free_run->text.find(o.stop_strings[0])));

    Engine small = f.engine(5);
    o.stop_strings.clear();
    auto full = generate(small, *f.tok, prompt, o);
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(full->reason, StopReason::ContextFull);
    EXPECT_EQ(full->tokens.size(), 3u);

    Engine tiny = f.engine(2);
    auto refused = generate(tiny, *f.tok, prompt, o);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("does not fit the context"), std::string::npos);
}

TEST(Generate, CancelFlagStopsBeforeTheFirstToken) {
    Fixture f;
    Engine e = f.engine();
    std::atomic<bool> cancel{true};
    const std::vector<int32_t> prompt = {1, 5};
    auto r = generate(e, *f.tok, prompt, {{.max_tokens = 5, .sampling = {.temperature = 0.0f}}}, {}, &cancel);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->reason, StopReason::Cancelled);
    EXPECT_TRUE(r->tokens.empty());
}

}  // namespace
}  // namespace rf::engine
