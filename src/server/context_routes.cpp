// /v1/context/{namespace}/...: the context store over HTTP (docs/api.md), behind the API key like
// every route. Bodies are JSON objects; unknown namespaces and nodes are 404, bad fields 400.
//
//   POST   /v1/context/NS/add           {"text", "role"?, "metadata"?, "reply_to"?} -> {"id", "chunks", "tokens"}
//   POST   /v1/context/NS/search        {"query", "top_k"?}                         -> {"results": [...]}
//   GET    /v1/context/NS/nodes         ?limit=&offset=                             -> {"nodes": [...]}
//   GET    /v1/context/NS/nodes/ID                                                  -> the node with its edges
//   DELETE /v1/context/NS/nodes/ID                                                  -> {"deleted": n}
//   DELETE /v1/context/NS                                                           -> {"cleared": n}
//   GET    /v1/context                                                              -> {"namespaces": [...]}
#include <charconv>

#include <nlohmann/json.hpp>

#include "context/store.h"
#include "context/store_json.h"
#include "server/openai_response.h"
#include "server/server_impl.h"

namespace rf::server {

namespace {

using nlohmann::json;

ApiError not_found(std::string message) {
    return {.status = 404, .message = std::move(message), .type = "not_found_error", .code = "not_found"};
}
ApiError failed(const Error& e) { return server_failure("", e.message, e.transient); }

std::optional<int64_t> parse_id(const std::string& text) {
    int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id < 0) return std::nullopt;
    return id;
}

// The namespace of the path, checked: 400 when malformed, 404 when nothing was stored in it
// (unless `may_be_new`, for adds).
std::optional<ApiError> check_namespace(context::ContextStore& store, const std::string& ns, bool may_be_new) {
    if (auto valid = context::check_namespace(ns); !valid.ok()) return bad_request(valid.error().message);
    if (may_be_new) return std::nullopt;
    auto known = store.has_namespace(ns);
    if (!known.ok()) return failed(known.error());
    if (!*known) return not_found("unknown namespace '" + ns + "': nothing was added to it");
    return std::nullopt;
}

std::variant<json, ApiError> object_body(const HttpRequest& req) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) return bad_request("the request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) return bad_request("the request body must be a JSON object");
    return j;
}

void add(context::ContextStore& store, const std::string& ns, const HttpRequest& req, HttpResponse& res) {
    auto body = object_body(req);
    if (auto* e = std::get_if<ApiError>(&body)) return send_error(res, *e);
    const json& j = std::get<json>(body);
    if (!j.contains("text") || !j["text"].is_string()) return send_error(res, bad_request("'text' (a string) is required", "text"));
    context::AddRequest r{.text = j["text"].get<std::string>()};
    if (r.text.find_first_not_of(" \t\r\n") == std::string::npos)
        return send_error(res, bad_request("'text' is empty", "text"));
    if (j.contains("role") && !j["role"].is_null()) {
        if (!j["role"].is_string()) return send_error(res, bad_request("'role' must be a string", "role"));
        r.kind = context::NodeKind::Message;
        r.role = j["role"].get<std::string>();
    }
    if (j.contains("metadata") && !j["metadata"].is_null()) {
        if (!j["metadata"].is_object()) return send_error(res, bad_request("'metadata' must be an object", "metadata"));
        r.metadata = j["metadata"].dump();
    }
    if (j.contains("reply_to") && !j["reply_to"].is_null()) {
        if (!j["reply_to"].is_number_integer()) return send_error(res, bad_request("'reply_to' must be a node id", "reply_to"));
        r.reply_to = j["reply_to"].get<int64_t>();
    }
    auto added = store.add(ns, r);
    if (!added.ok()) return send_error(res, bad_request(added.error().message));
    send_json(res, dump(context::added_json(*added)));
}

void search(context::ContextStore& store, const std::string& ns, const HttpRequest& req, HttpResponse& res) {
    auto body = object_body(req);
    if (auto* e = std::get_if<ApiError>(&body)) return send_error(res, *e);
    const json& j = std::get<json>(body);
    if (!j.contains("query") || !j["query"].is_string() || j["query"].get_ref<const std::string&>().empty())
        return send_error(res, bad_request("'query' (a non-empty string) is required", "query"));
    int64_t k = 5;
    if (j.contains("top_k")) {
        if (!j["top_k"].is_number_integer() || j["top_k"].get<int64_t>() < 1 || j["top_k"].get<int64_t>() > 1000)
            return send_error(res, bad_request("'top_k' must be an integer in [1, 1000]", "top_k"));
        k = j["top_k"].get<int64_t>();
    }
    auto hits = store.search(ns, j["query"].get<std::string>(), k);
    if (!hits.ok()) return send_error(res, bad_request(hits.error().message, "query"));
    json results = json::array();
    for (const auto& h : *hits) results.push_back(context::hit_json(h));
    send_json(res, dump({{"namespace", ns}, {"results", std::move(results)}}));
}

void list(context::ContextStore& store, const std::string& ns, const HttpRequest& req, HttpResponse& res) {
    int64_t limit = 100, offset = 0;
    if (req.has_param("limit")) {
        auto v = parse_id(req.get_param_value("limit"));
        if (!v || *v == 0) return send_error(res, bad_request("'limit' must be a positive integer", "limit"));
        limit = *v;
    }
    if (req.has_param("offset")) {
        auto v = parse_id(req.get_param_value("offset"));
        if (!v) return send_error(res, bad_request("'offset' must be a non-negative integer", "offset"));
        offset = *v;
    }
    auto nodes = store.list(ns, limit, offset);
    if (!nodes.ok()) return send_error(res, bad_request(nodes.error().message));
    json out = json::array();
    for (const auto& n : *nodes) out.push_back(context::node_json(n));
    send_json(res, dump({{"namespace", ns}, {"nodes", std::move(out)}}));
}

}  // namespace

void add_context_routes(Server::Impl& s) {
    context::ContextStore* store = s.options.context;
    auto route = [&s, store](bool may_be_new, auto handler) {
        return [&s, store, may_be_new, handler](const HttpRequest& req, HttpResponse& res) {
            if (!store)
                return send_error(res, not_found("this server keeps no context store (start it with --context)"));
            if (!s.ready) return send_error(res, not_ready(s));
            const std::string ns = req.matches[1];
            if (auto e = check_namespace(*store, ns, may_be_new)) return send_error(res, *e);
            handler(*store, ns, req, res);
        };
    };
    s.http.Get("/v1/context", [&s, store](const HttpRequest&, HttpResponse& res) {
        if (!store) return send_error(res, not_found("this server keeps no context store (start it with --context)"));
        auto names = store->namespaces();
        if (!names.ok()) return send_error(res, failed(names.error()));
        send_json(res, dump({{"namespaces", *names}}));
    });
    s.http.Post(R"(/v1/context/([^/]+)/add)", route(true, add));
    s.http.Post(R"(/v1/context/([^/]+)/search)", route(false, search));
    s.http.Get(R"(/v1/context/([^/]+)/nodes)", route(false, list));
    s.http.Get(R"(/v1/context/([^/]+)/nodes/([^/]+))",
               route(false, [](context::ContextStore& store, const std::string& ns, const HttpRequest& req,
                               HttpResponse& res) {
                   auto id = parse_id(req.matches[2]);
                   if (!id) return send_error(res, bad_request("the node id must be a non-negative integer"));
                   auto d = store.show(ns, *id);
                   if (!d.ok()) return send_error(res, not_found(d.error().message));
                   send_json(res, dump(context::detail_json(*d)));
               }));
    s.http.Delete(R"(/v1/context/([^/]+)/nodes/([^/]+))",
                  route(false, [](context::ContextStore& store, const std::string& ns, const HttpRequest& req,
                                  HttpResponse& res) {
                      auto id = parse_id(req.matches[2]);
                      if (!id) return send_error(res, bad_request("the node id must be a non-negative integer"));
                      auto n = store.remove(ns, *id);
                      if (!n.ok()) return send_error(res, not_found(n.error().message));
                      send_json(res, dump({{"namespace", ns}, {"deleted", *n}}));
                  }));
    s.http.Delete(R"(/v1/context/([^/]+))",
                  route(false, [](context::ContextStore& store, const std::string& ns, const HttpRequest&,
                                  HttpResponse& res) {
                      auto n = store.clear(ns);
                      if (!n.ok()) return send_error(res, failed(n.error()));
                      send_json(res, dump({{"namespace", ns}, {"cleared", *n}}));
                  }));
}

}  // namespace rf::server
