// The client side of `rocmforge serve` for the status, cancel and generate --host commands.
#pragma once

#include <memory>
#include <string>

#include <httplib.h>

#include "core/result.h"

namespace rf::cli {

struct ServerAddress {
    std::string url = "http://127.0.0.1:8080";
    std::string api_key;
};

// A client for `address` (scheme://host:port, path ignored) with the API key as a Bearer header.
Result<std::unique_ptr<httplib::Client>> connect(const ServerAddress& address);

// "connection refused" and the like for a failed request, the error message of an error body.
std::string describe_failure(const httplib::Result& result);

}  // namespace rf::cli
