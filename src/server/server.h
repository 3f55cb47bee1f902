// The OpenAI-compatible HTTP server: routes, authentication, limits and lifecycle. It serves one
// model through a Scheduler and knows nothing about how the scheduler runs it.
//
//   Server server(*scheduler, model, options);
//   RF_ASSIGN_OR_RETURN(int port, server.bind());
//   server.set_ready(true);
//   server.run();           // until stop() from another thread (e.g. on SIGTERM)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/instrumented_backend.h"

#include "core/result.h"
#include "engine/embedder.h"
#include "engine/scheduler.h"
#include "server/log.h"
#include "server/openai_request.h"
#include "server/otlp_config.h"

namespace rf::context {
class ContextStore;
}

namespace rf::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                   // 0: any free port (bind() returns it)
    std::string api_key = {};          // empty: no authentication
    // Browsers of this origin ("https://app.example", or "*") may call the API (CORS); empty: none.
    std::string cors_origin = {};
    std::string model_id = "rocmforge";
    size_t max_body_bytes = 8u << 20;  // larger bodies get 413
    size_t http_threads = 96;          // requests handled at once (a stream holds one)
    // The transport's limits (http_listener.h): each request, headers and body together, must
    // arrive within read_timeout (408); connections open at once, in total and from one client
    // address (0: no per-address cap); over a cap, a connection may still ask /health, /ready or
    // /metrics, anything else gets 503 or 429.
    std::chrono::milliseconds read_timeout{10'000};
    size_t max_connections = 1024;
    size_t max_connections_per_client = 256;
    size_t trace_capacity = 256;
    std::chrono::milliseconds request_timeout{0};  // per request, 0: none
    // What the model runs on, for /metrics and /v1/models ("cpu", "AMD EPYC ... (16 threads)");
    // empty: not shown.
    std::string backend = {};
    std::string device = {};
    // Where each part of the model runs ("cuda: layers 0-15, output; cpu: embedding, layers 16-31")
    // and the layers on each backend, for /metrics and /v1/models; empty: not shown.
    std::string placement = {};
    std::vector<std::pair<std::string, int64_t>> layers_per_backend = {};
    // The operations each backend ran, counted, for /metrics; empty: not shown.
    std::vector<const InstrumentedBackend*> op_counters = {};
    // One line per generation request (and its trace ids); null: none.
    std::shared_ptr<const Logger> log = {};
    // Each generation request's spans go to this collector; an empty traces_url: no exporter.
    OtlpOptions otlp = {};
    // Computes /v1/embeddings: the scheduler's ScheduledEmbedder, or an Embedder of a separate
    // model whose gate is the scheduler's run_between_steps; null: the route answers 404. Must
    // outlive the server.
    engine::TextEmbedder* embedder = nullptr;
    std::string embedding_model_id = {};  // the `model` of embedding responses; empty: model_id
    // Serves /v1/context/... (builds with ROCMFORGE_CONTEXT); null: those routes answer 404.
    context::ContextStore* context = nullptr;
};

class Server {
public:
    Server(engine::Scheduler& scheduler, ModelContext model, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listening socket, with room for a burst of connections to wait (the kernel's
    // largest backlog, SOMAXCONN); returns the port.
    Result<int> bind();
    // The listening socket's backlog as the kernel reports it (Linux), or -1 before bind().
    int accept_backlog() const;
    // Serves until stop(), then sends the spans still queued for the collector. Blocks.
    void run();
    // /ready answers 200 only while ready (and not stopping).
    void set_ready(bool ready);
    // From any thread: /ready turns 503, the scheduler refuses new requests and gets `drain` to
    // finish running ones (the rest are cancelled), then the listener closes and run() returns.
    void stop(std::chrono::milliseconds drain);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace rf::server
