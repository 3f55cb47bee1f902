// rocmforge serve -m FILE: the OpenAI-compatible HTTP server (docs/server.md). Loads the model
// on the backend --device picks, starts the scheduler and serves until SIGTERM or SIGINT, which drain
// running requests for --drain-timeout seconds before the process exits.
#include <atomic>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/generation_options.h"
#include "engine/embedder.h"
#include "engine/scheduled_embedder.h"
#ifdef ROCMFORGE_HAVE_CONTEXT
#include "context/store.h"
#include "context/store_dir.h"
#endif
#include "engine/loaded_model.h"
#include "engine/scheduler.h"
#include "server/server.h"
#include "template/chat.h"

namespace rf::cli {

namespace {

struct ServeOptions {
    std::string model_path;
    bool offline = false;
    int threads = 0;
    int64_t n_ctx = 4096;
    bool n_ctx_given = false;
    int64_t n_batch = 256;
    KvTypeOptions kv_type;
    WeightLoading loading;
    DeviceOptions device;
    int64_t kv_memory_mib = 0;
    int64_t parallel = 8;
    int64_t queue = 64;
    bool no_prefix_cache = false;
    double timeout_s = 0;
    double drain_s = 30;
    int64_t max_body_mib = 8;
    double read_timeout_s = 10;
    int64_t max_connections = 1024;
    int64_t max_connections_per_client = 256;
    int64_t max_n = 16;
    std::string alias;
    std::string otlp_endpoint;
    std::string log_format = "text";
    std::string log_level = "info";
    bool embeddings = false;          // /v1/embeddings from the served model
    std::string embedding_model;      // ... or from this one
    int64_t embedding_ctx = 512;
    std::string pooling = "mean";
    bool context = false;             // /v1/context/... over a store in context_db
    std::string context_db;
    server::ServerOptions http;
};

// The model behind /v1/embeddings: the served one (its embeddings computed by the scheduler, in
// generation's steps), or a second file loaded on the same backend with an engine of its own.
struct EmbeddingSource {
    engine::LoadedModel separate;  // only with --embedding-model
    std::unique_ptr<engine::TextEmbedder> embedder;
    // The context store's, where it differs: with the served model it waits for room in a full
    // queue (storing a chat exchange has no client to answer 429 to).
    std::unique_ptr<engine::TextEmbedder> patient;
    engine::TextEmbedder& for_store() { return patient ? *patient : *embedder; }
};

Result<EmbeddingSource> make_embedding_source(const ServeOptions& o, Backend& backend, const engine::LoadedModel& served,
                                              engine::Scheduler& scheduler, FileLoad file_load) {
    EmbeddingSource src;
    RF_ASSIGN_OR_RETURN(engine::Pooling pooling, engine::parse_pooling(o.pooling));
    if (o.embedding_model.empty()) {
        const model::HParams& hp = served.model->hparams();
        const int64_t n_ctx = std::min(served.engine->n_ctx(), o.embedding_ctx == 0 ? hp.n_ctx_train : o.embedding_ctx);
        if (n_ctx <= 0) return make_error("--embedding-ctx {} is not usable", o.embedding_ctx);
        src.embedder = std::make_unique<engine::ScheduledEmbedder>(scheduler, *served.tokenizer, hp.n_embd, n_ctx,
                                                                   pooling);
        src.patient = std::make_unique<engine::ScheduledEmbedder>(scheduler, *served.tokenizer, hp.n_embd, n_ctx,
                                                                  pooling, std::chrono::seconds(30));
        return src;
    }
    RF_ASSIGN_OR_RETURN(src.separate, engine::LoadedModel::open(o.embedding_model, backend, file_load));
    RF_ASSIGN_OR_RETURN(src.embedder,
                        engine::Embedder::create(*src.separate.model, *src.separate.tokenizer,
                                                 {.n_ctx = o.embedding_ctx,
                                                  .pooling = pooling,
                                                  .gate = [&scheduler](const std::function<Status()>& work) {
                                                      return scheduler.run_between_steps(work);
                                                  }}));
    return src;
}

// When the GPU is lost (a sticky error), the scheduler moves the whole model to the CPU with this
// (/ready answers 503 meanwhile) and the log says in one line how that went.
std::function<Result<engine::EngineMove>(const Error&)> relocate_to_cpu(engine::LoadedModel& m, Backend& cpu,
                                                                       const server::Logger& log) {
    return [&m, &cpu, &log](const Error& cause) -> Result<engine::EngineMove> {
        const auto started = std::chrono::steady_clock::now();
        auto moved = m.move_to(cpu);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (moved)
            log.warning(fmt::format("the device failed ({}): the model runs on the CPU from now on ({}), moved in "
                                    "{:.1f} s; the requests of the failed step ended with the error",
                                    cause.message, moved->placement, seconds));
        else
            log.error(fmt::format("the device failed ({}) and the model could not move to the CPU: {}; requests fail "
                                  "until the device works again",
                                  cause.message, moved.error().message));
        return moved;
    };
}

// Each connection is a file descriptor, and those over a cap take a second lane of the same size:
// the soft limit (often 1024) goes up to the hard one. Returns a warning when that is still short.
std::string raise_file_limit(int64_t max_connections) {
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) != 0) return {};
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    getrlimit(RLIMIT_NOFILE, &files);
    const auto wanted = static_cast<rlim_t>(2 * max_connections + 256);
    if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < wanted)
        return fmt::format("--max-connections {} wants about {} file descriptors, the limit is {} (ulimit -n)",
                           max_connections, wanted, files.rlim_cur);
    return {};
}

// Waits for SIGINT/SIGTERM (blocked in every thread, so only this one sees them) and stops the
// server; polls `done` so that it also ends when the server stops by itself.
void wait_for_signal(server::Server& srv, std::chrono::milliseconds drain, const std::atomic<bool>& done,
                     const server::Logger& log) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    const timespec poll{0, 200'000'000};
    while (!done) {
        const int sig = sigtimedwait(&set, nullptr, &poll);
        if (sig == SIGINT || sig == SIGTERM) {
            log.info(fmt::format("signal {}: draining requests for up to {} ms", sig, drain.count()));
            srv.stop(drain);
            return;
        }
    }
}

int run_serve(ServeOptions o) {
    // Before any thread starts: signals go to the waiting thread only, and a vanished client's
    // socket must not kill the process.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    auto log = std::make_shared<const server::Logger>(*server::parse_log_format(o.log_format), "serve: ",
                                                      server::Logger::Writer{}, *server::parse_log_level(o.log_level));
    auto fail = [&](const Error& e, int code = kExitError) {
        log->error(e.message);
        return code;
    };
    auto kv = kv_type(o.kv_type);
    if (!kv) return fail(kv.error(), kExitUsage);
    std::vector<std::string> notes;
    auto otlp = server::otlp_options(o.otlp_endpoint, server::process_environment, notes);
    if (!otlp) return fail(otlp.error(), kExitUsage);
    for (const std::string& note : notes) log->warning(note);
    const Notice to_log = [&](std::string_view level, const std::string& text) {
        if (level == "warning") log->warning(text);
        else log->info(text);
    };
    auto model_path = model_or_demo(o.model_path, to_log, o.offline);
    if (!model_path) return fail(model_path.error());
    o.model_path = *model_path;
    auto backends = make_backends(o.device, o.threads, o.loading, to_log);
    if (!backends) return fail(backends.error());
    log->info(fmt::format("{} backend on {}", backends->main->name(), backends->main->device_name()));
    // The progress bar (on a terminal) is not a log line.
    const bool text_log = log->format() == server::LogFormat::Text;
    auto loaded = engine::LoadedModel::load(o.model_path, backends->devices(),
                                            {.n_ctx = o.n_ctx,
                                             .n_batch = o.n_batch,
                                             .max_sequences = o.parallel,
                                             .block_size = 16,
                                             .kv_type = *kv,
                                             .kv_memory_bytes = o.kv_memory_mib << 20},
                                            file_load(o.loading, *backends),
                                            text_log ? load_progress() : MappedFile::Progress{});
    if (!loaded) return fail(loaded.error());
    engine::LoadedModel& m = *loaded;
    if (backends->cpu) log->info("placement: " + placement_line(m));
    if (o.n_ctx_given) warn_about_context(m.engine->n_ctx(), m.model->hparams().n_ctx_train, to_log);
    if (!m.engine->kv_pool_holds_all_contexts())
        log->info(fmt::format("the KV pool was sized to memory: {} blocks of {} tokens, fewer than {} full contexts",
                              m.engine->cache().total_blocks(), m.engine->cache().block_size(), o.parallel));
    auto chat_template = m.file->get_string_or("tokenizer.chat_template", tmpl::kDefaultChatTemplate);
    if (!chat_template) return fail(chat_template.error());
    engine::SchedulerOptions scheduling{.max_queue = o.queue,
                                        .max_running = o.parallel,
                                        .step_token_budget = o.n_batch,
                                        .prefix_caching = !o.no_prefix_cache};
    if (backends->cpu) scheduling.relocate = relocate_to_cpu(m, *backends->cpu, *log);
    auto scheduler = engine::Scheduler::create(*m.engine, *m.tokenizer, scheduling);
    if (!scheduler) return fail(scheduler.error());
    EmbeddingSource embedding;
    if (o.embeddings || !o.embedding_model.empty() || o.context) {
        // A separate embedding model goes on the main backend whole.
        auto made = make_embedding_source(o, *backends->main, m, **scheduler, file_load(o.loading, *backends));
        if (!made) return fail(made.error());
        embedding = std::move(*made);
        o.http.embedder = embedding.embedder.get();
        if (!o.embedding_model.empty())
            o.http.embedding_model_id = std::filesystem::path(o.embedding_model).filename().string();
        log->info(fmt::format("embeddings: {} dimensions, {} pooling, up to {} tokens per input",
                              embedding.embedder->dimension(), o.pooling, embedding.embedder->n_ctx()));
    }
#ifdef ROCMFORGE_HAVE_CONTEXT
    std::unique_ptr<context::ContextStore> store;
    if (o.context) {
        auto dir = context::store_dir(o.context_db);
        if (!dir) return fail(dir.error(), kExitUsage);
        const std::string& source = o.embedding_model.empty() ? o.model_path : o.embedding_model;
        auto opened = context::ContextStore::open(*dir, embedding.for_store(),
                                                  context::embedding_model_key(source, *engine::parse_pooling(o.pooling)));
        if (!opened) return fail(opened.error());
        store = std::move(*opened);
        o.http.context = store.get();
        log->info(fmt::format("context store in {}", *dir));
    }
#endif
    o.http.model_id = o.alias.empty() ? std::filesystem::path(o.model_path).filename().string() : o.alias;
    o.http.max_body_bytes = static_cast<size_t>(o.max_body_mib) << 20;
    o.http.read_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.read_timeout_s * 1000));
    o.http.max_connections = static_cast<size_t>(o.max_connections);
    o.http.max_connections_per_client = static_cast<size_t>(o.max_connections_per_client);
    o.http.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
    o.http.http_threads = static_cast<size_t>(o.parallel + o.queue + 8);
    o.http.backend = m.model->placement().backend_names();
    o.http.device = m.model->placement().device_names();
    o.http.placement = m.model->placement().describe();
    for (const auto& counted : {&backends->main, &backends->cpu})
        if (*counted) o.http.op_counters.push_back(counted->get());
    for (int part = 0; part < m.model->placement().parts(); ++part)
        o.http.layers_per_backend.emplace_back(m.model->placement().backend(part).name(),
                                               m.model->placement().layers_on(part));
    o.http.log = log;
    o.http.otlp = *otlp;
    if (!o.http.otlp.traces_url.empty())
        log->info("exporting request spans over OTLP/HTTP", {{"endpoint", o.http.otlp.traces_url}});
    server::Server srv(**scheduler,
                       {.tokenizer = m.tokenizer.get(),
                        .chat_template = *chat_template,
                        .n_ctx = m.engine->n_ctx(),
                        .max_n = o.max_n},
                       o.http);
    if (const std::string short_of_files = raise_file_limit(o.max_connections); !short_of_files.empty())
        log->warning(short_of_files);
    auto port = srv.bind();
    if (!port) return fail(port.error());
    srv.set_ready(true);
    // Scripts (and tests) read this line to learn the port when --port 0 was given.
    fmt::print("listening on http://{}:{}\n", o.http.host, *port);
    std::fflush(stdout);

    std::atomic<bool> done{false};
    const auto drain = std::chrono::milliseconds(static_cast<int64_t>(o.drain_s * 1000));
    std::thread signals([&] { wait_for_signal(srv, drain, done, *log); });
    srv.run();
    done = true;
    signals.join();
    srv.stop(drain);  // no-op after a signal; otherwise drains what is left
    log->info("stopped");
    return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<ServeOptions>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
    cmd->add_option("-m,--model", o->model_path,
                    "GGUF model file, or REPO[:QUANT|:FILE] from the hub, pulled into the models cache when missing "
                    "(default: the demo model)");
    cmd->add_flag("--offline", o->offline, "Never download: -m REPO:QUANT must be in the models cache (also ROCMFORGE_OFFLINE=1)");
    cmd->add_option("--host", o->http.host, "Address to listen on (default 127.0.0.1: this machine only)");
    cmd->add_option("--port", o->http.port, "TCP port (0: any free port, printed at start)")->check(number_in(0, 65535));
    cmd->add_option("--api-key", o->http.api_key, "Require 'Authorization: Bearer KEY' on every route but /health");
    cmd->add_option("--cors-origin", o->http.cors_origin,
                    "Let web pages of this origin (https://host[:port], or *) call the API from a browser");
    cmd->add_option("--alias", o->alias, "Model id shown by /v1/models (default: the file name)");
    cmd->add_option("-t,--threads", o->threads, "CPU threads (0: one per core)")->check(number_in(0, 1024));
    cmd->add_option("-c,--ctx-size", o->n_ctx, "Context size per request in tokens (0: the model's training context)")
        ->check(number_in(0, 1 << 24))
        ->each([o](const std::string&) { o->n_ctx_given = true; });
    cmd->add_option("-b,--batch-size,--batch", o->n_batch, "Most tokens per forward step (prefill chunks + decodes)")
        ->check(number_in(1, 65536));
    add_kv_type_options(*cmd, o->kv_type);
    add_loading_flags(*cmd, o->loading);
    add_device_flags(*cmd, o->device);
    cmd->add_option("--kv-memory", o->kv_memory_mib,
                    "KV cache pool in MiB (0: ctx-size x parallel positions, or what fits in nine tenths of the "
                    "free memory)")
        ->check(number_in(int64_t{0}, int64_t{1} << 30));
    cmd->add_option("--parallel", o->parallel, "Most requests running at once (llama.cpp's -np)")->check(number_in(1, 1024));
    cmd->add_option("--queue", o->queue, "Most requests waiting; more get 429")->check(number_in(0, 1 << 20));
    cmd->add_flag("--no-prefix-cache", o->no_prefix_cache, "Do not reuse the KV blocks of shared prompt prefixes");
    cmd->add_option("--timeout", o->timeout_s, "Cancel a request after this many seconds (0: never)")
        ->check(number_in(0.0, 1e7));
    cmd->add_option("--drain-timeout", o->drain_s, "On SIGTERM/SIGINT, seconds running requests get to finish")
        ->check(number_in(0.0, 1e6));
    cmd->add_option("--max-body", o->max_body_mib, "Largest request body in MiB (larger: 413)")->check(number_in(1, 4096));
    cmd->add_option("--read-timeout", o->read_timeout_s,
                    "Seconds a request, headers and body together, may take to arrive (later: 408); also how "
                    "long an idle kept-alive connection stays open")
        ->check(number_in(0.1, 3600.0));
    cmd->add_option("--max-connections", o->max_connections,
                    "Most connections open at once (beyond: /health, /ready and /metrics only, else 503)")
        ->check(number_in(1, 1 << 20));
    cmd->add_option("--max-connections-per-client", o->max_connections_per_client,
                    "Most connections from one client address (beyond: probes only, else 429; 0: no cap)")
        ->check(number_in(0, 1 << 20));
    cmd->add_option("--max-n", o->max_n, "Most choices (prompts x n) one request may ask for")->check(number_in(1, 1024));
    cmd->add_option("--otlp-endpoint", o->otlp_endpoint,
                    "Send each request's trace to this OpenTelemetry collector (OTLP/HTTP JSON, e.g. "
                    "http://localhost:4318; default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)");
    cmd->add_flag("--embeddings", o->embeddings,
                  "Serve POST /v1/embeddings from the model (its final hidden state, pooled and normalised)");
    cmd->add_option("--embedding-model", o->embedding_model, "Serve POST /v1/embeddings from this GGUF model instead");
    cmd->add_option("--embedding-ctx", o->embedding_ctx, "Most tokens per embedding input (0: the model's training "
                                                         "context)")
        ->check(number_in(0, 1 << 20));
    cmd->add_option("--pooling", o->pooling, "How token rows become one embedding: mean or last")
        ->check(CLI::IsMember({"mean", "last"}));
#ifdef ROCMFORGE_HAVE_CONTEXT
    cmd->add_flag("--context", o->context, "Serve the context store at /v1/context/... (embeds with the model, as "
                                           "--embeddings)");
    cmd->add_option("--context-db", o->context_db, "Context store directory (default: $ROCMFORGE_CONTEXT_DIR, else "
                                                   "$XDG_DATA_HOME/rocmforge/context)");
#endif
    cmd->add_option("--log-format", o->log_format, "Log lines as text or json (with request and trace ids)")
        ->check(CLI::IsMember({"text", "json"}));
    cmd->add_option("--log-level", o->log_level, "Least severe log lines written: debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error"}));
    cmd->callback([o, &ctx] { ctx.exit_code = run_serve(*o); });
}

}  // namespace rf::cli
