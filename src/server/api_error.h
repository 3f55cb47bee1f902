// An HTTP error in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with its status.
#pragma once

#include <string>

namespace rf::server {

struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param = {};  // the offending field, empty for none
    std::string code = {};   // a machine-readable reason, empty for none
};

inline ApiError bad_request(std::string message, std::string param = {}, std::string code = {}) {
    return {.status = 400, .message = std::move(message), .param = std::move(param), .code = std::move(code)};
}

// 429 for an error that a later try may not meet (Error::transient: the scheduler's queue was
// full), else 500 with `prefix` before the message.
ApiError server_failure(const std::string& prefix, const std::string& message, bool transient);

// The response body for `error` (param and code are null when empty).
std::string error_body(const ApiError& error);

// The OpenAI error type that goes with a status code that has no more specific one.
std::string error_type_for_status(int status);

}  // namespace rf::server
