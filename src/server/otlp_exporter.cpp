#include "server/otlp_exporter.h"

#include <httplib.h>

#include <fmt/format.h>

#include "server/transport_failure.h"

namespace rf::server {

namespace {

nlohmann::json span_json(const OtlpSpan& s) {
    nlohmann::json j{{"traceId", s.trace_id},
                     {"spanId", s.span_id},
                     {"name", s.name},
                     {"kind", static_cast<int>(s.kind)},
                     {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
                     {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
                     {"attributes", s.attributes}};
    if (!s.parent_span_id.empty()) j["parentSpanId"] = s.parent_span_id;
    if (!s.trace_state.empty()) j["traceState"] = s.trace_state;
    if (s.error) j["status"] = {{"code", 2}, {"message", s.status_message}};  // STATUS_CODE_ERROR
    return j;
}

// One POST of a batch: an empty string when the collector took it, else why not.
std::string send(httplib::Client& client, const HttpUrl& url, const httplib::Headers& headers,
                 const std::string& body) {
    httplib::Result res = client.Post(url.path, headers, body, "application/json");
    if (!res)
        return fmt::format("no answer from {}{}: {}", url.scheme_host_port, url.path, transport_failure(res.error()));
    if (res->status < 200 || res->status > 299)
        return fmt::format("{}{} answered {}", url.scheme_host_port, url.path, res->status);
    return {};
}

}  // namespace

std::string otlp_export_body(const KeyValues& resource, const std::vector<OtlpSpan>& spans) {
    OtlpSpan attributes;  // only for its attribute encoding
    for (const auto& [key, value] : resource) attributes.set(key, value);
    nlohmann::json list = nlohmann::json::array();
    for (const OtlpSpan& s : spans) list.push_back(span_json(s));
    const nlohmann::json body{
        {"resourceSpans",
         {{{"resource", {{"attributes", attributes.attributes}}},
           {"scopeSpans", {{{"scope", {{"name", "rocmforge.server"}}}, {"spans", list}}}}}}}};
    // Names and messages may come from clients; text that is not UTF-8 must not stop the export.
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

OtlpExporter::OtlpExporter(OtlpOptions options, std::shared_ptr<const Logger> log)
    : options_(std::move(options)), log_(std::move(log)), thread_([this] { run(); }) {}

OtlpExporter::~OtlpExporter() { shutdown(); }

void OtlpExporter::enqueue(std::vector<OtlpSpan> spans) {
    {
        std::lock_guard lock(mutex_);
        for (OtlpSpan& s : spans) {
            if (stopping_ || queue_.size() >= options_.max_queue_spans) {
                ++stats_.dropped_queue_full;
                continue;
            }
            queue_.push_back(std::move(s));
        }
        if (queue_.size() < options_.max_batch_spans) return;
    }
    wake_.notify_one();  // a full batch need not wait for the schedule
}

void OtlpExporter::shutdown() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    std::lock_guard join(join_mutex_);
    if (thread_.joinable()) thread_.join();
}

OtlpStats OtlpExporter::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void OtlpExporter::account(size_t spans, const std::string& failure) {
    {
        std::lock_guard lock(mutex_);
        (failure.empty() ? stats_.exported : stats_.dropped_export_failed) += spans;
    }
    if (failure.empty() == !failing_) return;  // no change: one line per outage, not per batch
    failing_ = !failure.empty();
    if (!log_) return;
    if (failing_)
        log_->warning("OTLP export failed; spans are dropped until the collector answers",
                      {{"reason", failure}, {"spans", spans}});
    else
        log_->info("OTLP export works again");
}

void OtlpExporter::run() {
    const Result<HttpUrl> url = parse_http_url(options_.traces_url);
    std::unique_ptr<httplib::Client> client;
    if (url) {
        client = std::make_unique<httplib::Client>(url->scheme_host_port);
        client->set_connection_timeout(options_.timeout);
        client->set_read_timeout(options_.timeout);
        client->set_write_timeout(options_.timeout);
        client->set_keep_alive(true);
    }
    httplib::Headers headers;
    for (const auto& [key, value] : options_.headers) headers.emplace(key, value);

    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_for(lock, options_.schedule_delay,
                       [&] { return stopping_ || queue_.size() >= options_.max_batch_spans; });
        if (queue_.empty()) {
            if (stopping_) return;
            continue;
        }
        const size_t n = std::min(queue_.size(), options_.max_batch_spans);
        std::vector<OtlpSpan> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
        lock.unlock();
        const std::string failure =
            client ? send(*client, *url, headers, otlp_export_body(options_.resource, batch)) : url.error().message;
        account(batch.size(), failure);
        lock.lock();
        if (stopping_ && !failure.empty()) {  // shutting down with no collector: do not wait per batch
            stats_.dropped_export_failed += queue_.size();
            queue_.clear();
        }
    }
}

}  // namespace rf::server
