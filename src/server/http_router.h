// Routes by method and path pattern (a regular expression over the whole decoded path, whose groups
// the handler reads from HttpRequest::matches). HEAD is served by the GET route.
#pragma once

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "server/http_message.h"

namespace rf::server {

class HttpRouter {
public:
    using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

    void Get(const std::string& pattern, Handler h) { add("GET", pattern, std::move(h)); }
    void Post(const std::string& pattern, Handler h) { add("POST", pattern, std::move(h)); }
    void Delete(const std::string& pattern, Handler h) { add("DELETE", pattern, std::move(h)); }
    void Options(const std::string& pattern, Handler h) { add("OPTIONS", pattern, std::move(h)); }

    // Runs the route for the request; false when none matches (the caller answers 404).
    bool dispatch(HttpRequest& req, HttpResponse& res) const;

private:
    struct Route {
        std::string method;
        std::regex pattern;
        Handler handler;
    };
    void add(std::string method, const std::string& pattern, Handler h);
    std::vector<Route> routes_;
};

}  // namespace rf::server
