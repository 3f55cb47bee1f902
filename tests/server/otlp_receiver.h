// A stand-in OpenTelemetry collector: an HTTP server on a free loopback port that keeps the
// OTLP/JSON bodies POSTed to /v1/traces. It can answer with another status, or hold every export
// until release(), to play a failing or slow collector. Helpers read spans and their attributes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace rf::test {

class OtlpReceiver {
public:
    struct Options {
        int status = 200;
        bool hold = false;  // keep each export waiting until release()
    };
    OtlpReceiver() : OtlpReceiver(Options{}) {}
    explicit OtlpReceiver(Options options) : options_(options) {
        server_.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
            std::unique_lock lock(mutex_);
            ++posts_;
            changed_.notify_all();
            released_cv_.wait(lock, [&] { return !options_.hold || released_; });
            content_types_.push_back(req.get_header_value("Content-Type"));
            headers_.push_back(req.headers);
            if (options_.status == 200) bodies_.push_back(nlohmann::json::parse(req.body, nullptr, false));
            changed_.notify_all();
            res.status = options_.status;
            res.set_content("{}", "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // stop() before the loop runs would be lost (and the destructor would wait forever).
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~OtlpReceiver() {
        release();
        server_.stop();
        thread_.join();
    }

    // The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT or --otlp-endpoint take it.
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void release() {
        std::lock_guard lock(mutex_);
        released_ = true;
        released_cv_.notify_all();
    }
    // Every span accepted so far, in arrival order.
    std::vector<nlohmann::json> spans() const {
        std::lock_guard lock(mutex_);
        return spans_locked();
    }
    // Waits until `pred(spans())` holds; false after `timeout`.
    template <typename Pred>
    bool wait_for(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return pred(spans_locked()); });
    }
    size_t posts() const {
        std::lock_guard lock(mutex_);
        return posts_;
    }
    std::vector<nlohmann::json> bodies() const {
        std::lock_guard lock(mutex_);
        return bodies_;
    }
    std::vector<std::string> content_types() const {
        std::lock_guard lock(mutex_);
        return content_types_;
    }
    std::vector<httplib::Headers> headers() const {
        std::lock_guard lock(mutex_);
        return headers_;
    }

private:
    std::vector<nlohmann::json> spans_locked() const {
        std::vector<nlohmann::json> out;
        for (const nlohmann::json& body : bodies_)
            for (const auto& rs : body.value("resourceSpans", nlohmann::json::array()))
                for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array()))
                    for (const auto& span : ss.value("spans", nlohmann::json::array())) out.push_back(span);
        return out;
    }

    Options options_;
    httplib::Server server_;
    int port_ = 0;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::condition_variable released_cv_;
    bool released_ = false;
    size_t posts_ = 0;
    std::vector<nlohmann::json> bodies_;
    std::vector<std::string> content_types_;
    std::vector<httplib::Headers> headers_;
    std::thread thread_;
};

// A span attribute's OTLP value object ({"stringValue": ...}), or null when it has none.
inline nlohmann::json otlp_attribute(const nlohmann::json& span, const std::string& key) {
    for (const auto& a : span.value("attributes", nlohmann::json::array()))
        if (a.value("key", "") == key) return a["value"];
    return nullptr;
}
inline std::string otlp_string(const nlohmann::json& span, const std::string& key) {
    const nlohmann::json v = otlp_attribute(span, key);
    return v.is_object() && v.contains("stringValue") ? v["stringValue"].get<std::string>() : "";
}
// Integers are decimal strings in OTLP/JSON; -1 when missing.
inline int64_t otlp_int(const nlohmann::json& span, const std::string& key) {
    const nlohmann::json v = otlp_attribute(span, key);
    return v.is_object() && v.contains("intValue") ? std::stoll(v["intValue"].get<std::string>()) : -1;
}
inline std::vector<std::string> otlp_strings(const nlohmann::json& span, const std::string& key) {
    std::vector<std::string> out;
    const nlohmann::json v = otlp_attribute(span, key);
    if (v.is_object() && v.contains("arrayValue"))
        for (const auto& item : v["arrayValue"].value("values", nlohmann::json::array()))
            out.push_back(item.value("stringValue", ""));
    return out;
}
inline uint64_t otlp_time(const nlohmann::json& span, const char* field) {
    return std::stoull(span[field].get<std::string>());
}

}  // namespace rf::test
