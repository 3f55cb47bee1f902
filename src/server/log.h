// The server's log: one line per event, as text for people or as JSON objects for log pipelines
// (`serve --log-format json`), at a chosen least level (`serve --log-level`). The lines of one
// generation request carry its `request_id`, and its last line its W3C trace and span ids, so that a
// log search leads to the trace and back.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace rf::server {

enum class LogFormat { Text, Json };
std::optional<LogFormat> parse_log_format(std::string_view name);  // "text" or "json"

enum class LogLevel { Debug, Info, Warning, Error };  // least to most severe
std::optional<LogLevel> parse_log_level(std::string_view name);  // "debug", "info", "warn" or "warning", "error"

class Logger {
public:
    using Writer = std::function<void(const std::string& line)>;  // one line, without its newline
    // Text lines of level info start with `text_prefix`, others with "debug: ", "warning: " or
    // "error: ", as the command line's own messages do. Lines go to stderr unless `writer` is given;
    // lines below `least` are not written.
    explicit Logger(LogFormat format, std::string text_prefix = "serve: ", Writer writer = {},
                    LogLevel least = LogLevel::Info);

    // `fields` is a JSON object: members of the JSON line, or " key=value" after the text, in order.
    void debug(std::string_view message, const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;
    void info(std::string_view message, const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;
    void warning(std::string_view message, const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;
    void error(std::string_view message, const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;
    void log(LogLevel level, std::string_view message,
             const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) const;
    LogFormat format() const { return format_; }
    // Whether lines of `level` are written (to skip building a line that would be dropped).
    bool enabled(LogLevel level) const { return level >= least_; }

private:
    LogFormat format_;
    LogLevel least_;
    std::string text_prefix_;
    Writer writer_;
    mutable std::mutex mutex_;  // lines from many threads never interleave
};

}  // namespace rf::server
