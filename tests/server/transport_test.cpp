// The HTTP transport under hostile clients, over raw sockets: slow senders (a whole-request deadline,
// probes answered throughout), connection caps in total and per client address (probes still
// answered over them), pipelined requests answered in order, and the status of oversized heads
// (431, 414).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fake_scheduler.h"
#include "harness.h"
#include "model_fixture.h"

namespace rf::server {
namespace {

using namespace std::chrono_literals;
using test::parse_json;
using Clock = std::chrono::steady_clock;

// A loopback connection, from `from` (another loopback address stands for another client).
int connect_to(int port, const char* from = "127.0.0.1") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &local.sin_addr);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_text(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// What arrives until the server closes the connection or `timeout` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds timeout) {
    std::string out;
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
        pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
        if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// What has arrived already, without waiting.
std::string read_available(int fd) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
}

// One request on its own connection: the whole answer.
std::string ask(int port, const std::string& request, const char* from = "127.0.0.1") {
    const int fd = connect_to(port, from);
    if (fd < 0) return "connect failed";
    send_text(fd, request);
    std::string out = read_until_closed(fd, 5s);
    ::close(fd);
    return out;
}

std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"; }

int status_of(const std::string& response) {
    return response.starts_with("HTTP/1.1 ") && response.size() >= 12 ? std::stoi(response.substr(9, 3)) : -1;
}

std::string body_of(const std::string& response) {
    const size_t at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

class TransportTest : public ::testing::Test {
protected:
    void SetUp() override {
        RF_REQUIRE_SHARED();
        ASSERT_NE(test::shared_tokenizer(), nullptr);
        // Over a thousand sockets on each side of the connections, in this one process.
        rlimit files{};
        ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
        ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
        ASSERT_GE(files.rlim_cur, 2500u) << "this test needs 2,500 file descriptors (ulimit -n)";
    }
    void start(ServerOptions options) {
        scheduler = std::make_unique<test::FakeScheduler>(1ms, 64);
        harness = std::make_unique<test::ServerHarness>(*scheduler, test::model_context(), options);
    }
    void TearDown() override {
        harness.reset();
        scheduler.reset();
    }
    std::unique_ptr<test::FakeScheduler> scheduler;
    std::unique_ptr<test::ServerHarness> harness;
};

// 1,000 connections trickle header lines (the fault: 90 of them took every HTTP thread and /health
// timed out). /health keeps answering within a second throughout, and each slow connection gets
// 408 at the whole-request deadline however often it sends.
TEST_F(TransportTest, SlowSendersDoNotStarveProbes) {
    start({.read_timeout = 2000ms});
    const int port = harness->port();
    std::vector<int> slow;
    const auto first = Clock::now();
    for (int i = 0; i < 1000; ++i) {
        const int fd = connect_to(port);
        ASSERT_GE(fd, 0) << "connection " << i;
        send_text(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        slow.push_back(fd);
    }
    const auto opened = Clock::now();
    std::chrono::milliseconds worst{0};
    int probes = 0;
    // A connection the server has answered (408) gets no more lines: once the server closes it,
    // a line sent would be answered by a reset, which can destroy the unread 408 on this side.
    std::vector<std::string> answers(slow.size());
    std::vector<pollfd> readable(slow.size());
    for (int line = 0; Clock::now() - opened < 1500ms; ++line) {
        for (size_t i = 0; i < slow.size(); ++i) readable[i] = {.fd = slow[i], .events = POLLIN, .revents = 0};
        ::poll(readable.data(), readable.size(), 0);
        for (size_t i = 0; i < slow.size(); ++i) {
            if (readable[i].revents != 0 || !answers[i].empty()) {
                answers[i] += read_available(slow[i]);
                continue;
            }
            send_text(slow[i], "X-Slow-" + std::to_string(line) + ": 1\r\n");
        }
        for (int i = 0; i < 3; ++i) {
            const auto t0 = Clock::now();
            const std::string res = ask(port, get("/health"));
            worst = std::max(worst, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0));
            EXPECT_EQ(status_of(res), 200) << res;
            ++probes;
        }
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_GE(probes, 9);
    EXPECT_LT(worst, 1000ms) << "the slowest /health answer";
    int timed_out = 0;
    std::string others;  // what the first connections without a 408 got, to tell why
    for (size_t i = 0; i < slow.size(); ++i) {
        const std::string res = answers[i] + read_until_closed(slow[i], 3s);
        const bool ok = status_of(res) == 408 && parse_json(body_of(res))["error"]["code"] == "request_timeout";
        timed_out += ok;
        if (!ok && others.size() < 2000)
            others += fmt::format("connection {} (of {}, {} ms after the first was opened): '{}'\n", i, slow.size(),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - first).count(), res);
        ::close(slow[i]);
    }
    EXPECT_EQ(timed_out, 1000) << others;
    EXPECT_LT(Clock::now() - opened, 6s);
}

// The deadline covers the body too: a body sent a byte at a time is cut at the deadline.
TEST_F(TransportTest, DeadlineCoversTheBody) {
    start({.read_timeout = 1000ms});
    const int fd = connect_to(harness->port());
    ASSERT_GE(fd, 0);
    send_text(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100\r\n\r\n");
    const auto t0 = Clock::now();
    std::string res;
    for (int i = 0; i < 40 && res.empty(); ++i) {
        send_text(fd, " ");
        pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
        if (::poll(&p, 1, 100) > 0) res = read_until_closed(fd, 1s);
    }
    ::close(fd);
    EXPECT_EQ(status_of(res), 408) << res;
    EXPECT_LT(Clock::now() - t0, 2500ms);
}

// One address at its cap gets 429 for anything but a probe; other addresses are served as usual.
TEST_F(TransportTest, PerClientCapLeavesProbesAndOtherClients) {
    start({.max_connections_per_client = 4});
    const int port = harness->port();
    std::this_thread::sleep_for(200ms);  // the harness's own probe connection has closed
    std::vector<int> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(connect_to(port));
        send_text(held.back(), "GET /v1/models HTTP/1.1\r\n");  // unfinished: holds its connection
    }
    std::this_thread::sleep_for(100ms);  // all four accepted
    const std::string refused = ask(port, get("/v1/models"));
    EXPECT_EQ(status_of(refused), 429) << refused;
    EXPECT_EQ(parse_json(body_of(refused))["error"]["code"], "too_many_connections");
    for (const char* probe : {"/health", "/ready", "/metrics"}) EXPECT_EQ(status_of(ask(port, get(probe))), 200) << probe;
    EXPECT_EQ(status_of(ask(port, get("/v1/models"), "127.0.0.2")), 200);
    for (int fd : held) ::close(fd);
    std::this_thread::sleep_for(100ms);  // the server sees them go
    EXPECT_EQ(status_of(ask(port, get("/v1/models"))), 200);
}

// A full server answers 503 to what is not a probe.
TEST_F(TransportTest, TotalCapLeavesProbes) {
    start({.max_connections = 3});  // the per-address cap (256) is far off
    const int port = harness->port();
    std::this_thread::sleep_for(200ms);  // the harness's own probe connection has closed
    std::vector<int> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(connect_to(port, i == 0 ? "127.0.0.3" : "127.0.0.4"));
        send_text(held.back(), "GET /v1/models HTTP/1.1\r\n");
    }
    std::this_thread::sleep_for(100ms);
    const std::string refused = ask(port, get("/v1/models"), "127.0.0.5");
    EXPECT_EQ(status_of(refused), 503) << refused;
    EXPECT_EQ(status_of(ask(port, get("/health"), "127.0.0.5")), 200);
    for (int fd : held) ::close(fd);
}

// Connections over a cap take a lane as large as --max-connections; when it is full its oldest is
// closed, so a probe still gets in while one address floods the server.
TEST_F(TransportTest, ProbesGetInWhenTheOverCapLaneIsFull) {
    start({.max_connections = 2, .max_connections_per_client = 1});
    const int port = harness->port();
    std::this_thread::sleep_for(200ms);  // the harness's own probe connection has closed
    std::vector<int> held;
    for (int i = 0; i < 3; ++i) {  // one within the cap, two filling the lane
        held.push_back(connect_to(port));
        send_text(held.back(), "GET /v1/models HTTP/1.1\r\n");
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(status_of(ask(port, get("/health"))), 200);
    EXPECT_EQ(read_until_closed(held[1], 2s), "") << "the oldest over the cap was closed without a word";
    for (int fd : held) ::close(fd);
}

// Several requests in one write get their answers in order on the same connection (a streamed
// one among them), the last closing it.
TEST_F(TransportTest, PipelinedRequestsAreAnsweredInOrder) {
    start({});
    const std::string completion = R"({"prompt":"x","max_tokens":2})";
    const std::string requests =
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(completion.size()) + "\r\n\r\n" + completion + get("/v1/models");
    const std::string res = ask(harness->port(), requests);
    const size_t first = res.find("HTTP/1.1 200");
    const size_t second = res.find("HTTP/1.1 200", first + 1);
    const size_t third = res.find("HTTP/1.1 200", second + 1);
    ASSERT_NE(third, std::string::npos) << res;
    EXPECT_NE(res.substr(first, second - first).find(R"({"status":"ok"})"), std::string::npos) << res;
    EXPECT_NE(res.substr(second, third - second).find(R"("object":"text_completion")"), std::string::npos) << res;
    EXPECT_NE(res.substr(third).find(R"("object":"list")"), std::string::npos) << res;
}

TEST_F(TransportTest, OversizedHeadersAre431AndLongRequestLines414) {
    start({});
    const std::string big_header = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
    const std::string headers = ask(harness->port(), big_header);
    EXPECT_EQ(status_of(headers), 431) << headers.substr(0, 200);
    EXPECT_EQ(parse_json(body_of(headers))["error"]["code"], "headers_too_large");
    const std::string long_line = "GET /health?" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const std::string line = ask(harness->port(), long_line);
    EXPECT_EQ(status_of(line), 414) << line.substr(0, 200);
    EXPECT_EQ(parse_json(body_of(line))["error"]["code"], "uri_too_long");
    EXPECT_EQ(status_of(ask(harness->port(), "NONSENSE\r\n\r\n")), 400);
}

}  // namespace
}  // namespace rf::server
