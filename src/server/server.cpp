// Lifecycle and cross-cutting concerns: authentication, the JSON media type of request bodies,
// the Host check, CORS, OpenAI-shaped errors for what no route answers (404) and for what the
// transport refuses (408, 413, 414, 429, 431, 503), response counting, and draining on stop.
#include "server/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "server/server_impl.h"

namespace rf::server {

void send_json(HttpResponse& res, const std::string& body, int status) {
    res.status = status;
    res.set_content(body, "application/json");
}

void send_error(HttpResponse& res, const ApiError& error) { send_json(res, error_body(error), error.status); }

ApiError not_ready(const Server::Impl& s) {
    if (s.stopping)
        return {.status = 503, .message = "the server is shutting down", .type = "service_unavailable",
                .code = "shutting_down"};
    return {.status = 503, .message = "the model is not loaded yet", .type = "service_unavailable",
            .code = "not_ready"};
}

namespace {

// "Bearer KEY", the scheme in any case (RFC 7235).
bool authorized(const HttpRequest& req, const std::string& key) {
    const std::string header = req.get_header_value("Authorization");
    const size_t space = header.find(' ');
    return space != std::string::npos && equal_ignoring_case(std::string_view(header).substr(0, space), "Bearer") &&
           std::string_view(header).substr(space + 1) == key;
}

// Whether `host` (as --host gives it) is a loopback address.
bool is_loopback(std::string_view host) {
    return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// The host name of a Host header ("localhost:8080", "[::1]:8080"), lower case, without the port.
std::string host_name(std::string header) {
    std::transform(header.begin(), header.end(), header.begin(), [](unsigned char c) { return std::tolower(c); });
    if (header.starts_with('[')) return header.substr(0, header.find(']') + 1);
    return header.substr(0, header.find(':'));
}

// The media type of a Content-Type value: before any parameters, without spaces, lower case.
std::string media_type(const std::string& content_type) {
    std::string type = content_type.substr(0, content_type.find(';'));
    std::erase_if(type, [](unsigned char c) { return std::isspace(c); });
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
    return type;
}

// The checks every request passes before its route; false when one answered it.
bool admitted(Server::Impl& s, const HttpRequest& req, HttpResponse& res) {
    // Without a key on a loopback address, only requests for a loopback name: a web page whose
    // name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name as Host.
    if (s.options.api_key.empty() && is_loopback(s.options.host) && req.has_header("Host") &&
        !is_loopback(host_name(req.get_header_value("Host")))) {
        send_error(res, {.status = 403,
                         .message = "Host '" + req.get_header_value("Host") +
                                    "' is not this machine's loopback name (serving without --api-key)",
                         .type = "permission_error",
                         .code = "host_not_allowed"});
        return false;
    }
    if (req.method == "OPTIONS") return true;  // a CORS preflight
    if (!s.options.api_key.empty() && req.path != "/health" && !is_web_page_path(req.path) &&
        !authorized(req, s.options.api_key)) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, {.status = 401, .message = "missing or wrong API key (Authorization: Bearer KEY)",
                         .type = "authentication_error", .code = "invalid_api_key"});
        return false;
    }
    // Every POST route reads JSON. Requiring the JSON media type keeps other web pages out: a
    // browser sends text/plain or form bodies across sites without asking, JSON only after a
    // CORS preflight that this server grants only to --cors-origin.
    if (req.method == "POST" && media_type(req.get_header_value("Content-Type")) != "application/json") {
        send_error(res, {.status = 415,
                         .message = "the request body must be JSON (Content-Type: application/json)",
                         .code = "unsupported_media_type"});
        return false;
    }
    return true;
}

// CORS: the configured origin may read responses.
void grant_origin(const Server::Impl& s, const HttpRequest& req, HttpResponse& res) {
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty() || s.options.cors_origin.empty()) return;
    if (s.options.cors_origin != "*" && origin != s.options.cors_origin) return;
    res.set_header("Access-Control-Allow-Origin", s.options.cors_origin == "*" ? "*" : origin);
    res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Expose-Headers", "X-Request-Id, traceresponse");
}

void handle(Server::Impl& s, HttpRequest& req, HttpResponse& res) {
    if (admitted(s, req, res)) {
        try {
            if (!s.http.dispatch(req, res))
                send_error(res, {.status = 404, .message = "no route for " + req.method + " " + req.path,
                                 .type = error_type_for_status(404)});
        } catch (const std::exception& e) {
            res = {};
            send_error(res, {.status = 500, .message = e.what(), .type = "server_error"});
        }
    }
    grant_origin(s, req, res);
    s.metrics.count_response(res.status);
}

// Probes answer from the I/O threads, also for connections over a cap (http_listener.h).
bool is_probe(const HttpRequest& req) {
    return (req.method == "GET" || req.method == "HEAD") &&
           (req.path == "/health" || req.path == "/ready" || req.path == "/metrics");
}

}  // namespace

Server::Server(engine::Scheduler& scheduler, ModelContext model, ServerOptions options)
    : impl_(std::make_unique<Impl>(scheduler, std::move(model), std::move(options))) {
    Impl& s = *impl_;
    s.listener = std::make_unique<HttpListener>(
        HttpLimits{.body_bytes = s.options.max_body_bytes,
                   .read_timeout = s.options.read_timeout,
                   .max_connections = s.options.max_connections,
                   .max_connections_per_client = s.options.max_connections_per_client,
                   .handler_threads = s.options.http_threads},
        HttpHandlers{.handle = [&s](HttpRequest& req, HttpResponse& res) { handle(s, req, res); },
                     .is_probe = is_probe,
                     .refuse = [&s](int status, const std::string& message, const std::string& code, HttpResponse& res) {
                         send_error(res, {.status = status, .message = message,
                                          .type = status >= 500 && status != 503 ? "server_error" : error_type_for_status(status),
                                          .code = code});
                         s.metrics.count_response(status);
                     }});
    s.http.Options(R"(/.*)", [&s](const HttpRequest& req, HttpResponse& res) {
        const std::string origin = req.get_header_value("Origin");
        const bool allowed = !origin.empty() && !s.options.cors_origin.empty() &&
                             (s.options.cors_origin == "*" || origin == s.options.cors_origin);
        if (!allowed) {
            send_error(res, {.status = 403, .message = "cross-origin requests from '" + origin + "' are not allowed",
                             .type = "permission_error", .code = "origin_not_allowed"});
            return;
        }
        res.status = 204;
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, traceparent, tracestate");
        res.set_header("Access-Control-Max-Age", "600");
    });
    s.metrics.set_backend(s.options.backend, s.options.device);
    s.metrics.set_placement(s.options.placement, s.options.layers_per_backend);
    s.metrics.set_op_counters(s.options.op_counters);
    if (!s.options.otlp.traces_url.empty()) s.exporter = std::make_unique<OtlpExporter>(s.options.otlp, s.options.log);
    add_info_routes(s);
    add_generation_routes(s);
    add_embedding_routes(s);
    add_web_routes(s);
#ifdef ROCMFORGE_HAVE_CONTEXT
    add_context_routes(s);
#endif
}

Server::~Server() {
    stop(std::chrono::milliseconds(0));
    impl_->listener.reset();  // ends what is still queued while the state its handlers use is alive
}

Result<int> Server::bind() { return impl_->listener->bind(impl_->options.host, impl_->options.port); }

int Server::accept_backlog() const {
    tcp_info info{};
    socklen_t size = sizeof(info);
    const int listen_socket = impl_->listener->native_socket();
    if (listen_socket < 0 || getsockopt(listen_socket, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
    return static_cast<int>(info.tcpi_sacked);  // for a listening socket: its backlog
}

void Server::run() {
    impl_->listener->run();
    // Every handler has returned: what they recorded is queued, and goes out before run() ends.
    if (impl_->exporter) impl_->exporter->shutdown();
}

void Server::set_ready(bool ready) { impl_->ready = ready; }

void Server::stop(std::chrono::milliseconds drain) {
    Impl& s = *impl_;
    std::lock_guard lock(s.stop_mutex);
    if (s.stopping.exchange(true)) return;
    s.ready = false;
    s.scheduler->shutdown(drain);  // running streams end (finished or cancelled) before this returns
    s.listener->stop();
}

}  // namespace rf::server
