// The chat page: GET / serves index.html and GET /ui/NAME the page's other files, all embedded in
// the binary (web_assets.h). They are static and hold no secrets, so they are served without the
// API key (the page asks for it and sends it with its API calls); a strict Content-Security-Policy
// lets the page load nothing but this server's own files.
#include <string>

#include "server/server_impl.h"
#include "server/web_assets.h"

namespace rf::server {

namespace {

std::string content_type(std::string_view name) {
    if (name.ends_with(".html")) return "text/html; charset=utf-8";
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    return "application/octet-stream";
}

void serve_asset(const WebAsset& asset, HttpResponse& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
                   "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset.body), content_type(asset.name));
}

}  // namespace

bool is_web_page_path(std::string_view path) {
    if (path == "/") return true;
    if (!path.starts_with("/ui/")) return false;
    for (const WebAsset& asset : web_assets())
        if (path.substr(4) == asset.name) return true;
    return false;
}

void add_web_routes(Server::Impl& s) {
    for (const WebAsset& asset : web_assets()) {
        const std::string path = asset.name == "index.html" ? "/" : "/ui/" + std::string(asset.name);
        s.http.Get(path, [&asset](const HttpRequest&, HttpResponse& res) { serve_asset(asset, res); });
    }
}

}  // namespace rf::server
