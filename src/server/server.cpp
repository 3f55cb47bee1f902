// Lifecycle and cross-cutting concerns: authentication, the JSON media type of request bodies, the
// body limit, OpenAI-shaped errors for whatever httplib answers by itself (404, 413), the listen
// backlog, response counting, and draining on stop.
#include "server/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "server/server_impl.h"

namespace rf::server {

void send_json(httplib::Response& res, const std::string& body, int status) {
    res.status = status;
    res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) { send_json(res, error_body(error), error.status); }

ApiError not_ready(const Server::Impl& s) {
    if (s.stopping)
        return {.status = 503, .message = "the server is shutting down", .type = "service_unavailable",
                .code = "shutting_down"};
    return {.status = 503, .message = "the model is not loaded yet", .type = "service_unavailable",
            .code = "not_ready"};
}

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// "Bearer KEY", the scheme in any case (RFC 7235).
bool authorized(const httplib::Request& req, const std::string& key) {
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

}  // namespace

Server::Server(engine::Scheduler& scheduler, ModelContext model, ServerOptions options)
    : impl_(std::make_unique<Impl>(scheduler, std::move(model), std::move(options))) {
    Impl& s = *impl_;
    const size_t threads = s.options.http_threads;
    s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    s.http.set_payload_max_length(s.options.max_body_bytes);
    s.http.set_tcp_nodelay(true);  // stream tokens as they come, not in Nagle-sized batches
    s.http.set_socket_options([&s](socket_t sock) {
        httplib::default_socket_options(sock);
        s.listen_socket = sock;  // httplib listens with a backlog of 5: bind() widens it
    });
    s.http.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
        // Without a key on a loopback address, only requests for a loopback name: a web page whose
        // name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name as Host.
        if (s.options.api_key.empty() && is_loopback(s.options.host) && req.has_header("Host") &&
            !is_loopback(host_name(req.get_header_value("Host")))) {
            send_error(res, {.status = 403,
                             .message = "Host '" + req.get_header_value("Host") +
                                        "' is not this machine's loopback name (serving without --api-key)",
                             .type = "permission_error",
                             .code = "host_not_allowed"});
            return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method == "OPTIONS") return httplib::Server::HandlerResponse::Unhandled;  // a CORS preflight
        if (!s.options.api_key.empty() && req.path != "/health" && !is_web_page_path(req.path) &&
            !authorized(req, s.options.api_key)) {
            res.set_header("WWW-Authenticate", "Bearer");
            send_error(res, {.status = 401, .message = "missing or wrong API key (Authorization: Bearer KEY)",
                             .type = "authentication_error", .code = "invalid_api_key"});
            return httplib::Server::HandlerResponse::Handled;
        }
        // Every POST route reads JSON. Requiring the JSON media type keeps other web pages out: a
        // browser sends text/plain or form bodies across sites without asking, JSON only after a
        // CORS preflight that this server grants only to --cors-origin.
        if (req.method == "POST" && media_type(req.get_header_value("Content-Type")) != "application/json") {
            send_error(res, {.status = 415,
                             .message = "the request body must be JSON (Content-Type: application/json)",
                             .code = "unsupported_media_type"});
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // CORS: the configured origin may read responses; preflights are answered for it alone.
    s.http.set_post_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
        const std::string origin = req.get_header_value("Origin");
        if (origin.empty() || s.options.cors_origin.empty()) return;
        if (s.options.cors_origin != "*" && origin != s.options.cors_origin) return;
        res.set_header("Access-Control-Allow-Origin", s.options.cors_origin == "*" ? "*" : origin);
        res.set_header("Vary", "Origin");
        res.set_header("Access-Control-Expose-Headers", "X-Request-Id, traceresponse");
    });
    s.http.Options(R"(/.*)", [&s](const httplib::Request& req, httplib::Response& res) {
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
    // httplib answers unknown routes (404), oversized bodies (413) and the like without a body.
    s.http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = res.status == 404   ? "no route for " + req.method + " " + req.path
                              : res.status == 413 ? "the request body is larger than the server accepts"
                                                   : "HTTP error " + std::to_string(res.status);
        send_error(res, {.status = res.status, .message = message, .type = error_type_for_status(res.status)});
        return httplib::Server::HandlerResponse::Handled;
    }));
    s.http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_error(res, {.status = 500, .message = what, .type = "server_error"});
    });
    s.http.set_logger([&s](const httplib::Request&, const httplib::Response& res) { s.metrics.count_response(res.status); });
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

Server::~Server() { stop(std::chrono::milliseconds(0)); }

Result<int> Server::bind() {
    Impl& s = *impl_;
    int port = s.options.port;
    if (port == 0) {
        port = s.http.bind_to_any_port(s.options.host);
        if (port <= 0) return make_error("cannot listen on {} (any port)", s.options.host);
    } else if (!s.http.bind_to_port(s.options.host, port)) {
        return make_error("cannot listen on {}:{} (in use, or not an address of this machine?)", s.options.host,
                          port);
    }
    // Listening again on a listening socket sets its backlog: a burst of connects then waits in
    // the kernel's queue instead of being refused.
    if (s.listen_socket >= 0 && ::listen(s.listen_socket, SOMAXCONN) != 0)
        return make_error("cannot set the listen backlog on {}:{}: {}", s.options.host, port, std::strerror(errno));
    return port;
}

int Server::accept_backlog() const {
    tcp_info info{};
    socklen_t size = sizeof(info);
    if (impl_->listen_socket < 0 || getsockopt(impl_->listen_socket, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
    return static_cast<int>(info.tcpi_sacked);  // for a listening socket: its backlog
}

void Server::run() {
    impl_->http.listen_after_bind();
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
    s.http.stop();
}

}  // namespace rf::server
