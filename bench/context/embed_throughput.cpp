// Embedding throughput of a GGUF model: texts/s and tokens/s for a batch of generated texts,
// embedded one after another by an Embedder (a separate embedding model in the server), or with
// --scheduled all together by the scheduler (the served model: inputs share forward steps).
//
//   embed_throughput -m MODEL [--device cpu|cuda|auto] [-t THREADS] [--texts 64] [--words 48]
//                    [--scheduled [--parallel 16]]
#include <chrono>
#include <optional>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "backend/backend_factory.h"
#include "engine/embedder.h"
#include "engine/loaded_model.h"
#include "engine/scheduled_embedder.h"

int main(int argc, char** argv) {
    CLI::App app("Embedding throughput (texts/s, tokens/s)");
    std::string model_path, device = "cpu";
    int threads = 0;
    int64_t texts = 64, words = 48, parallel = 16;
    bool scheduled = false;
    app.add_option("-m,--model", model_path, "GGUF model")->required();
    app.add_option("--device", device, "cpu, cuda or auto");
    app.add_option("-t,--threads", threads, "CPU threads (0: one per core)");
    app.add_option("--texts", texts, "Texts to embed")->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
    app.add_option("--words", words, "Words per text")->check(CLI::Range(int64_t{1}, int64_t{100'000}));
    app.add_flag("--scheduled", scheduled, "Embed through the scheduler, all texts queued together");
    app.add_option("--parallel", parallel, "With --scheduled: sequences per step")
        ->check(CLI::Range(int64_t{1}, int64_t{256}));
    CLI11_PARSE(app, argc, argv);
    auto fail = [](const rf::Error& e) {
        fmt::print(stderr, "error: {}\n", e.message);
        return 1;
    };
    auto kind = rf::parse_device_kind(device);
    if (!kind) return fail(kind.error());
    auto backend = rf::create_backend({.device = *kind, .threads = threads});
    if (!backend) return fail(backend.error());
    auto model = rf::engine::LoadedModel::open(model_path, *backend->backend);
    if (!model) return fail(model.error());
    const int64_t n_ctx = words * 8 + 16;
    auto own = rf::engine::Embedder::create(*model->model, *model->tokenizer, {.n_ctx = n_ctx});
    if (!own) return fail(own.error());
    std::unique_ptr<rf::engine::TextEmbedder> embedder = std::move(*own);
    std::optional<rf::engine::Engine> engine;
    std::unique_ptr<rf::engine::Scheduler> scheduler;
    if (scheduled) {
        auto e = rf::engine::Engine::create(*model->model, {.n_ctx = n_ctx, .n_batch = 512, .max_sequences = parallel});
        if (!e) return fail(e.error());
        engine.emplace(std::move(*e));
        auto made = rf::engine::Scheduler::create(*engine, *model->tokenizer,
                                                  {.max_queue = 1024, .max_running = parallel, .step_token_budget = 512});
        if (!made) return fail(made.error());
        scheduler = std::move(*made);
        embedder = std::make_unique<rf::engine::ScheduledEmbedder>(*scheduler, *model->tokenizer,
                                                                   model->model->hparams().n_embd, n_ctx,
                                                                   rf::engine::Pooling::Mean);
    }

    static const char* const kWords[] = {"river", "stone", "light", "market", "engine", "quiet", "garden", "number",
                                         "winter", "letter", "silver", "window", "story", "bridge", "cloud", "paper"};
    std::mt19937 rng(7);
    std::vector<std::vector<int32_t>> inputs;
    int64_t tokens = 0;
    for (int64_t t = 0; t < texts; ++t) {
        std::string text;
        for (int64_t w = 0; w < words; ++w) text += std::string(w ? " " : "") + kWords[rng() % 16];
        inputs.push_back(embedder->tokenize(text));
        tokens += static_cast<int64_t>(inputs.back().size());
    }
    (void)embedder->embed_tokens(inputs[0]);  // warm-up
    const auto start = std::chrono::steady_clock::now();
    auto vectors = embedder->embed_many(inputs);
    if (!vectors) return fail(vectors.error());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("{} on {} ({}): {} texts of {:.1f} tokens, {} dims | {:.1f} texts/s, {:.0f} tokens/s\n", model_path,
               backend->backend->device_name(), scheduled ? fmt::format("scheduled, {} at once", parallel) : "one by one",
               texts, static_cast<double>(tokens) / static_cast<double>(texts), embedder->dimension(),
               static_cast<double>(texts) / s, static_cast<double>(tokens) / s);
    return 0;
}
