// Runs a Server on a free loopback port in a thread for the duration of a test and gives a client
// for it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/server.h"

namespace rf::test {

class ServerHarness {
public:
    ServerHarness(engine::Scheduler& scheduler, server::ModelContext model, server::ServerOptions options = {}) {
        options.port = 0;
        server_ = std::make_unique<server::Server>(scheduler, std::move(model), options);
        auto port = server_->bind();
        EXPECT_TRUE(port.ok());
        port_ = port.ok() ? *port : 0;
        server_->set_ready(true);
        thread_ = std::thread([this] { server_->run(); });
        // Until the accept loop runs, a stop() would be lost and the run thread would never end:
        // wait for /health to answer (a test that stops at once hung on a loaded machine).
        httplib::Client probe("127.0.0.1", port_);
        probe.set_connection_timeout(std::chrono::seconds(1));
        for (int i = 0; i < 200 && port_ > 0 && !probe.Get("/health"); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ~ServerHarness() { stop(); }

    void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(2000)) {
        if (!thread_.joinable()) return;
        server_->stop(drain);
        thread_.join();
    }

    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    server::Server& server() { return *server_; }

    httplib::Client client(const std::string& api_key = "") const {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(std::chrono::seconds(60));
        if (!api_key.empty()) c.set_bearer_token_auth(api_key);
        return c;
    }

private:
    std::unique_ptr<server::Server> server_;
    int port_ = 0;
    std::thread thread_;
};

// A streaming POST: `on_id` gets the response's X-Request-Id header, `on_bytes` each piece of the
// body as it arrives (return false to hang up). Returns when the response ends.
inline void stream_post(httplib::Client client, const std::string& path, std::string body,
                        const std::function<void(const std::string&)>& on_id,
                        const std::function<bool(const char*, size_t)>& on_bytes) {
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = std::move(body);
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&](const httplib::Response& r) {
        if (on_id) on_id(r.get_header_value("X-Request-Id"));
        return true;
    };
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) { return on_bytes(d, n); };
    client.send(req);
}

inline nlohmann::json parse_json(const std::string& body) { return nlohmann::json::parse(body, nullptr, false); }

// The JSON payloads of a server-sent-event body, "[DONE]" kept as a string.
inline std::vector<nlohmann::json> sse_payloads(const std::string& body, bool* saw_done = nullptr) {
    std::vector<nlohmann::json> out;
    size_t pos = 0;
    while (pos < body.size()) {
        size_t end = body.find("\n\n", pos);
        if (end == std::string::npos) end = body.size();
        const std::string event = body.substr(pos, end - pos);
        pos = end + 2;
        if (event.rfind("data: ", 0) != 0) continue;
        if (event == "data: [DONE]") {
            if (saw_done) *saw_done = true;
            continue;
        }
        out.push_back(parse_json(event.substr(6)));
    }
    return out;
}

}  // namespace rf::test
