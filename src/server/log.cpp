#include "server/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace rf::server {

namespace {

// "2026-01-02T03:04:05.678Z": UTC with milliseconds (RFC 3339).
std::string utc_timestamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:03d}Z", date, ms);
}

// A text field's value: strings bare unless they hold spaces, quotes or '=', everything else as JSON.
std::string text_value(const nlohmann::ordered_json& v) {
    if (!v.is_string()) return v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    const std::string& s = v.get_ref<const std::string&>();
    const bool bare = !s.empty() && s.find_first_of(" \t\n\"=") == std::string::npos;
    return bare ? s : v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
    if (name == "text") return LogFormat::Text;
    if (name == "json") return LogFormat::Json;
    return std::nullopt;
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
    if (name == "debug") return LogLevel::Debug;
    if (name == "info") return LogLevel::Info;
    if (name == "warn" || name == "warning") return LogLevel::Warning;
    if (name == "error") return LogLevel::Error;
    return std::nullopt;
}

Logger::Logger(LogFormat format, std::string text_prefix, Writer writer, LogLevel least)
    : format_(format), least_(least), text_prefix_(std::move(text_prefix)), writer_(std::move(writer)) {
    if (!writer_) writer_ = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
}

void Logger::debug(std::string_view message, const nlohmann::ordered_json& fields) const { log(LogLevel::Debug, message, fields); }
void Logger::info(std::string_view message, const nlohmann::ordered_json& fields) const { log(LogLevel::Info, message, fields); }
void Logger::warning(std::string_view message, const nlohmann::ordered_json& fields) const { log(LogLevel::Warning, message, fields); }
void Logger::error(std::string_view message, const nlohmann::ordered_json& fields) const { log(LogLevel::Error, message, fields); }

void Logger::log(LogLevel severity, std::string_view message, const nlohmann::ordered_json& fields) const {
    if (!enabled(severity)) return;
    static constexpr std::string_view kNames[] = {"debug", "info", "warning", "error"};
    const std::string_view level = kNames[static_cast<int>(severity)];
    std::string line;
    if (format_ == LogFormat::Json) {
        nlohmann::ordered_json j{{"time", utc_timestamp()}, {"level", level}, {"message", message}};
        for (const auto& [key, value] : fields.items()) j[key] = value;
        // Text that is not UTF-8 (from a client) must not make the line unwritable.
        line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    } else {
        line = level == "info" ? text_prefix_ : fmt::format("{}: ", level);
        line += message;
        for (const auto& [key, value] : fields.items()) line += fmt::format(" {}={}", key, text_value(value));
    }
    std::lock_guard lock(mutex_);
    writer_(line);
}

}  // namespace rf::server
