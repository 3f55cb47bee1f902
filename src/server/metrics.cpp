#include "server/metrics.h"

#include <fmt/format.h>

namespace rf::server {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += value;
    ++count_;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& help) const {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += counts_[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
    }
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      itl_({0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5}),
      duration_({0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void Metrics::count_response(int status) {
    std::lock_guard lock(mutex_);
    ++responses_[status];
}

void Metrics::count_tokens(int64_t prompt, int64_t generated) {
    std::lock_guard lock(mutex_);
    prompt_tokens_ += static_cast<uint64_t>(prompt);
    generated_tokens_ += static_cast<uint64_t>(generated);
}

void Metrics::count_finished(std::string_view finish_reason) {
    std::lock_guard lock(mutex_);
    auto it = finished_.find(finish_reason);
    if (it == finished_.end()) it = finished_.emplace(std::string(finish_reason), 0).first;
    ++it->second;
}

void Metrics::observe_time_to_first_token(double seconds) {
    std::lock_guard lock(mutex_);
    ttft_.observe(seconds);
}

void Metrics::observe_inter_token_latency(double seconds) {
    std::lock_guard lock(mutex_);
    itl_.observe(seconds);
}

void Metrics::observe_request_duration(double seconds) {
    std::lock_guard lock(mutex_);
    duration_.observe(seconds);
}

void Metrics::set_backend(std::string backend, std::string device) {
    std::lock_guard lock(mutex_);
    backend_ = std::move(backend);
    device_ = std::move(device);
}

void Metrics::set_placement(std::string placement, std::vector<std::pair<std::string, int64_t>> layers_per_backend) {
    std::lock_guard lock(mutex_);
    placement_ = std::move(placement);
    layers_per_backend_ = std::move(layers_per_backend);
}

void Metrics::set_op_counters(std::vector<const InstrumentedBackend*> counters) {
    std::lock_guard lock(mutex_);
    op_counters_ = std::move(counters);
}

namespace {
// A label value as the text format wants it: backslash, quote and newline escaped.
std::string label_value(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return out;
}
void gauge(std::string& out, const char* name, const char* help, double value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
}
void counter(std::string& out, const char* name, const char* help, double value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
}
}  // namespace

std::string Metrics::render(const engine::SchedulerStats& s, std::optional<OtlpStats> otlp) const {
    std::string out;
    std::lock_guard lock(mutex_);
    out += "# HELP rocmforge_http_requests_total HTTP responses by status code.\n"
           "# TYPE rocmforge_http_requests_total counter\n";
    for (const auto& [status, n] : responses_)
        out += fmt::format("rocmforge_http_requests_total{{code=\"{}\"}} {}\n", status, n);
    out += "# HELP rocmforge_requests_finished_total Requests that entered the scheduler and finished, by finish reason.\n"
           "# TYPE rocmforge_requests_finished_total counter\n";
    for (const auto& [reason, n] : finished_)
        out += fmt::format("rocmforge_requests_finished_total{{finish_reason=\"{}\"}} {}\n", reason, n);
    counter(out, "rocmforge_prompt_tokens_total", "Prompt tokens of finished requests.", prompt_tokens_);
    counter(out, "rocmforge_generation_tokens_total", "Tokens generated for finished requests.", generated_tokens_);
    ttft_.write(out, "rocmforge_time_to_first_token_seconds", "Time from submission to the first generated token.");
    itl_.write(out, "rocmforge_inter_token_latency_seconds", "Time between consecutive generated tokens of a request.");
    duration_.write(out, "rocmforge_request_duration_seconds", "Time from submission to the last token.");
    gauge(out, "rocmforge_queue_depth", "Requests waiting to be scheduled.", s.queued);
    gauge(out, "rocmforge_running_sequences", "Requests being prefilled or decoded.", s.running);
    gauge(out, "rocmforge_kv_blocks_total", "KV cache blocks in the pool.", s.kv_blocks_total);
    gauge(out, "rocmforge_kv_blocks_used", "KV cache blocks held by requests.", s.kv_blocks_used);
    gauge(out, "rocmforge_kv_blocks_free", "KV cache blocks holding nothing.",
          s.kv_blocks_total - s.kv_blocks_used - s.kv_blocks_cached);
    gauge(out, "rocmforge_kv_blocks_cached", "KV blocks held only by the prefix cache (evictable).", s.kv_blocks_cached);
    counter(out, "rocmforge_prefix_cache_lookup_tokens_total", "Prompt tokens looked up in the prefix cache.",
            s.prefix_lookup_tokens);
    counter(out, "rocmforge_prefix_cache_hit_tokens_total", "Prompt tokens whose KV was reused.", s.prefix_hit_tokens);
    gauge(out, "rocmforge_prefix_cache_hit_rate", "Hit tokens / lookup tokens since start.",
          s.prefix_lookup_tokens > 0 ? static_cast<double>(s.prefix_hit_tokens) / s.prefix_lookup_tokens : 0.0);
    counter(out, "rocmforge_scheduler_steps_total", "Forward steps run by the scheduler.", s.steps);
    counter(out, "rocmforge_steps_retried_total", "Steps run again after a transient device failure.", s.retried_steps);
    counter(out, "rocmforge_steps_failed_total", "Steps that failed; their requests ended with the error.",
            s.failed_steps);
    counter(out, "rocmforge_computed_prompt_tokens_total", "Prompt tokens computed (not reused).", s.prompt_tokens);
    counter(out, "rocmforge_device_fallbacks_total", "Times the model was moved off a lost device (to the CPU).",
            s.device_fallbacks);
    gauge(out, "rocmforge_device_available", "0 while the model is being moved off a lost device or could not be.",
          s.unavailable.empty() ? 1 : 0);
    if (otlp) {
        counter(out, "rocmforge_otlp_spans_exported_total", "Spans the OTLP collector accepted.", otlp->exported);
        out += fmt::format("# HELP rocmforge_otlp_spans_dropped_total Spans not exported, by reason.\n"
                           "# TYPE rocmforge_otlp_spans_dropped_total counter\n"
                           "rocmforge_otlp_spans_dropped_total{{reason=\"queue_full\"}} {}\n"
                           "rocmforge_otlp_spans_dropped_total{{reason=\"export_failed\"}} {}\n",
                           otlp->dropped_queue_full, otlp->dropped_export_failed);
    }
    // After a move off a lost device, where the model runs now.
    const bool moved = s.moved.has_value();
    const std::string& backend = moved ? s.moved->backend : backend_;
    const std::string& device = moved ? s.moved->device : device_;
    const std::string& placement = moved ? s.moved->placement : placement_;
    const auto& layers_per_backend = moved ? s.moved->layers_per_backend : layers_per_backend_;
    if (!backend.empty())
        out += fmt::format("# HELP rocmforge_backend_info The backend and device the model runs on.\n"
                           "# TYPE rocmforge_backend_info gauge\n"
                           "rocmforge_backend_info{{backend=\"{}\",device=\"{}\"}} 1\n",
                           label_value(backend), label_value(device));
    if (!placement.empty()) {
        out += fmt::format("# HELP rocmforge_placement_info Where each part of the model runs.\n"
                           "# TYPE rocmforge_placement_info gauge\n"
                           "rocmforge_placement_info{{placement=\"{}\"}} 1\n"
                           "# HELP rocmforge_placement_layers Transformer layers on each backend.\n"
                           "# TYPE rocmforge_placement_layers gauge\n",
                           label_value(placement));
        for (const auto& [name, layers] : layers_per_backend)
            out += fmt::format("rocmforge_placement_layers{{backend=\"{}\"}} {}\n", label_value(name), layers);
    }
    if (!op_counters_.empty()) {
        out += "# HELP rocmforge_backend_ops_total Operations each backend ran (what ran where).\n"
               "# TYPE rocmforge_backend_ops_total counter\n";
        for (const InstrumentedBackend* b : op_counters_)
            for (int i = 0; i < kBackendOpCount; ++i)
                if (const uint64_t n = b->count(static_cast<BackendOp>(i)); n > 0)
                    out += fmt::format("rocmforge_backend_ops_total{{backend=\"{}\",op=\"{}\"}} {}\n",
                                       label_value(b->name()), backend_op_name(static_cast<BackendOp>(i)), n);
    }
    return out;
}

}  // namespace rf::server
