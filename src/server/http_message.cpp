#include "server/http_message.h"

#include <algorithm>
#include <cctype>

namespace rf::server {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string HttpRequest::get_header_value(std::string_view name, size_t i) const {
    for (const auto& [n, v] : headers)
        if (equal_ignoring_case(n, name) && i-- == 0) return v;
    return {};
}

size_t HttpRequest::get_header_value_count(std::string_view name) const {
    return static_cast<size_t>(
        std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return equal_ignoring_case(h.first, name); }));
}

std::string HttpRequest::get_param_value(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
}

void HttpResponse::set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
}

bool HttpResponse::has_header(std::string_view name) const {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return equal_ignoring_case(h.first, name); });
}

void HttpResponse::set_content(std::string content, std::string content_type) {
    std::erase_if(headers, [](const auto& h) { return equal_ignoring_case(h.first, "Content-Type"); });
    set_header("Content-Type", std::move(content_type));
    body = std::move(content);
}

void HttpResponse::set_chunked_content_provider(std::string content_type, ContentProvider write_body, Releaser release) {
    set_content({}, std::move(content_type));
    provider = std::move(write_body);
    releaser = std::move(release);
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string decode_url(std::string_view s, bool query) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else if (query && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view query) {
    std::multimap<std::string, std::string> params;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            params.emplace(decode_url(pair.substr(0, eq), true),
                           eq == std::string_view::npos ? std::string() : decode_url(pair.substr(eq + 1), true));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return params;
}

}  // namespace rf::server
