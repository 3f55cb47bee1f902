// Where and how request spans are exported: OTLP over HTTP with the JSON encoding, configured by
// `serve --otlp-endpoint` and the environment variables the OpenTelemetry specification names
// (docs/server.md lists them). Read once at start; a bad value is an error naming it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace rf::server {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct OtlpOptions {
    std::string traces_url = {};  // the collector's trace route (".../v1/traces"); empty: no export
    KeyValues headers = {};       // sent with every export (authentication for hosted collectors)
    KeyValues resource = {{"service.name", "rocmforge"}};  // resource attributes; service.name first
    std::chrono::milliseconds timeout{10000};         // one export, connecting included
    std::chrono::milliseconds schedule_delay{5000};   // most time a span waits for its batch
    size_t max_queue_spans = 2048;                    // spans waiting; more are dropped and counted
    size_t max_batch_spans = 512;                     // spans per export
};

// An http:// or https:// URL split for httplib: "http://host:port" and the path ("/" when none).
struct HttpUrl {
    std::string scheme_host_port;
    std::string path;
};
Result<HttpUrl> parse_http_url(const std::string& url);

// A variable's value, or nothing when unset (tests pass their own).
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_environment(const std::string& name);

// The export settings from `endpoint_flag` (a base URL like OTEL_EXPORTER_OTLP_ENDPOINT: "/v1/traces"
// is appended unless it ends so; it wins over the variables) and `env`. An empty traces_url means
// that nothing asked for export. `notes` gets what the operator should know (settings ignored).
Result<OtlpOptions> otlp_options(const std::string& endpoint_flag, const Environment& env,
                                 std::vector<std::string>& notes);

}  // namespace rf::server
