// Lifecycle and cross-cutting concerns: authentication, the body limit, OpenAI-shaped errors for
// whatever httplib answers by itself (404, 413), response counting, and draining on stop.
#include "server/server.h"

#include "server/server_impl.h"

namespace rf::server {

void send_json(httplib::Response& res, const std::string& body, int status) {
    res.status = status;
    res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) { send_json(res, error_body(error), error.status); }

namespace {

bool authorized(const httplib::Request& req, const std::string& key) {
    const std::string header = req.get_header_value("Authorization");
    return header == "Bearer " + key;
}

}  // namespace

Server::Server(engine::Scheduler& scheduler, ModelContext model, ServerOptions options)
    : impl_(std::make_unique<Impl>(scheduler, std::move(model), std::move(options))) {
    Impl& s = *impl_;
    const size_t threads = s.options.http_threads;
    s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    s.http.set_payload_max_length(s.options.max_body_bytes);
    s.http.set_tcp_nodelay(true);  // stream tokens as they come, not in Nagle-sized batches
    s.http.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
        if (s.options.api_key.empty() || req.path == "/health" || authorized(req, s.options.api_key))
            return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, {.status = 401, .message = "missing or wrong API key (Authorization: Bearer KEY)",
                         .type = "authentication_error", .code = "invalid_api_key"});
        return httplib::Server::HandlerResponse::Handled;
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
    add_info_routes(s);
    add_generation_routes(s);
}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

Result<int> Server::bind() {
    Impl& s = *impl_;
    if (s.options.port == 0) {
        const int port = s.http.bind_to_any_port(s.options.host);
        if (port <= 0) return make_error("cannot listen on {} (any port)", s.options.host);
        return port;
    }
    if (!s.http.bind_to_port(s.options.host, s.options.port))
        return make_error("cannot listen on {}:{} (in use, or not an address of this machine?)", s.options.host,
                          s.options.port);
    return s.options.port;
}

void Server::run() { impl_->http.listen_after_bind(); }

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
