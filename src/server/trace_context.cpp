#include "server/trace_context.h"

#include <sys/random.h>

#include <algorithm>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace rf::server {

namespace {

constexpr size_t kTraceParentSize = 55;  // "00-" + 32 + "-" + 16 + "-" + 2
constexpr size_t kMaxTraceState = 512;   // what the specification asks every vendor to carry
constexpr size_t kMaxTraceStateMembers = 32;

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// A list of at most 32 "key=value" members of printable ASCII, or nothing (then it is dropped).
bool valid_tracestate(std::string_view s) {
    if (s.size() > kMaxTraceState) return false;
    if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) return false;
    size_t members = 0;
    for (size_t start = 0; start <= s.size();) {
        size_t end = s.find(',', start);
        if (end == std::string_view::npos) end = s.size();
        std::string_view member = s.substr(start, end - start);
        while (!member.empty() && (member.front() == ' ' || member.front() == '\t')) member.remove_prefix(1);
        while (!member.empty() && (member.back() == ' ' || member.back() == '\t')) member.remove_suffix(1);
        if (!member.empty()) {  // empty members are allowed and ignored
            const size_t eq = member.find('=');
            if (eq == 0 || eq == std::string_view::npos || eq + 1 == member.size()) return false;
            ++members;
        }
        start = end + 1;
    }
    return members <= kMaxTraceStateMembers;
}

}  // namespace

std::string TraceContext::header() const { return fmt::format("00-{}-{}-{:02x}", trace_id, span_id, flags); }

std::optional<TraceParent> parse_traceparent(std::string_view v) {
    if (v.size() < kTraceParentSize || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
    const std::string_view version = v.substr(0, 2), trace = v.substr(3, 32), parent = v.substr(36, 16),
                           flags = v.substr(53, 2);
    if (!is_lower_hex(version) || version == "ff") return std::nullopt;
    // Version 00 is exactly 55 characters; a later version may append fields after a dash.
    if (version == "00" ? v.size() != kTraceParentSize : v.size() > kTraceParentSize && v[kTraceParentSize] != '-')
        return std::nullopt;
    if (!is_lower_hex(trace) || all_zero(trace) || !is_lower_hex(parent) || all_zero(parent) || !is_lower_hex(flags))
        return std::nullopt;
    return TraceParent{.trace_id = std::string(trace),
                       .parent_id = std::string(parent),
                       .flags = static_cast<uint8_t>(std::stoi(std::string(flags), nullptr, 16))};
}

TraceContext join_or_start_trace(std::optional<std::string_view> traceparent, std::string_view tracestate) {
    TraceContext c;
    c.span_id = random_hex_id(8);
    const std::optional<TraceParent> parent = traceparent ? parse_traceparent(*traceparent) : std::nullopt;
    if (!parent) {  // a trace of our own, recorded; the caller's tracestate means nothing without its parent
        c.trace_id = random_hex_id(16);
        return c;
    }
    c.trace_id = parent->trace_id;
    c.parent_span_id = parent->parent_id;
    c.flags = parent->flags & 0x01;  // the other bits belong to the caller's version
    if (valid_tracestate(tracestate)) c.tracestate = std::string(tracestate);
    return c;
}

std::string random_hex_id(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    for (;;) {
        size_t got = 0;
        while (got < bytes) {
            const ssize_t n = getrandom(buf.data() + got, bytes - got, 0);
            if (n <= 0) break;
            got += static_cast<size_t>(n);
        }
        if (got < bytes) {  // no getrandom (old kernel): the library's non-deterministic source
            std::random_device device;
            for (unsigned char& b : buf) b = static_cast<unsigned char>(device());
        }
        if (std::any_of(buf.begin(), buf.end(), [](unsigned char b) { return b != 0; })) break;
    }
    std::string hex;
    hex.reserve(2 * bytes);
    for (unsigned char b : buf) hex += fmt::format("{:02x}", b);
    return hex;
}

}  // namespace rf::server
