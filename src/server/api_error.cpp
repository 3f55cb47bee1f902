#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace rf::server {

std::string error_body(const ApiError& e) {
    nlohmann::json inner{{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
    if (!e.param.empty()) inner["param"] = e.param;
    if (!e.code.empty()) inner["code"] = e.code;
    return nlohmann::json{{"error", inner}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError server_failure(const std::string& prefix, const std::string& message, bool transient) {
    if (transient)
        return {.status = 429, .message = "the server is overloaded: " + message, .type = "rate_limit_error",
                .code = "queue_full"};
    return {.status = 500, .message = prefix + message, .type = "server_error"};
}

std::string error_type_for_status(int status) {
    switch (status) {
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: return "not_found_error";
        case 413: return "invalid_request_error";
        case 429: return "rate_limit_error";
        case 503: return "service_unavailable";
        default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

}  // namespace rf::server
