#include "server/http_router.h"

namespace rf::server {

void HttpRouter::add(std::string method, const std::string& pattern, Handler h) {
    routes_.push_back({std::move(method), std::regex(pattern), std::move(h)});
}

bool HttpRouter::dispatch(HttpRequest& req, HttpResponse& res) const {
    const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
    for (const Route& r : routes_) {
        if (r.method != method || !std::regex_match(req.path, req.matches, r.pattern)) continue;
        r.handler(req, res);
        return true;
    }
    return false;
}

}  // namespace rf::server
