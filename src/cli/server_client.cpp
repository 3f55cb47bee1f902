#include "cli/server_client.h"

#include <nlohmann/json.hpp>

#include "server/transport_failure.h"

namespace rf::cli {

Result<std::unique_ptr<httplib::Client>> connect(const ServerAddress& address) {
    std::string url = address.url;
    if (url.find("://") == std::string::npos) url = "http://" + url;
    const size_t path = url.find('/', url.find("://") + 3);
    if (path != std::string::npos) url.resize(path);
    auto client = std::make_unique<httplib::Client>(url);
    if (!client->is_valid()) return make_error("'{}' is not a server address (http://HOST:PORT)", address.url);
    if (!address.api_key.empty()) client->set_bearer_token_auth(address.api_key);
    client->set_read_timeout(std::chrono::seconds(600));
    return client;
}

std::string describe_failure(const httplib::Result& result) {
    if (!result) return "cannot reach the server: " + server::transport_failure(result.error());
    auto body = nlohmann::json::parse(result->body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_object() && body["error"].contains("message"))
        return fmt::format("HTTP {}: {}", result->status, body["error"]["message"].dump());
    return fmt::format("HTTP {}: {}", result->status, result->body);
}

}  // namespace rf::cli
