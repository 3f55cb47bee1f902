// The server's own view of one HTTP exchange: what the routes read (HttpRequest) and fill in
// (HttpResponse), free of any HTTP library. The listener (http_listener.h) parses requests into
// these and writes the responses; the router (http_router.h) picks the route.
#pragma once

#include <functional>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rf::server {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

bool equal_ignoring_case(std::string_view a, std::string_view b);

struct HttpRequest {
    std::string method;       // "GET", "POST", ...
    std::string target;       // as sent: path and query
    std::string path;         // percent-decoded, without the query
    HttpHeaders headers;      // in the order sent, names as sent
    std::multimap<std::string, std::string> params;  // the query, decoded
    std::string body;
    std::string remote_addr;  // the client's IP address
    std::smatch matches;      // the route pattern's groups over `path` (set by the router)

    // Header names compare without case; `i` picks among repeated headers.
    std::string get_header_value(std::string_view name, size_t i = 0) const;
    size_t get_header_value_count(std::string_view name) const;
    bool has_header(std::string_view name) const { return get_header_value_count(name) > 0; }
    bool has_param(const std::string& name) const { return params.count(name) > 0; }
    std::string get_param_value(const std::string& name) const;
};

// Where a streamed body goes: each write is sent at once (a chunk); false once the client is gone.
class DataSink {
public:
    virtual ~DataSink() = default;
    virtual bool write(std::string_view data) = 0;
    // False when the client has closed its end (checked without writing).
    virtual bool is_writable() = 0;
    // Ends the body.
    virtual void done() = 0;
};

struct HttpResponse {
    // Writes the whole body through the sink; returns whether it got out (false: the client left).
    using ContentProvider = std::function<bool(DataSink&)>;
    // Runs once the response has ended, however it ended; `sent`: it got out whole.
    using Releaser = std::function<void(bool sent)>;

    int status = 200;
    HttpHeaders headers;
    std::string body;
    ContentProvider provider;  // set: the body is streamed (chunked), `body` is unused
    Releaser releaser;

    void set_header(std::string name, std::string value);
    bool has_header(std::string_view name) const;
    void set_content(std::string content, std::string content_type);
    void set_chunked_content_provider(std::string content_type, ContentProvider write_body, Releaser release);
};

// Percent-decoding of a URL part; in a query '+' is a space too.
std::string decode_url(std::string_view s, bool query);
// "a=1&b=x%20y" as name/value pairs.
std::multimap<std::string, std::string> parse_query(std::string_view query);

}  // namespace rf::server
