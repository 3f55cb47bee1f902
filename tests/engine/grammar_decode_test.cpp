// Constrained decoding on a reference model (random weights, real 32k SentencePiece vocabulary):
// random JSON schemas, many seeds, temperature 1, sixteen requests at a time through the
// scheduler. Every output must end by itself (the grammar completes), parse, and validate
// against its schema with an independent validator; a GBNF grammar holds the same way.
#include <gtest/gtest.h>

#include "engine/loaded_model.h"
#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"
#include "grammar/schema_support.h"
#include "scheduler_support.h"
#include "support/shared_data.h"
#include "support/test_backend.h"

namespace rf::engine {
namespace {

using nlohmann::json;

std::shared_ptr<const grammar::Grammar> compile(const std::string& gbnf) {
    auto g = grammar::parse_gbnf(gbnf);
    EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
    return g.ok() ? std::make_shared<const grammar::Grammar>(std::move(*g)) : nullptr;
}

RequestOptions sampled(const LoadedModel& m, const std::string& prompt, uint64_t seed,
                       std::shared_ptr<const grammar::Grammar> g) {
    RequestOptions o;
    o.prompt = m.tokenizer->encode(prompt, {.add_special = true, .parse_special = false});
    o.max_tokens = 1500;
    o.sampling = SamplerParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = seed};
    o.grammar = std::move(g);
    return o;
}

// The reference model on the test backend (which must outlive it).
struct Reference {
    std::unique_ptr<Backend> backend = rf::test::make_test_backend({.threads = 2});
    Result<LoadedModel> loaded;
    explicit Reference(int64_t n_ctx, int64_t sequences)
        : loaded(LoadedModel::load(rf::test::shared_path("models/llama-gqa-q4_0.gguf").string(), *backend,
                                   {.n_ctx = n_ctx, .n_batch = 64, .max_sequences = sequences, .block_size = 16})) {}
};

TEST(GrammarDecode, RandomSchemasGiveValidJsonEveryTime) {
    RF_REQUIRE_SHARED();
    Reference ref(2048, 16);
    auto& loaded = ref.loaded;
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    auto s = Scheduler::create(*loaded->engine, *loaded->tokenizer, {.max_queue = 64, .max_running = 16});
    ASSERT_TRUE(s.ok());
    constexpr size_t kSchemas = 48;
    std::vector<json> schemas;
    test::Collector out;
    for (size_t i = 0; i < kSchemas; ++i) {
        std::mt19937_64 rng(1000 + i);
        json defs = json::object();
        json schema = rf::test::random_schema(rng, 2, defs);
        if (!defs.empty()) schema["$defs"] = defs;
        auto gbnf = grammar::json_schema_to_gbnf(schema);
        ASSERT_TRUE(gbnf.ok()) << gbnf.error().message;
        auto g = compile(*gbnf);
        ASSERT_TRUE(g);
        schemas.push_back(schema);
        test::submitted((*s)->submit(sampled(*loaded, "Reply in JSON:", 77 + i, g), out.sink(i)));
    }
    bool all = false;  // a minute per wait; the sanitizers make it slower
    for (int i = 0; i < 10 && !all; ++i) all = out.wait(kSchemas);
    ASSERT_TRUE(all);
    for (size_t i = 0; i < kSchemas; ++i) {
        const test::Output o = out.get(i);
        ASSERT_TRUE(o.finished);
        EXPECT_EQ(o.finished->reason, StopReason::EndOfGeneration) << schemas[i].dump() << "\n" << o.text;
        EXPECT_TRUE(o.finished->error.empty()) << o.finished->error;
        const json value = json::parse(o.text, nullptr, false);
        ASSERT_FALSE(value.is_discarded()) << schemas[i].dump() << "\n" << o.text;
        EXPECT_EQ(rf::test::schema_violation(value, schemas[i], schemas[i]), "") << schemas[i].dump() << "\n" << o.text;
    }
}

TEST(GrammarDecode, GbnfGrammarHoldsAndGreedyAgreesWithTheMask) {
    RF_REQUIRE_SHARED();
    Reference ref(512, 4);
    auto& loaded = ref.loaded;
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    auto s = Scheduler::create(*loaded->engine, *loaded->tokenizer, {});
    ASSERT_TRUE(s.ok());
    auto g = compile(R"(root ::= "Answer: " ("yes" | "no") ", because " [a-z ]{3,30} ".")");
    ASSERT_TRUE(g);
    test::Collector out;
    for (size_t i = 0; i < 4; ++i) {
        RequestOptions o = sampled(*loaded, "Is the sky blue?", i, g);
        if (i == 3) o.sampling.temperature = 0.0f;  // greedy: the fast path and the mask must agree
        if (i == 2) o.sampling.top_k = 5;           // truncated: always through the mask
        test::submitted((*s)->submit(o, out.sink(i)));
    }
    ASSERT_TRUE(out.wait(4));
    for (size_t i = 0; i < 4; ++i) {
        const test::Output o = out.get(i);
        ASSERT_TRUE(o.finished);
        EXPECT_EQ(o.finished->reason, StopReason::EndOfGeneration) << o.text;
        EXPECT_TRUE(rf::test::pattern_matches(R"(^Answer: (yes|no), because [a-z ]{3,30}\.$)", o.text)) << o.text;
    }
}

}  // namespace
}  // namespace rf::engine
