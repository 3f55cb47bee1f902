#include "cli/server_client.h"

#include <nlohmann/json.hpp>

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

namespace {

// What went wrong below HTTP, in words (httplib's own names are single words such as "Connection").
std::string transport_failure(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection: return "could not connect (is the server running at that address?)";
        case httplib::Error::ConnectionTimeout: return "the connection attempt timed out";
        case httplib::Error::Read: return "the connection broke while reading the answer";
        case httplib::Error::Write: return "the connection broke while sending the request";
        case httplib::Error::BindIPAddress: return "could not bind the local address";
        case httplib::Error::ExceedRedirectCount: return "too many redirects";
        case httplib::Error::Canceled: return "the request was cancelled";
        case httplib::Error::SSLConnection: case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification:
            return "the TLS connection failed";
        case httplib::Error::Compression: return "the answer could not be decompressed";
        default: return fmt::format("transport error {}", static_cast<int>(e));
    }
}

}  // namespace

std::string describe_failure(const httplib::Result& result) {
    if (!result) return "cannot reach the server: " + transport_failure(result.error());
    auto body = nlohmann::json::parse(result->body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_object() && body["error"].contains("message"))
        return fmt::format("HTTP {}: {}", result->status, body["error"]["message"].dump());
    return fmt::format("HTTP {}: {}", result->status, result->body);
}

}  // namespace rf::cli
