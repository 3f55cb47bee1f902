// The routes around generation: liveness and readiness, the model list, metrics, traces,
// tokenization, and the status and cancellation of single requests.
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/openai_response.h"
#include "server/server_impl.h"

namespace rf::server {

namespace {

using nlohmann::json;

// "42", "cmpl-42" or "chatcmpl-42": a decimal number without sign or leading zeros, after at most
// one of the two prefixes.
std::optional<uint64_t> parse_request_id(std::string_view text) {
    for (const std::string_view prefix : {"cmpl-", "chatcmpl-"})
        if (text.starts_with(prefix)) {
            text.remove_prefix(prefix.size());
            break;
        }
    if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return id;
}

ApiError not_found(const std::string& what) {
    return {.status = 404, .message = what, .type = "not_found_error", .code = "not_found"};
}

json status_json(const engine::RequestStatus& st) {
    json j{{"id", st.id},
           {"state", engine::request_state_name(st.state)},
           {"prompt_tokens", st.usage.prompt_tokens},
           {"cached_prompt_tokens", st.usage.cached_prompt_tokens},
           {"completion_tokens", st.usage.completion_tokens},
           {"finish_reason", nullptr}};
    if (st.reason) j["finish_reason"] = finish_reason(*st.reason);
    return j;
}

std::variant<json, ApiError> parse_object(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return bad_request("the request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) return bad_request("the request body must be a JSON object");
    return j;
}

void tokenize(Server::Impl& s, const HttpRequest& req, HttpResponse& res) {
    auto parsed = parse_object(req.body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    const json& j = std::get<json>(parsed);
    std::vector<int32_t> tokens;
    if (j.contains("messages")) {
        auto prompt = chat_prompt(j["messages"], s.model);
        if (auto* e = std::get_if<ApiError>(&prompt)) return send_error(res, *e);
        tokens = std::move(std::get<0>(prompt));
    } else if (j.contains("prompt") && j["prompt"].is_string()) {
        const json add = j.value("add_special_tokens", json(true));
        if (!add.is_boolean()) return send_error(res, bad_request("'add_special_tokens' must be a boolean", "add_special_tokens"));
        tokens = s.model.tokenizer->encode(j["prompt"].get<std::string>(),
                                           {.add_special = add.get<bool>(), .parse_special = true});
    } else {
        return send_error(res, bad_request("'prompt' (a string) or 'messages' is required", "prompt"));
    }
    send_json(res, dump({{"tokens", tokens}, {"count", tokens.size()}, {"max_model_len", s.model.n_ctx}}));
}

void detokenize(Server::Impl& s, const HttpRequest& req, HttpResponse& res) {
    auto parsed = parse_object(req.body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    const json& j = std::get<json>(parsed);
    if (!j.contains("tokens") || !j["tokens"].is_array())
        return send_error(res, bad_request("'tokens' (an array of token ids) is required", "tokens"));
    std::vector<int32_t> ids;
    for (const json& t : j["tokens"]) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= s.model.tokenizer->n_vocab())
            return send_error(res, bad_request("'tokens' must hold token ids of the vocabulary", "tokens"));
        ids.push_back(t.get<int32_t>());
    }
    send_json(res, dump({{"prompt", s.model.tokenizer->decode(ids)}}));
}

}  // namespace

void add_info_routes(Server::Impl& s) {
    s.http.Get("/health", [](const HttpRequest&, HttpResponse& res) { send_json(res, R"({"status":"ok"})"); });
    s.http.Get("/ready", [&s](const HttpRequest&, HttpResponse& res) {
        if (!s.ready) return send_error(res, not_ready(s));
        // A lost device: not ready while the model moves (or when it could not), though alive.
        const engine::SchedulerStats stats = s.scheduler->stats();
        if (!stats.unavailable.empty())
            return send_error(res, {.status = 503, .message = stats.unavailable, .type = "service_unavailable",
                                    .code = "device_unavailable"});
        send_json(res, R"({"status":"ready"})");
    });
    s.http.Get("/v1/models", [&s](const HttpRequest&, HttpResponse& res) {
        json model{{"id", s.options.model_id}, {"object", "model"}, {"created", 0},
                   {"owned_by", "rocmforge"}, {"max_model_len", s.model.n_ctx}};
        if (!s.options.backend.empty()) {
            model["backend"] = s.options.backend;
            model["device"] = s.options.device;
        }
        if (!s.options.placement.empty()) model["placement"] = s.options.placement;
        if (const auto moved = s.scheduler->stats().moved) {  // off a lost device
            model["backend"] = moved->backend;
            model["device"] = moved->device;
            model["placement"] = moved->placement;
        }
        send_json(res, dump({{"object", "list"}, {"data", json::array({model})}}));
    });
    s.http.Get("/metrics", [&s](const HttpRequest&, HttpResponse& res) {
        const auto otlp = s.exporter ? std::optional(s.exporter->stats()) : std::nullopt;
        res.set_content(s.metrics.render(s.scheduler->stats(), otlp), "text/plain; version=0.0.4; charset=utf-8");
    });
    s.http.Get("/traces", [&s](const HttpRequest& req, HttpResponse& res) {
        size_t limit = 100;
        if (req.has_param("limit")) {
            const std::string v = req.get_param_value("limit");
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
            if (ec != std::errc() || end != v.data() + v.size())
                return send_error(res, bad_request("'limit' must be a non-negative integer", "limit"));
        }
        send_json(res, dump(s.traces.to_json(limit)));
    });
    s.http.Post("/v1/tokenize", [&s](const HttpRequest& req, HttpResponse& res) { tokenize(s, req, res); });
    s.http.Post("/v1/detokenize", [&s](const HttpRequest& req, HttpResponse& res) { detokenize(s, req, res); });
    s.http.Get(R"(/v1/requests/([^/]+))", [&s](const HttpRequest& req, HttpResponse& res) {
        const auto id = parse_request_id(req.matches[1].str());
        const auto st = id ? s.scheduler->status(*id) : std::nullopt;
        if (!st) return send_error(res, not_found("no request " + req.matches[1].str()));
        send_json(res, dump(status_json(*st)));
    });
    s.http.Delete(R"(/v1/requests/([^/]+))", [&s](const HttpRequest& req, HttpResponse& res) {
        const auto id = parse_request_id(req.matches[1].str());
        if (id && s.scheduler->cancel(*id)) return send_json(res, dump({{"id", *id}, {"cancelled", true}}));
        const auto st = id ? s.scheduler->status(*id) : std::nullopt;
        if (!st) return send_error(res, not_found("no request " + req.matches[1].str()));
        send_error(res, {.status = 409, .message = fmt::format("request {} has already finished", *id),
                         .code = "already_finished"});
    });
}

}  // namespace rf::server
