// The chat page's files (src/server/web), embedded in the binary at build time by
// cmake/embed_files.cmake, so that the server needs nothing from disk to serve them.
#pragma once

#include <span>
#include <string_view>

namespace rf::server {

struct WebAsset {
    std::string_view name;  // the file name: "index.html", "chat.js", ...
    std::string_view body;
};
std::span<const WebAsset> web_assets();

}  // namespace rf::server
