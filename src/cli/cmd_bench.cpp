// rocmforge bench -m FILE[,FILE..] [-p N,..] [-n N,..] [-d N,..] [-r R] [-t T] [-o md|csv|json|jsonl]: prompt-processing
// and generation speed in tokens/s (pp512 and tg128 by default, as llama-bench), repeated R times
// (mean and standard deviation), as a markdown table, CSV, or JSON; with -d, each test runs after N
// tokens already in the context (as llama-bench's depth). With --parallel B,.. (llama-batched-bench's
// -npl) each of B sequences takes a -p prompt and then -n tokens, the B sequences batched together:
// "ppP xB" is the prompts' tokens per second, "tgN xB" the generated tokens of all B per second.
// The backend (--device) and the processor or card it ran on head the table and tag each JSON row.
// Several models (-m repeated or a comma list, as llama-bench) run one after another, each loaded
// on its own, into one table.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "build_info.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/model_summary.h"

namespace rf::cli {
namespace {

struct BenchOptions {
    RuntimeOptions runtime;
    std::vector<std::string> models;  // -m, in order
    std::vector<int64_t> prompt_sizes{512};  // llama-bench's defaults
    std::vector<int64_t> gen_sizes{128};
    std::vector<int64_t> depths{0};
    std::vector<int64_t> parallel;  // --parallel: sequences batched together (empty: one)
    int repetitions = 5;
    std::string output = "md";
};

struct BenchResult {
    std::string test;      // "pp128", "tg32", "tg32 @ d2048"
    int64_t tokens = 0;
    int64_t depth = 0;     // tokens in the context before the timed ones
    int64_t sequences = 1; // batched together (--parallel)
    std::vector<double> tokens_per_second;
    double mean() const {
        double s = 0;
        for (double v : tokens_per_second) s += v;
        return tokens_per_second.empty() ? 0 : s / static_cast<double>(tokens_per_second.size());
    }
    double stddev() const {
        if (tokens_per_second.size() < 2) return 0;
        double m = mean(), s = 0;
        for (double v : tokens_per_second) s += (v - m) * (v - m);
        return std::sqrt(s / static_cast<double>(tokens_per_second.size() - 1));
    }
};

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

std::vector<int32_t> random_tokens(engine::Engine& engine, std::mt19937& rng, int64_t n) {
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(engine.n_vocab() - 1));
    std::vector<int32_t> tokens(static_cast<size_t>(std::max(n, int64_t{1})));
    for (int32_t& t : tokens) t = pick(rng);
    return tokens;
}

// Times one run after the first `depth` tokens of the context (already there): `prompt` tokens
// in batches (pp) or `gen` tokens one at a time (tg). Token ids are random: speed does not
// depend on them.
Result<double> time_run(engine::Engine& engine, std::mt19937& rng, int64_t depth, int64_t prompt, int64_t gen) {
    const std::vector<int32_t> tokens = random_tokens(engine, rng, prompt);
    std::vector<float> logits;
    engine.rewind(0, depth);
    auto start = std::chrono::steady_clock::now();
    if (prompt > 0) {
        RF_TRY(engine.feed(0, tokens, false, logits));
    } else {
        for (int64_t i = 0; i < gen; ++i) RF_TRY(engine.feed(0, std::span<const int32_t>(&tokens[0], 1), false, logits));
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(prompt > 0 ? prompt : gen) / seconds;
}

// Times B sequences together from an empty context: their `prompt`-token prompts in steps of at
// most `n_batch` tokens (each prompt's last token wants logits), then `gen` steps of one token per
// sequence. Returns {prompt tokens/s, generated tokens/s} over all B.
Result<std::pair<double, double>> time_batched(engine::Engine& engine, std::mt19937& rng, int64_t sequences,
                                               int64_t prompt, int64_t gen, int64_t n_batch) {
    using Clock = std::chrono::steady_clock;
    for (int32_t s = 0; s < sequences; ++s) engine.rewind(s, 0);
    std::vector<engine::BatchToken> batch;
    const auto flush = [&]() -> Status {  // the logits stay in the engine's memory, as a server's do
        if (batch.empty()) return ok_status();
        auto done = engine.step_logits(batch);
        batch.clear();
        return done.ok() ? ok_status() : Status(done.error());
    };
    const auto start = Clock::now();
    for (int32_t s = 0; s < sequences; ++s) {
        const std::vector<int32_t> tokens = random_tokens(engine, rng, prompt);
        for (int32_t i = 0; i < static_cast<int32_t>(tokens.size()); ++i) {
            batch.push_back({.token = tokens[i], .seq = s, .pos = i, .want_logits = i + 1 == static_cast<int32_t>(tokens.size())});
            if (static_cast<int64_t>(batch.size()) == n_batch) RF_TRY(flush());
        }
    }
    RF_TRY(flush());
    const auto prompted = Clock::now();
    for (int64_t g = 0; g < gen; ++g) {
        const std::vector<int32_t> tokens = random_tokens(engine, rng, sequences);
        for (int32_t s = 0; s < sequences; ++s)
            batch.push_back({.token = tokens[s], .seq = s, .pos = static_cast<int32_t>(prompt + g), .want_logits = true});
        RF_TRY(flush());
    }
    const auto end = Clock::now();
    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    return std::pair{static_cast<double>(sequences * prompt) / seconds(prompted - start),
                     static_cast<double>(sequences * gen) / seconds(end - prompted)};
}

// Runs every test on one model and appends its rows (as the JSON output gives them) to `rows`;
// returns the exit code.
int bench_model(const BenchOptions& opts, const std::string& model_path, nlohmann::json& rows) {
    int64_t longest = 1;
    for (int64_t p : opts.prompt_sizes) longest = std::max(longest, p);
    for (int64_t n : opts.gen_sizes) longest = std::max(longest, n);
    longest += *std::max_element(opts.depths.begin(), opts.depths.end());
    RuntimeOptions runtime = opts.runtime;
    runtime.model_path = model_path;
    runtime.n_ctx = std::max<int64_t>(runtime.n_ctx, longest);
    const int64_t most_parallel = opts.parallel.empty() ? 1 : *std::max_element(opts.parallel.begin(), opts.parallel.end());
    if (!opts.parallel.empty()) {
        if (opts.depths != std::vector<int64_t>{0}) {
            fmt::print(stderr, "error: --parallel runs from an empty context: it does not combine with -d\n");
            return kExitUsage;
        }
        if (most_parallel > runtime.n_batch) {
            fmt::print(stderr, "error: --parallel {} needs a batch of at least {} tokens (-b)\n", most_parallel, most_parallel);
            return kExitUsage;
        }
        runtime.max_sequences = most_parallel;
    }
    auto session = load_session(runtime);
    if (!session) {
        fmt::print(stderr, "error: {}\n", session.error().message);
        return kExitError;
    }
    engine::Engine& engine = *(*session)->loaded.engine;
    const model::Placement& placement = (*session)->loaded.model->placement();
    int64_t gpu_layers = 0;  // llama-bench's n_gpu_layers
    for (int part = 0; part < placement.parts(); ++part)
        if (placement.backend(part).name() != "cpu") gpu_layers += placement.layers_on(part);
    const gguf::File& file = *(*session)->loaded.file;
    ModelSummary summary = summarize(file);
    const int threads = runtime.threads > 0 ? runtime.threads : static_cast<int>(std::thread::hardware_concurrency());

    std::vector<BenchResult> results;
    std::mt19937 rng(1234);
    if (!opts.parallel.empty()) {
        const int64_t prompt = opts.prompt_sizes.front(), gen = opts.gen_sizes.front();
        for (int64_t b : opts.parallel) {
            BenchResult pp{fmt::format("pp{} x{}", prompt, b), prompt, 0, b, {}};
            BenchResult tg{fmt::format("tg{} x{}", gen, b), gen, 0, b, {}};
            for (int rep = -1; rep < opts.repetitions; ++rep) {  // rep -1 warms up
                auto tps = time_batched(engine, rng, b, std::max<int64_t>(prompt, 1), gen, runtime.n_batch);
                if (!tps) {
                    fmt::print(stderr, "error: {} sequences: {}\n", b, tps.error().message);
                    return kExitError;
                }
                if (rep < 0) continue;
                pp.tokens_per_second.push_back(tps->first);
                tg.tokens_per_second.push_back(tps->second);
            }
            if (prompt > 0) results.push_back(std::move(pp));
            if (gen > 0) results.push_back(std::move(tg));
        }
    }
    for (int64_t d : opts.parallel.empty() ? opts.depths : std::vector<int64_t>{}) {
        const std::string at = d > 0 ? fmt::format(" @ d{}", d) : "";
        for (int64_t p : opts.prompt_sizes)
            if (p > 0) results.push_back({fmt::format("pp{}{}", p, at), p, d, 1, {}});
        for (int64_t n : opts.gen_sizes)
            if (n > 0) results.push_back({fmt::format("tg{}{}", n, at), n, d, 1, {}});
    }
    int64_t filled = 0;  // context tokens that the runs rewind to
    for (BenchResult& r : results) {
        if (!opts.parallel.empty()) break;  // timed above
        const bool pp = r.test.starts_with("pp");
        if (r.depth != filled) {  // untimed: the context the test runs after
            std::vector<float> logits;
            engine.rewind(0, 0);
            const auto status = engine.feed(0, random_tokens(engine, rng, r.depth), false, logits);
            if (!status.ok()) {
                fmt::print(stderr, "error: filling the context to depth {}: {}\n", r.depth, status.error().message);
                return kExitError;
            }
            filled = r.depth;
        }
        for (int rep = -1; rep < opts.repetitions; ++rep) {  // rep -1 warms caches and pages in the weights
            auto tps = time_run(engine, rng, r.depth, pp ? r.tokens : 0, pp ? 0 : r.tokens);
            if (!tps) {
                fmt::print(stderr, "error: {}: {}\n", r.test, tps.error().message);
                return kExitError;
            }
            if (rep >= 0) r.tokens_per_second.push_back(*tps);
        }
    }

    const std::string model = fmt::format("{} {} {}", summary.architecture, format_count(summary.parameters),
                                          summary.dominant_type);
    for (const BenchResult& r : results) {
        rows.push_back({{"model", model}, {"file", (*session)->model_path}, {"size_bytes", file.file_size()},
                        {"parameters", summary.parameters}, {"backend", placement.backend_names()},
                        {"device", placement.device_names()}, {"gpu_layers", gpu_layers}, {"threads", threads},
                        {"test", r.test}, {"tokens", r.tokens}, {"depth", r.depth}, {"sequences", r.sequences},
                        {"samples_ts", r.tokens_per_second}, {"build_commit", ROCMFORGE_COMMIT},
                        {"avg_ts", r.mean()}, {"stddev_ts", r.stddev()}});
    }
    return kExitOk;
}

int run_bench(const BenchOptions& opts) {
    nlohmann::json rows = nlohmann::json::array();
    for (const std::string& path : opts.models)
        if (const int code = bench_model(opts, path, rows); code != kExitOk) return code;
    if (opts.output == "json") {
        fmt::print("{}\n", rows.dump(2));
    } else if (opts.output == "jsonl") {
        for (const nlohmann::json& row : rows) fmt::print("{}\n", row.dump());
    } else if (opts.output == "csv") {
        const char* columns[] = {"model", "file", "size_bytes", "parameters", "backend", "device", "gpu_layers",
                                 "threads", "test", "tokens", "depth", "sequences", "avg_ts", "stddev_ts"};
        fmt::print("{}\n", fmt::join(columns, ","));
        for (const nlohmann::json& row : rows) {
            std::vector<std::string> cells;
            for (const char* c : columns) {
                const nlohmann::json& v = row.at(c);
                // Text quoted (doubling quotes inside), numbers as they are.
                cells.push_back(v.is_string() ? "\"" + replace_all(v.get<std::string>(), "\"", "\"\"") + "\"" : v.dump());
            }
            fmt::print("{}\n", fmt::join(cells, ","));
        }
    } else if (!rows.empty()) {
        fmt::print("backend {}: {}\n\n", rows[0]["backend"].get<std::string>(), rows[0]["device"].get<std::string>());
        fmt::print("| model | size | params | backend | ngl | threads | test | t/s |\n");
        fmt::print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
        for (const nlohmann::json& r : rows) {
            fmt::print("| {} | {} | {} | {} | {} | {} | {} | {:.2f} ± {:.2f} |\n", r["model"].get<std::string>(),
                       format_bytes(r["size_bytes"].get<uint64_t>()), format_count(r["parameters"].get<uint64_t>()),
                       r["backend"].get<std::string>(), r["gpu_layers"].get<int64_t>(), r["threads"].get<int>(),
                       r["test"].get<std::string>(),
                       r["avg_ts"].get<double>(), r["stddev_ts"].get<double>());
        }
        fmt::print("\nbuild: {}\n", ROCMFORGE_COMMIT);  // as llama-bench's last line
    }
    return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand("bench", "Measure prompt-processing and generation speed (tokens/s)");
    add_runtime_options(*cmd, opts->runtime);
    // -m takes several models here, as llama-bench's does.
    cmd->remove_option(cmd->get_option("-m"));
    cmd->add_option("-m,--model", opts->models, "GGUF model files or hub REPO:QUANT names (repeatable or a comma list)")
        ->required()
        ->delimiter(',');
    cmd->add_option("-p,--n-prompt", opts->prompt_sizes, "Prompt lengths to time (repeatable or a comma list; 0 skips)")
        ->delimiter(',')
        ->check(number_in(0, 1 << 20));
    cmd->add_option("-n,--n-gen", opts->gen_sizes, "Generation lengths to time (repeatable or a comma list; 0 skips)")
        ->delimiter(',')
        ->check(number_in(0, 1 << 20));
    cmd->add_option("-d,--depth", opts->depths,
                    "Context depths to run each test at (repeatable or a comma list; 0: empty context)")
        ->delimiter(',')
        ->check(number_in(0, 1 << 20));
    cmd->add_option("--parallel,-P", opts->parallel,
                    "Sequences batched together, each with a -p prompt and -n generated tokens (a comma list, as "
                    "llama-batched-bench's -npl; the first -p and -n are used)")
        ->delimiter(',')
        ->check(number_in(1, 4096));
    cmd->add_option("-r,--repetitions", opts->repetitions, "Timed runs per test")->check(number_in(1, 1000));
    cmd->add_option("-o,--output", opts->output, "md, csv, json or jsonl (one object per line)")
        ->check(CLI::IsMember({"md", "csv", "json", "jsonl"}));
    cmd->callback([opts, &ctx] { ctx.exit_code = run_bench(*opts); });
}

}  // namespace rf::cli
