// What constrained decoding costs per step at 16 parallel sequences.
//
// BM_MaskOnly: the grammar's part alone, on the Llama 2 vocabulary (32000 tokens, TinyLlama's;
// read from the reference data): each of 16 sequences computes its token mask, applies it to a
// logit row and accepts a token, following a random walk through a JSON grammar. This is the
// worst case of a step: the sampled token was refused and the mask is needed (a draw that the
// grammar accepts costs one token's check instead, see DecodeState).
//
// BM_DecodeStep/grammar:{0,1,2}: whole generation steps of a TinyLlama-shaped model, 16
// sequences, one forward step plus sampling each row, without a grammar (0), with json_object (1)
// and with the schema of BM_MaskOnly/schema:1 (2) (sequences whose grammar completes start again).
// The model is ROCMFORGE_BENCH_MODEL; `make bench-grammar` writes one with rocmforge-synth (random
// weights, the Llama 2 vocabulary) and runs this. The overhead is the ratio of a row's time to the
// first's; forward_ms and sample_ms split a step (the grammar's cost is all in sample_ms, which
// the load of a shared machine moves much less than the forward's time). With random weights at temperature 1 nearly every draw is refused by the grammar, so
// nearly every step computes its masks: the worst case.
//
// BM_SchedulerSampling/threads:{1,2,...}: the scheduler's steps when sampling dominates them: 16
// requests under the schema at temperature 1 on ROCMFORGE_BENCH_SAMPLING_MODEL, a one-layer model
// with the Llama 2 vocabulary (`make bench-grammar` writes it), with the step's rows sampled on
// that many threads (SchedulerOptions::sampling_threads).
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <random>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "backend/cpu/cpu_backend.h"
#include "engine/decode_state.h"
#include "engine/loaded_model.h"
#include "engine/scheduler.h"
#include "grammar/gbnf_parser.h"
#include "grammar/json_primitives.h"
#include "grammar/json_schema.h"
#include "grammar/token_constraint.h"

namespace {

using namespace rf;

constexpr int kSequences = 16;

std::shared_ptr<const grammar::Grammar> compile(const std::string& gbnf) {
    auto g = grammar::parse_gbnf(gbnf);
    if (!g) {
        fmt::print(stderr, "{}\n", g.error().message);
        std::abort();
    }
    return std::make_shared<const grammar::Grammar>(std::move(*g));
}

// A schema of the kind applications send: nested objects, arrays, enums, formats, numbers.
std::string app_schema_gbnf() {
    auto gbnf = grammar::json_schema_to_gbnf(nlohmann::ordered_json::parse(R"({"type":"object","properties":{
        "name":{"type":"string","maxLength":40},"age":{"type":"integer","minimum":0,"maximum":150},
        "email":{"type":"string","pattern":"^[a-z0-9.]+@[a-z]+\\.[a-z]{2,3}$"},
        "born":{"type":"string","format":"date"},
        "tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":5},
        "role":{"enum":["admin","user","guest"]},
        "address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string","pattern":"^\\d{5}$"}},
                   "required":["street"]}},
        "required":["name","age","role"]})"));
    if (!gbnf) std::abort();
    return *gbnf;
}

const tokenizer::Tokenizer* llama_vocab() {
    static std::unique_ptr<tokenizer::Tokenizer> tok = [] {
        std::unique_ptr<tokenizer::Tokenizer> t;
        auto file = gguf::File::open(std::string(ROCMFORGE_SHARED_DIR) + "/models/llama-gqa-q4_0.gguf");
        if (!file) return t;
        auto loaded = tokenizer::Tokenizer::from_gguf(*file);
        if (loaded) t = std::make_unique<tokenizer::Tokenizer>(std::move(*loaded));
        return t;
    }();
    return tok.get();
}

void apply_mask(const std::vector<uint64_t>& mask, std::vector<float>& row) {
    for (size_t i = 0; i < row.size(); ++i)
        if (!((mask[i / 64] >> (i % 64)) & 1)) row[i] = -INFINITY;
}

void BM_MaskOnly(benchmark::State& state) {
    const tokenizer::Tokenizer* tok = llama_vocab();
    if (!tok) {
        state.SkipWithError("the reference data (../shared) is needed for the Llama 2 vocabulary");
        return;
    }
    const auto g = compile(state.range(0) == 0 ? grammar::json_object_gbnf() : app_schema_gbnf());
    const auto trie = grammar::TokenTrie::for_tokenizer(*tok);
    const std::vector<int32_t> ends = {tok->special().eos};
    std::vector<std::unique_ptr<grammar::TokenConstraint>> seqs;
    for (int s = 0; s < kSequences; ++s) seqs.push_back(std::make_unique<grammar::TokenConstraint>(g, trie, ends));
    std::mt19937_64 rng(1);
    std::vector<float> row(static_cast<size_t>(tok->n_vocab()), 0.0f);
    std::vector<int32_t> allowed;
    int64_t masks = 0, hits = 0, nodes = 0;
    for (auto _ : state) {
        for (auto& c : seqs) {
            const std::vector<uint64_t>& mask = c->mask();
            apply_mask(mask, row);
            state.PauseTiming();  // choosing the token stands in for sampling, which is not ours to time
            allowed.clear();
            for (int32_t t = 0; t < tok->n_vocab(); ++t)
                if (((mask[static_cast<size_t>(t) / 64] >> (t % 64)) & 1) && t != ends[0]) allowed.push_back(t);
            // Texts longer than a few hundred tokens start over, as a new request would.
            if (allowed.empty() || c->finished() || rng() % 400 == 0) {
                masks += c->stats().masks;
                hits += c->stats().cache_hits;
                nodes += c->stats().nodes_visited;
                c = std::make_unique<grammar::TokenConstraint>(g, trie, ends);
            } else {
                (void)c->accept(allowed[rng() % allowed.size()]);
            }
            state.ResumeTiming();
        }
    }
    for (auto& c : seqs) {
        masks += c->stats().masks;
        hits += c->stats().cache_hits;
        nodes += c->stats().nodes_visited;
    }
    state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["cache_hit%"] = masks ? 100.0 * static_cast<double>(hits) / static_cast<double>(masks) : 0.0;
    state.counters["nodes/mask"] = masks > hits ? static_cast<double>(nodes) / static_cast<double>(masks - hits) : 0.0;
}
BENCHMARK(BM_MaskOnly)->ArgName("schema")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_DecodeStep(benchmark::State& state) {
    const char* path = std::getenv("ROCMFORGE_BENCH_MODEL");
    if (!path) {
        state.SkipWithError("set ROCMFORGE_BENCH_MODEL to a TinyLlama-shaped model (make bench-grammar writes one)");
        return;
    }
    cpu::CpuBackend backend;
    auto loaded = engine::LoadedModel::load(path, backend,
                                            {.n_ctx = 512, .n_batch = kSequences, .max_sequences = kSequences},
                                            FileLoad::Copy);
    if (!loaded) {
        state.SkipWithError(loaded.error().message.c_str());
        return;
    }
    engine::Engine& eng = *loaded->engine;
    const tokenizer::Tokenizer& tok = *loaded->tokenizer;
    const bool constrained = state.range(0) != 0;
    const auto g = compile(state.range(0) == 2 ? app_schema_gbnf() : grammar::json_object_gbnf());
    auto options = [&](int s) {
        engine::DecodeOptions o;
        o.max_tokens = 1 << 20;
        o.sampling = engine::SamplerParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
                                           .seed = static_cast<uint64_t>(s)};
        if (constrained) o.grammar = g;
        return o;
    };
    std::vector<std::unique_ptr<engine::DecodeState>> decode;
    std::vector<engine::BatchToken> batch;
    for (int s = 0; s < kSequences; ++s) {
        decode.push_back(std::make_unique<engine::DecodeState>(tok, options(s)));
        batch.push_back({tok.special().bos, s, 0, true});
    }
    std::vector<float> logits;
    const auto n_vocab = static_cast<size_t>(eng.n_vocab());
    // The forward step and the sampling (masks included) timed apart: on a shared machine the
    // forward's time swings with the load, and the grammar's cost is in the sampling alone.
    using Clock = std::chrono::steady_clock;
    Clock::duration forward{}, sampling{};
    for (auto _ : state) {
        for (auto& t : batch)
            if (!eng.cache().reserve(t.seq, t.pos + 1).ok()) std::abort();
        const auto t0 = Clock::now();
        if (!eng.step(batch, logits).ok()) std::abort();
        const auto t1 = Clock::now();
        forward += t1 - t0;
        for (int s = 0; s < kSequences; ++s) {
            auto step = decode[static_cast<size_t>(s)]->sample({logits.data() + static_cast<size_t>(s) * n_vocab, n_vocab});
            engine::BatchToken& t = batch[static_cast<size_t>(s)];
            // A finished or failed text starts again; a full context starts the sequence over.
            if (step.stop || step.token < 0) decode[static_cast<size_t>(s)] = std::make_unique<engine::DecodeState>(tok, options(s));
            t.token = step.token < 0 ? tok.special().bos : step.token;
            if (++t.pos >= eng.n_ctx()) {
                eng.cache().release(t.seq);
                t.pos = 0;
            }
        }
        sampling += Clock::now() - t1;
    }
    state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kSequences),
                                                    benchmark::Counter::kIsRate);
    const auto per_step_ms = [&](Clock::duration d) {
        return std::chrono::duration<double, std::milli>(d).count() / static_cast<double>(state.iterations());
    };
    state.counters["forward_ms"] = per_step_ms(forward);
    state.counters["sample_ms"] = per_step_ms(sampling);
}
void BM_SchedulerSampling(benchmark::State& state) {
    const char* path = std::getenv("ROCMFORGE_BENCH_SAMPLING_MODEL");
    if (!path) {
        state.SkipWithError("set ROCMFORGE_BENCH_SAMPLING_MODEL to a one-layer model (make bench-grammar writes one)");
        return;
    }
    cpu::CpuBackend backend;
    auto loaded = engine::LoadedModel::load(path, backend,
                                            {.n_ctx = 256, .n_batch = 64, .max_sequences = kSequences}, FileLoad::Copy);
    if (!loaded) {
        state.SkipWithError(loaded.error().message.c_str());
        return;
    }
    auto scheduler = engine::Scheduler::create(
        *loaded->engine, *loaded->tokenizer,
        {.max_running = kSequences, .sampling_threads = static_cast<int>(state.range(0))});
    if (!scheduler) {
        state.SkipWithError(scheduler.error().message.c_str());
        return;
    }
    const auto g = compile(app_schema_gbnf());
    std::mutex mu;
    std::condition_variable cv;
    int finished = 0;
    for (auto _ : state) {
        finished = 0;
        for (int s = 0; s < kSequences; ++s) {
            engine::RequestOptions o;
            o.prompt = {loaded->tokenizer->special().bos};
            o.max_tokens = 64;
            o.stop_at_end_of_generation = false;
            o.sampling = engine::SamplerParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
                                               .seed = static_cast<uint64_t>(s)};
            o.grammar = g;
            auto id = (*scheduler)->submit(std::move(o), [&](const engine::RequestEvent& e) {
                if (e.kind != engine::RequestEvent::Kind::Finished) return;
                std::lock_guard lock(mu);
                ++finished;
                cv.notify_all();
            });
            if (!std::holds_alternative<uint64_t>(id)) std::abort();
        }
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return finished == kSequences; });
    }
    const engine::SchedulerStats st = (*scheduler)->stats();
    state.counters["steps"] = static_cast<double>(st.steps);
    state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(st.generated_tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SchedulerSampling)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// Fixed iterations, so that both rows average over the same context lengths.
BENCHMARK(BM_DecodeStep)->ArgName("grammar")->Arg(0)->Arg(1)->Arg(2)->Iterations(48)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
