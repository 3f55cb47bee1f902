// W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace a request belongs to. A
// request whose `traceparent` header is valid joins the caller's trace, as a child of the caller's
// span; any other request starts a trace of its own. Ids are lower-case hex, as the header and
// OTLP/JSON both write them, drawn from the operating system's random source.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rf::server {

struct TraceContext {
    std::string trace_id;        // 32 hex digits
    std::string span_id;         // 16 hex digits: the server's span for this request
    std::string parent_span_id;  // the caller's span; empty when the trace starts here
    std::string tracestate;      // the caller's vendor entries, passed on unchanged
    uint8_t flags = 0x01;        // bit 0: sampled (the caller records this trace; we export it)

    bool sampled() const { return (flags & 0x01) != 0; }
    // "00-TRACE-SPAN-FLAGS": the server's span, as a traceparent (or traceresponse) header value.
    std::string header() const;
};

// The caller's trace context from its headers (`traceparent` as the header arrived, nullopt when
// absent or repeated; `tracestate` with repeated headers joined by commas), or a new trace when
// traceparent is missing or malformed. The server span id is always new.
TraceContext join_or_start_trace(std::optional<std::string_view> traceparent, std::string_view tracestate);

// The parts of a traceparent value, or nothing when it breaks the specification's rules.
struct TraceParent {
    std::string trace_id, parent_id;
    uint8_t flags = 0;
};
std::optional<TraceParent> parse_traceparent(std::string_view value);

// `bytes` random bytes as 2 * bytes lower-case hex digits, never all zero (an invalid id).
std::string random_hex_id(size_t bytes);

}  // namespace rf::server
