#include "server/otlp_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <type_traits>

namespace rf::server {

namespace {

constexpr const char* kTracesRoute = "v1/traces";

std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Values of the list variables are percent-encoded (as W3C Baggage writes them).
Result<std::string> percent_decode(const std::string& name, std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        unsigned value = 0;
        if (i + 3 > s.size() || std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr != s.data() + i + 3)
            return make_error("{}: '{}' has a '%' not followed by two hex digits", name, s);
        out += static_cast<char>(value);
        i += 2;
    }
    return out;
}

// "key1=value1,key2=value2"; empty members are skipped.
Result<KeyValues> parse_key_values(const std::string& name, const std::string& value) {
    KeyValues out;
    size_t start = 0;
    while (start <= value.size()) {
        size_t end = value.find(',', start);
        if (end == std::string::npos) end = value.size();
        const std::string member = trim(std::string_view(value).substr(start, end - start));
        start = end + 1;
        if (member.empty()) continue;
        const size_t eq = member.find('=');
        if (eq == std::string::npos || trim(member.substr(0, eq)).empty())
            return make_error("{}: '{}' is not key=value", name, member);
        RF_ASSIGN_OR_RETURN(std::string decoded, percent_decode(name, trim(member.substr(eq + 1))));
        out.emplace_back(trim(member.substr(0, eq)), std::move(decoded));
    }
    return out;
}

Result<int64_t> parse_count(const std::string& name, const std::string& value, int64_t min, int64_t max) {
    int64_t n = 0;
    const std::string v = trim(value);
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < min || n > max)
        return make_error("{}: '{}' is not a whole number in [{}, {}]", name, value, min, max);
    return n;
}

// The traces route under a base URL, as the specification joins them.
std::string traces_url_under(std::string base) {
    if (!base.ends_with('/')) base += '/';
    return base + kTracesRoute;
}

}  // namespace

Result<HttpUrl> parse_http_url(const std::string& url) {
    const size_t scheme_end = url.find("://");
    const std::string scheme = scheme_end == std::string::npos ? "" : lower(url.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
        return make_error("'{}' is not an http:// or https:// URL", url);
    const size_t path_start = url.find('/', scheme_end + 3);
    HttpUrl out{.scheme_host_port = url.substr(0, path_start),
                .path = path_start == std::string::npos ? "/" : url.substr(path_start)};
    if (out.scheme_host_port.size() == scheme_end + 3) return make_error("'{}' names no host", url);
    if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
        return make_error("'{}' has spaces or control characters", url);
    return out;
}

std::optional<std::string> process_environment(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
}

Result<OtlpOptions> otlp_options(const std::string& endpoint_flag, const Environment& env,
                                 std::vector<std::string>& notes) {
    // An empty variable counts as unset; the traces-only variant wins over the general one.
    auto get = [&](const std::string& name) -> std::optional<std::string> {
        std::optional<std::string> v = env(name);
        if (v && trim(*v).empty()) v.reset();
        return v;
    };
    auto get_traces = [&](const std::string& suffix) {
        auto v = get("OTEL_EXPORTER_OTLP_TRACES_" + suffix);
        return v ? v : get("OTEL_EXPORTER_OTLP_" + suffix);
    };
    // The flag, else the traces URL (used as it is), else the base URL (the route appended).
    std::string source, given;
    if (!endpoint_flag.empty()) {
        source = "--otlp-endpoint";
        given = endpoint_flag;
    } else if (auto v = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        source = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
        given = trim(*v);
    } else if (auto v = get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        source = "OTEL_EXPORTER_OTLP_ENDPOINT";
        given = trim(*v);
    }
    OtlpOptions o;
    if (given.empty()) return o;
    if (auto v = get("OTEL_SDK_DISABLED"); v && lower(trim(*v)) == "true") {
        notes.push_back("OTEL_SDK_DISABLED=true: no spans are exported");
        return o;
    }
    if (auto v = get("OTEL_TRACES_EXPORTER")) {
        const std::string exporter = lower(trim(*v));
        if (exporter == "none") {
            notes.push_back("OTEL_TRACES_EXPORTER=none: no spans are exported");
            return o;
        }
        if (exporter != "otlp") return make_error("OTEL_TRACES_EXPORTER: '{}' is not supported (otlp or none)", *v);
    }
    if (auto url = parse_http_url(given); !url) return make_error("{}: {}", source, url.error().message);
    const bool as_is = source == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" || (source == "--otlp-endpoint" &&
                                                                          given.ends_with(kTracesRoute));
    o.traces_url = as_is ? given : traces_url_under(given);
    if (auto v = get_traces("PROTOCOL")) {
        const std::string protocol = lower(trim(*v));
        if (protocol == "grpc")
            return make_error("OTLP over gRPC is not supported: point the endpoint at the collector's OTLP/HTTP "
                              "receiver (port 4318) and use http/json");
        if (protocol == "http/protobuf")
            notes.push_back("OTLP protocol http/protobuf asked for: spans are sent as http/json, which OTLP/HTTP "
                            "receivers accept on the same route");
        else if (protocol != "http/json")
            return make_error("OTLP protocol '{}' is not supported (http/json)", *v);
    }
    if (auto v = get_traces("HEADERS")) {
        RF_ASSIGN_OR_RETURN(o.headers, parse_key_values("OTEL_EXPORTER_OTLP_HEADERS", *v));
    }
    // Durations in milliseconds and span counts, as the specification gives them.
    auto read = [&](std::optional<std::string> v, const char* name, int64_t max, auto& field) -> Status {
        if (!v) return ok_status();
        RF_ASSIGN_OR_RETURN(const int64_t n, parse_count(name, *v, 1, max));
        field = std::remove_reference_t<decltype(field)>(n);
        return ok_status();
    };
    RF_TRY(read(get_traces("TIMEOUT"), "OTEL_EXPORTER_OTLP_TIMEOUT", 3'600'000, o.timeout));
    RF_TRY(read(get("OTEL_BSP_SCHEDULE_DELAY"), "OTEL_BSP_SCHEDULE_DELAY", 3'600'000, o.schedule_delay));
    RF_TRY(read(get("OTEL_BSP_MAX_QUEUE_SIZE"), "OTEL_BSP_MAX_QUEUE_SIZE", 1 << 24, o.max_queue_spans));
    RF_TRY(read(get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1 << 24, o.max_batch_spans));
    o.max_batch_spans = std::min(o.max_batch_spans, o.max_queue_spans);

    // service.name: OTEL_SERVICE_NAME, else the one in OTEL_RESOURCE_ATTRIBUTES, else ours.
    KeyValues attributes;
    if (auto v = get("OTEL_RESOURCE_ATTRIBUTES")) {
        RF_ASSIGN_OR_RETURN(attributes, parse_key_values("OTEL_RESOURCE_ATTRIBUTES", *v));
    }
    std::string service = "rocmforge";
    for (const auto& [key, value] : attributes)
        if (key == "service.name") service = value;
    if (auto v = get("OTEL_SERVICE_NAME")) service = trim(*v);
    o.resource = {{"service.name", service}};
    for (auto& kv : attributes)
        if (kv.first != "service.name") o.resource.push_back(std::move(kv));
    return o;
}

}  // namespace rf::server
