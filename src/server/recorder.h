// Everything recorded about one HTTP generation request. As its scheduler requests' events arrive:
// metrics and /traces entries. When its response has ended: its log line and, when spans are
// exported, its trace. Internal to src/server.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/server_impl.h"
#include "server/traces.h"

namespace rf::server {

class Recorder {
public:
    // At arrival: joins the caller's trace (traceparent, tracestate) or starts one.
    Recorder(Server::Impl& server, const HttpRequest& req, Endpoint endpoint);
    const TraceContext& trace() const { return x_.context; }
    // The id every log line of this request carries: the server span's id, which the caller also
    // gets as the third part of the `traceresponse` header.
    const std::string& request_id() const { return x_.context.span_id; }
    // A log line of this request (with its request_id); nothing without a server log.
    void log(LogLevel level, std::string_view message,
             nlohmann::ordered_json fields = nlohmann::ordered_json::object()) const;

    // The request's prompts were submitted as `g`.
    void started(const Generation& g, const ParsedRequest& request, std::string response_id);
    // An event of one of its scheduler requests.
    void observe(const TimedEvent& e);
    // The response has ended with `status` (`error`: why it failed, if it did). The first call
    // logs and exports; later ones do nothing.
    void end(int status, std::string error = {});

private:
    Server::Impl& server_;
    const Generation* g_ = nullptr;
    ExchangeTrace x_;
    double submitted_unix_ = 0.0;
    std::vector<std::optional<Clock::time_point>> last_token_;  // per choice
    std::vector<uint64_t> ids_;
    bool ended_ = false;
};

}  // namespace rf::server
