// The one file that knows Boost.Asio and Boost.Beast. A connection (Session) lives on its own
// strand: reading a request, writing a plain response and the deadline timer run there, one at a
// time. A streamed response is written by the handler thread straight to the socket (blocking,
// with a timeout per write) while the strand leaves the socket alone, then hands the connection
// back to the strand to read the next request.
#include "server/http_listener.h"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace rf::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

class HttpSession;

namespace {

std::string text(beast::string_view s) { return std::string(s.data(), s.size()); }

std::string seconds_text(std::chrono::milliseconds d) { return fmt::format("{:g} s", d.count() / 1000.0); }

// Writes all of `data` to a socket that may be non-blocking, waiting at most `timeout` for the
// client to take each part; false when the client is gone or too slow.
bool send_all(int fd, std::string_view data, std::chrono::milliseconds timeout) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
            if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
            continue;
        }
        return false;
    }
    return true;
}

// Whether the client still has its end open: a closed end with nothing left to read is gone
// (pipelined requests still waiting to be read keep it alive).
bool peer_alive(int fd) {
    pollfd p{.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
    if (::poll(&p, 1, 0) < 0) return true;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return false;
    if (!(p.revents & (POLLIN | POLLRDHUP))) return true;
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

// The status line and headers; a streamed body is chunked (HTTP/1.1) or ends with the connection.
std::string response_head(const HttpResponse& res, bool streamed, bool http11, bool keep_alive) {
    std::string head = fmt::format("HTTP/1.1 {} {}\r\n", res.status,
                                   text(http::obsolete_reason(static_cast<http::status>(res.status))));
    for (const auto& [name, value] : res.headers) {
        std::string v = value;
        std::erase_if(v, [](char c) { return c == '\r' || c == '\n'; });  // no header injection
        head += name + ": " + v + "\r\n";
    }
    if (!streamed) head += fmt::format("Content-Length: {}\r\n", res.body.size());
    else if (http11) head += "Transfer-Encoding: chunked\r\n";
    head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    return head;
}

// A streamed body, written by the handler thread.
class SocketSink : public DataSink {
public:
    SocketSink(int fd, std::chrono::milliseconds timeout, bool chunked) : fd_(fd), timeout_(timeout), chunked_(chunked) {}
    bool write(std::string_view data) override {
        if (failed_ || done_) return false;
        if (data.empty()) return true;
        const std::string framed = chunked_ ? fmt::format("{:x}\r\n{}\r\n", data.size(), data) : std::string(data);
        failed_ = !send_all(fd_, framed, timeout_);
        return !failed_;
    }
    bool is_writable() override { return !failed_ && peer_alive(fd_); }
    void done() override {
        if (done_ || failed_) return;
        done_ = true;
        if (chunked_) failed_ = !send_all(fd_, "0\r\n\r\n", timeout_);
    }
    bool ended() const { return done_ && !failed_; }

private:
    int fd_;
    std::chrono::milliseconds timeout_;
    bool chunked_;
    bool failed_ = false;
    bool done_ = false;
};

}  // namespace

struct HttpListener::Core : std::enable_shared_from_this<HttpListener::Core> {
    HttpLimits limits;
    HttpHandlers handlers;
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    asio::steady_timer accept_retry{ioc};
    asio::thread_pool workers;
    std::atomic<bool> stopping{false};

    std::mutex mutex;  // guards what follows
    size_t open = 0;                                   // connections within the caps
    std::map<std::string, size_t> per_client;          // of those, by address
    std::list<HttpSession*> over_cap;                  // connections beyond a cap, oldest first
    std::unordered_map<HttpSession*, std::weak_ptr<HttpSession>> sessions;

    Core(HttpLimits l, HttpHandlers h) : limits(l), handlers(std::move(h)), workers(std::max<size_t>(1, l.handler_threads)) {}
    void accept();
    void admit(tcp::socket socket);
    void forget(HttpSession& s);
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    using Core = HttpListener::Core;
    // Over a cap: `over_client_cap` when it is the per-address one (429), else the total (503).
    HttpSession(std::shared_ptr<Core> core, tcp::socket socket, std::string client, bool over_cap, bool over_client_cap)
        : core_(std::move(core)), socket_(std::move(socket)), timer_(socket_.get_executor()),
          client_(std::move(client)), over_cap_(over_cap), over_client_cap_(over_client_cap) {}
    ~HttpSession() { core_->forget(*this); }

    const std::string& client() const { return client_; }
    bool over_cap() const { return over_cap_; }
    // Its place in core.over_cap while it is there (guarded by core.mutex).
    std::list<HttpSession*>::iterator lane_entry;
    bool in_lane = false;

    void start() {
        asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->read_request(); });
    }
    // Closes the connection if it is waiting for a request (stop, or room needed in the over-cap lane).
    void close_if_idle() {
        asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
            if (self->reading_) self->close();
        });
    }

private:
    void read_request() {
        if (core_->stopping) return close();
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(core_->limits.header_bytes));
        parser_->body_limit(core_->limits.body_bytes);
        reading_ = true;
        timed_out_ = false;
        arm_timer(over_cap_ ? core_->limits.probe_timeout : core_->limits.read_timeout);
        http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
            if (ec) return self->read_failed(ec);
            self->read_body();
        });
    }

    void read_body() {
        if (parser_->is_done()) return request_read();
        const auto expect = parser_->get()[http::field::expect];
        if (beast::iequals(expect, "100-continue")) {  // the client waits for a go-ahead before its body
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            asio::async_write(socket_, asio::buffer(kContinue), [self = shared_from_this()](error_code ec, size_t) {
                if (ec) return self->read_failed(ec);
                http::async_read(self->socket_, self->buffer_, *self->parser_,
                                 [self](error_code ec2, size_t) { ec2 ? self->read_failed(ec2) : self->request_read(); });
            });
            return;
        }
        http::async_read(socket_, buffer_, *parser_,
                         [self = shared_from_this()](error_code ec, size_t) { ec ? self->read_failed(ec) : self->request_read(); });
    }

    void arm_timer(std::chrono::milliseconds d) {
        timer_.expires_after(d);
        timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->timer_.expiry() > SteadyClock::now()) return;  // cancelled, or re-armed since
            if (self->reading_) self->timed_out_ = true;
            if (self->reading_ || self->writing_) {
                error_code ignored;
                self->socket_.cancel(ignored);  // the pending read or write ends with operation_aborted
            }
        });
    }

    void read_failed(error_code ec) {
        reading_ = false;
        timer_.cancel();
        if (timed_out_) {
            // Nothing of a next request came: an idle kept-alive connection, closed without a word.
            if (!parser_->got_some() && buffer_.size() == 0) return close();
            const auto limit = over_cap_ ? core_->limits.probe_timeout : core_->limits.read_timeout;
            return refuse(408, "the request did not arrive whole within " + seconds_text(limit) + " (headers and body)",
                          "request_timeout");
        }
        if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
            return close();
        if (ec == http::error::header_limit) {
            // The parser keeps the request line once it has it whole: without one, that line is too long.
            if (parser_->get().target().empty())
                return refuse(414, fmt::format("the request line is longer than {} bytes", core_->limits.header_bytes),
                              "uri_too_long");
            return refuse(431, fmt::format("the request headers are larger than {} bytes", core_->limits.header_bytes),
                          "headers_too_large");
        }
        if (ec == http::error::body_limit)
            return refuse(413, "the request body is larger than the server accepts", "");
        refuse(400, "malformed HTTP request: " + ec.message(), "bad_http_request");
    }

    void request_read() {
        reading_ = false;
        timer_.cancel();
        http::request<http::string_body> msg = parser_->release();
        if (msg.target().size() > core_->limits.request_line_bytes)
            return refuse(414, fmt::format("the request target is longer than {} bytes", core_->limits.request_line_bytes),
                          "uri_too_long");
        auto req = std::make_shared<HttpRequest>();
        req->method = text(msg.method_string());
        req->target = text(msg.target());
        const size_t query = req->target.find('?');
        req->path = decode_url(std::string_view(req->target).substr(0, query), false);
        if (query != std::string::npos) req->params = parse_query(std::string_view(req->target).substr(query + 1));
        for (const auto& field : msg) req->headers.emplace_back(text(field.name_string()), text(field.value()));
        req->body = std::move(msg.body());
        req->remote_addr = client_;
        http11_ = msg.version() >= 11;
        keep_alive_ = msg.keep_alive() && !over_cap_;
        head_only_ = req->method == "HEAD";

        const bool probe = core_->handlers.is_probe(*req);
        if (over_cap_ && !probe) {
            if (over_client_cap_)
                return refuse(429, "too many connections: this address has all the connections the server allows one client",
                              "too_many_connections");
            return refuse(503, "too many connections: the server has all the connections it allows", "too_many_connections");
        }
        if (probe) {  // cheap: answered here, without waiting for a handler thread
            HttpResponse res;
            handle(*req, res);
            return write_response(std::move(res));
        }
        // The work guard keeps run() from returning while a handler holds the connection.
        asio::post(core_->workers, [self = shared_from_this(), req, work = asio::make_work_guard(core_->ioc)] {
            auto res = std::make_shared<HttpResponse>();
            self->handle(*req, *res);
            if (res->provider) return self->stream(*res);
            asio::post(self->socket_.get_executor(), [self, res] { self->write_response(std::move(*res)); });
        });
    }

    void handle(HttpRequest& req, HttpResponse& res) {
        try {
            core_->handlers.handle(req, res);
        } catch (const std::exception& e) {
            res = {};
            core_->handlers.refuse(500, e.what(), "", res);
        } catch (...) {
            res = {};
            core_->handlers.refuse(500, "internal error", "", res);
        }
    }

    void refuse(int status, const std::string& message, const std::string& code) {
        HttpResponse res;
        core_->handlers.refuse(status, message, code, res);
        keep_alive_ = false;
        head_only_ = false;
        write_response(std::move(res));
    }

    // A whole response, written from the strand.
    void write_response(HttpResponse res) {
        if (core_->stopping) keep_alive_ = false;
        out_ = response_head(res, false, http11_, keep_alive_);
        if (!head_only_) out_ += res.body;
        writing_ = true;
        arm_timer(core_->limits.write_timeout);
        asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](error_code ec, size_t) {
            self->writing_ = false;
            self->timer_.cancel();
            self->out_.clear();
            if (ec) return self->close();
            if (!self->keep_alive_) return self->linger_and_close();
            self->read_request();
        });
    }

    // A streamed response, written by this handler thread; the strand does not touch the socket
    // meanwhile. The connection then goes back to the strand.
    void stream(HttpResponse& res) {
        if (!http11_) keep_alive_ = false;  // an HTTP/1.0 body ends with the connection
        const int fd = socket_.native_handle();
        const auto timeout = core_->limits.write_timeout;
        SocketSink sink(fd, timeout, http11_);
        bool sent = send_all(fd, response_head(res, true, http11_, keep_alive_), timeout);
        if (sent) {
            sent = res.provider(sink);
            if (sent) sink.done();
            sent = sent && sink.ended();
        }
        if (res.releaser) res.releaser(sent);
        asio::post(socket_.get_executor(), [self = shared_from_this(), sent] {
            if (sent && self->keep_alive_ && !self->core_->stopping) return self->read_request();
            sent ? self->linger_and_close() : self->close();
        });
    }

    // After a last response: the client may still be sending (a body too large, say). Closing a
    // socket with unread data resets the connection, which can destroy the response before the
    // client reads it, so the rest is read and dropped for a moment first.
    void linger_and_close() {
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        reading_ = true;  // stop() may close it
        timed_out_ = false;
        arm_timer(std::chrono::milliseconds(1000));
        drain();
    }
    void drain() {
        socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](error_code ec, size_t) {
            if (ec) return self->close();
            self->drain();
        });
    }

    void close() {
        reading_ = false;
        writing_ = false;
        timer_.cancel();
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

    std::shared_ptr<Core> core_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string client_;
    bool over_cap_;
    bool over_client_cap_;
    std::string out_;
    std::array<char, 4096> discard_{};
    bool reading_ = false;
    bool writing_ = false;
    bool timed_out_ = false;
    bool http11_ = true;
    bool keep_alive_ = true;
    bool head_only_ = false;
};

void HttpListener::Core::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || self->stopping) return;
        if (ec) {  // out of descriptors, say: try again shortly rather than spin
            self->accept_retry.expires_after(std::chrono::milliseconds(50));
            self->accept_retry.async_wait([self](error_code e) {
                if (!e && !self->stopping) self->accept();
            });
            return;
        }
        self->admit(std::move(socket));
        self->accept();
    });
}

void HttpListener::Core::admit(tcp::socket socket) {
    error_code ec;
    const tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec) return;  // gone already
    socket.set_option(tcp::no_delay(true), ec);  // tokens go out as they come, not in Nagle-sized batches
    std::string client = remote.address().to_string();
    std::shared_ptr<HttpSession> session;
    std::shared_ptr<HttpSession> evicted;
    {
        std::lock_guard lock(mutex);
        const size_t from_client = per_client.count(client) ? per_client[client] : 0;
        const bool over_client = limits.max_connections_per_client > 0 && from_client >= limits.max_connections_per_client;
        const bool over = open >= limits.max_connections || over_client;
        if (over && over_cap.size() >= limits.max_connections) {  // the lane is full: its oldest goes
            HttpSession* oldest = over_cap.front();
            over_cap.pop_front();
            oldest->in_lane = false;
            evicted = sessions[oldest].lock();  // null when it is being destroyed
        }
        session = std::make_shared<HttpSession>(shared_from_this(), std::move(socket), client, over, over_client);
        if (over) {
            session->lane_entry = over_cap.insert(over_cap.end(), session.get());
            session->in_lane = true;
        } else {
            ++open;
            ++per_client[client];
        }
        sessions.emplace(session.get(), session);
    }
    if (evicted) evicted->close_if_idle();
    session->start();
}

void HttpListener::Core::forget(HttpSession& s) {
    std::lock_guard lock(mutex);
    sessions.erase(&s);
    if (s.over_cap()) {
        if (s.in_lane) over_cap.erase(s.lane_entry);  // an evicted one has left the lane already
        return;
    }
    --open;
    if (auto it = per_client.find(s.client()); it != per_client.end() && --it->second == 0) per_client.erase(it);
}

HttpListener::HttpListener(HttpLimits limits, HttpHandlers handlers)
    : core_(std::make_shared<Core>(limits, std::move(handlers))) {}

HttpListener::~HttpListener() {
    stop();
    // Whatever is still queued (all of it, when run() never ran) ends here, and with it the
    // handlers that hold the core.
    core_->ioc.restart();
    core_->ioc.run();
    core_->workers.join();
}

Result<int> HttpListener::bind(const std::string& host, int port) {
    Core& c = *core_;
    error_code ec;
    tcp::resolver resolver(c.ioc);
    auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || found.empty()) return make_error("cannot resolve the address {}: {}", host, ec.message());
    const tcp::endpoint endpoint = found.begin()->endpoint();
    c.acceptor.open(endpoint.protocol(), ec);
    if (!ec) c.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) c.acceptor.bind(endpoint, ec);
    // The kernel's largest backlog: a burst of connects waits instead of being refused.
    if (!ec) c.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error("cannot listen on {}:{}: {}", host, port, ec.message());
    const int bound = c.acceptor.local_endpoint(ec).port();
    if (ec) return make_error("cannot read the port bound on {}: {}", host, ec.message());
    c.accept();
    return bound;
}

int HttpListener::native_socket() const {
    return core_->acceptor.is_open() ? static_cast<int>(core_->acceptor.native_handle()) : -1;
}

void HttpListener::run() {
    Core& c = *core_;
    std::vector<std::thread> threads;
    for (size_t i = 1; i < std::max<size_t>(1, c.limits.io_threads); ++i) threads.emplace_back([&c] { c.ioc.run(); });
    c.ioc.run();
    for (std::thread& t : threads) t.join();
}

void HttpListener::stop() {
    std::shared_ptr<Core> c = core_;
    if (c->stopping.exchange(true)) return;
    asio::post(c->ioc, [c] {
        error_code ignored;
        c->acceptor.close(ignored);
        c->accept_retry.cancel();
        std::vector<std::shared_ptr<HttpSession>> open;
        {
            std::lock_guard lock(c->mutex);
            for (auto& [ptr, weak] : c->sessions)
                if (auto s = weak.lock()) open.push_back(std::move(s));
        }
        for (auto& s : open) s->close_if_idle();
    });
}

}  // namespace rf::server
