// The HTTP/1.1 transport: accepts connections, reads requests, writes responses. Event-driven
// (Boost.Asio and Boost.Beast, in http_listener.cpp only): a few I/O threads read every
// connection, so a slow client costs a socket and a timer, never a thread. A parsed request goes to
// a pool of handler threads (a streaming response holds its thread and writes chunks as the
// scheduler produces them); probes (/health, /ready, /metrics) are answered on the I/O threads,
// so they need no free handler thread.
//
// Limits: each request, headers and body together, must arrive within `read_timeout` (else 408;
// an idle kept-alive connection is closed silently then). Connections are capped in total and per
// client address; one over a cap still has `probe_timeout` to send a probe, which is answered,
// any other request gets 429 (its address at its cap) or 503 (the server full). Those over-cap
// connections are capped as well: when their lane is full, its oldest is closed to make room, so
// a probe always gets in. Keep-alive and pipelining: the requests on one connection are answered
// one after another, in order.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "server/http_message.h"

namespace rf::server {

struct HttpLimits {
    size_t header_bytes = 16u << 10;        // request line and headers; more: 431
    size_t request_line_bytes = 8u << 10;   // the request target alone; more: 414
    size_t body_bytes = 8u << 20;           // more: 413
    std::chrono::milliseconds read_timeout{10'000};   // a whole request; 408
    std::chrono::milliseconds write_timeout{10'000};  // one write the client does not take; closed
    std::chrono::milliseconds probe_timeout{1'000};   // a connection over a cap, for its one request
    size_t max_connections = 1024;           // open at once (beyond: probes only)
    size_t max_connections_per_client = 256; // from one address (beyond: probes only); 0: no cap
    size_t io_threads = 2;
    size_t handler_threads = 96;             // requests handled at once (a stream holds one)
};

struct HttpHandlers {
    // Every request that arrived whole; runs on a handler thread, or an I/O thread for a probe.
    std::function<void(HttpRequest&, HttpResponse&)> handle;
    // Whether a request is a cheap probe, answered on the I/O threads and also over the caps.
    std::function<bool(const HttpRequest&)> is_probe;
    // Fills in the response to a request refused by the transport itself (400, 408, 413, 414,
    // 429, 431, 503); `code` is a machine-readable reason.
    std::function<void(int status, const std::string& message, const std::string& code, HttpResponse&)> refuse;
};

class HttpListener {
public:
    HttpListener(HttpLimits limits, HttpHandlers handlers);
    ~HttpListener();
    HttpListener(const HttpListener&) = delete;
    HttpListener& operator=(const HttpListener&) = delete;

    // Listens on host:port (0: any free port) with the kernel's largest backlog; returns the port.
    Result<int> bind(const std::string& host, int port);
    // The listening socket, or -1 before bind().
    int native_socket() const;
    // Serves until stop(); returns once every connection is closed and every handler has returned.
    void run();
    // Stops accepting and closes idle connections; responses under way end first.
    void stop();

    struct Core;  // the state shared with the connections (http_listener.cpp)

private:
    std::shared_ptr<Core> core_;
};

}  // namespace rf::server
