// Sends finished spans to an OpenTelemetry collector: OTLP over HTTP, JSON encoding, batched by one
// background thread. Requests only hand their spans over (a short lock); a queue of bounded size
// sits between them and the network, so a slow, absent or failing collector costs spans (dropped
// and counted), never a request's time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/log.h"
#include "server/otlp_config.h"

namespace rf::server {

// One finished span, as OTLP writes it (ids in lower-case hex).
struct OtlpSpan {
    enum class Kind { Internal = 1, Server = 2 };  // OTLP's SpanKind numbers
    std::string trace_id, span_id, parent_span_id = {}, trace_state = {};
    std::string name;
    Kind kind = Kind::Internal;
    uint64_t start_unix_ns = 0, end_unix_ns = 0;
    nlohmann::json attributes = nlohmann::json::array();
    bool error = false;  // status ERROR, with `status_message`
    std::string status_message = {};

    // Adds an attribute: a string, integer, floating-point, boolean, or list of strings value.
    template <typename T>
    OtlpSpan& set(std::string key, const T& value) {
        nlohmann::json v;
        if constexpr (std::is_same_v<T, bool>) {
            v = {{"boolValue", value}};
        } else if constexpr (std::is_integral_v<T>) {
            v = {{"intValue", std::to_string(value)}};  // 64-bit integers are strings in OTLP/JSON
        } else if constexpr (std::is_floating_point_v<T>) {
            v = {{"doubleValue", value}};
        } else if constexpr (std::is_convertible_v<T, std::string_view>) {
            v = {{"stringValue", std::string(std::string_view(value))}};
        } else {
            nlohmann::json values = nlohmann::json::array();
            for (const auto& s : value) values.push_back({{"stringValue", s}});
            v = {{"arrayValue", {{"values", values}}}};
        }
        attributes.push_back({{"key", std::move(key)}, {"value", std::move(v)}});
        return *this;
    }
};

// The body of one export: ExportTraceServiceRequest in OTLP/JSON.
std::string otlp_export_body(const KeyValues& resource, const std::vector<OtlpSpan>& spans);

struct OtlpStats {
    uint64_t exported = 0;               // spans the collector accepted
    uint64_t dropped_queue_full = 0;     // spans that found the queue full
    uint64_t dropped_export_failed = 0;  // spans of exports that failed (no answer, not 2xx)
};

class OtlpExporter {
public:
    // Starts the export thread. `log` (may be null) hears when exports start failing and recover.
    OtlpExporter(OtlpOptions options, std::shared_ptr<const Logger> log);
    ~OtlpExporter();  // shutdown()
    OtlpExporter(const OtlpExporter&) = delete;
    OtlpExporter& operator=(const OtlpExporter&) = delete;

    // Queues one request's spans (all or, when the queue is full, those that fit); never waits on
    // the network.
    void enqueue(std::vector<OtlpSpan> spans);
    // Exports what is queued (giving up at the first failure) and stops the thread. Idempotent.
    void shutdown();
    OtlpStats stats() const;

private:
    void run();
    // Books a finished export; logs when exports start failing and when they recover.
    void account(size_t spans, const std::string& failure);

    const OtlpOptions options_;
    const std::shared_ptr<const Logger> log_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<OtlpSpan> queue_;
    OtlpStats stats_;
    bool stopping_ = false;
    bool failing_ = false;  // export thread only: the last export failed (log once per outage)
    std::mutex join_mutex_;
    std::thread thread_;  // last: starts once everything above exists
};

}  // namespace rf::server
