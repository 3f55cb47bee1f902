// Internal to src/server: the state the route handlers share.
#pragma once

#include <atomic>
#include <mutex>

#include "server/http_listener.h"
#include "server/http_router.h"
#include "server/metrics.h"
#include "server/otlp_exporter.h"
#include "server/server.h"
#include "server/traces.h"

namespace rf::server {

struct Server::Impl {
    engine::Scheduler* scheduler;
    ModelContext model;
    ServerOptions options;
    HttpRouter http;                         // the routes
    std::unique_ptr<HttpListener> listener;  // the transport
    Metrics metrics;
    TraceBuffer traces;
    std::unique_ptr<OtlpExporter> exporter;  // only with a collector to send to
    std::atomic<bool> ready{false};
    std::atomic<bool> stopping{false};
    std::mutex stop_mutex;

    Impl(engine::Scheduler& s, ModelContext m, ServerOptions o)
        : scheduler(&s), model(std::move(m)), options(std::move(o)), traces(options.trace_capacity) {}
};

void send_error(HttpResponse& res, const ApiError& error);
void send_json(HttpResponse& res, const std::string& body, int status = 200);
// The 503 while the server is not ready: still loading (`not_ready`) or draining (`shutting_down`).
ApiError not_ready(const Server::Impl& impl);

// The routes, registered on impl.http.
void add_generation_routes(Server::Impl& impl);  // /v1/completions, /v1/chat/completions
void add_info_routes(Server::Impl& impl);        // health, ready, models, metrics, traces, tokenize, requests
void add_embedding_routes(Server::Impl& impl);   // /v1/embeddings
void add_context_routes(Server::Impl& impl);     // /v1/context/... (built with ROCMFORGE_CONTEXT)
void add_web_routes(Server::Impl& impl);         // the chat page: / and /ui/...
// Whether `path` is one of the chat page's files (served without the API key).
bool is_web_page_path(std::string_view path);

}  // namespace rf::server
