// Server metrics in the Prometheus text format (version 0.0.4). Counters and histograms are kept
// here; gauges (queue, running sequences, KV blocks, prefix cache) are read from the scheduler's
// stats when scraped.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/instrumented_backend.h"
#include "engine/scheduler.h"
#include "server/otlp_exporter.h"

namespace rf::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    // The _bucket, _sum and _count lines of metric `name`.
    void write(std::string& out, const std::string& name, const std::string& help) const;

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bound, not cumulative; the last is +Inf
    double sum_ = 0.0;
    uint64_t count_ = 0;
};

class Metrics {
public:
    Metrics();

    void count_response(int status);
    void count_tokens(int64_t prompt, int64_t generated);
    // A request that entered the scheduler has finished, however ("stop", "length", "cancelled", ...).
    void count_finished(std::string_view finish_reason);
    void observe_time_to_first_token(double seconds);
    void observe_inter_token_latency(double seconds);
    void observe_request_duration(double seconds);

    // Labels of the rocmforge_backend_info metric (not written while `backend` is empty).
    void set_backend(std::string backend, std::string device);
    // Where the model's layers run: a gauge of layers per backend, and the description as a label.
    void set_placement(std::string placement, std::vector<std::pair<std::string, int64_t>> layers_per_backend);
    // Backends whose operation counts /metrics shows (they must outlive the metrics).
    void set_op_counters(std::vector<const InstrumentedBackend*> counters);

    // Everything, gauges from `stats`; the span export's counters when there is an exporter.
    std::string render(const engine::SchedulerStats& stats, std::optional<OtlpStats> otlp = std::nullopt) const;

private:
    mutable std::mutex mutex_;
    std::map<int, uint64_t> responses_;  // by HTTP status
    std::map<std::string, uint64_t, std::less<>> finished_;  // by finish reason
    uint64_t prompt_tokens_ = 0, generated_tokens_ = 0;
    Histogram ttft_, itl_, duration_;
    std::string backend_, device_, placement_;
    std::vector<std::pair<std::string, int64_t>> layers_per_backend_;
    std::vector<const InstrumentedBackend*> op_counters_;
};

}  // namespace rf::server
