#include "server/context_augment.h"

#include <fmt/format.h>

#include "context/store.h"

namespace rf::server {

namespace {

using nlohmann::json;

// A message's text: a string, or the text parts of an array joined.
std::string text_of(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    std::string text;
    if (content.is_array())
        for (const json& part : content)
            if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
                text += part["text"].get<std::string>();
    return text;
}

}  // namespace

std::variant<Augmentation, ApiError> augment_chat(std::string_view body, context::ContextStore& store,
                                                  const tokenizer::Tokenizer& tokenizer) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return bad_request("the request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) return bad_request("the request body must be a JSON object");
    Augmentation a;
    if (!j.contains("context") || j["context"].is_null()) {
        a.body = std::string(body);
        return a;
    }
    const json c = j["context"];
    if (!c.is_object()) return bad_request("'context' must be an object", "context");
    if (!c.contains("namespace") || !c["namespace"].is_string())
        return bad_request("'context.namespace' (a string) is required", "context.namespace");
    a.ns = c["namespace"].get<std::string>();
    if (auto valid = context::check_namespace(a.ns); !valid.ok()) return bad_request(valid.error().message, "context.namespace");
    const int64_t top_k = c.value("top_k", json(4)).is_number_integer() ? c.value("top_k", int64_t{4}) : -1;
    if (top_k < 0 || top_k > 50) return bad_request("'context.top_k' must be an integer in [0, 50]", "context.top_k");
    const int64_t budget = c.value("max_tokens", json(1024)).is_number_integer() ? c.value("max_tokens", int64_t{1024}) : -1;
    if (budget < 0 || budget > (1 << 20))
        return bad_request("'context.max_tokens' must be a non-negative integer", "context.max_tokens");
    if (c.contains("store") && !c["store"].is_boolean()) return bad_request("'context.store' must be a boolean", "context.store");
    a.store = c.value("store", false);
    json& messages = j["messages"];
    if (!messages.is_array() || messages.empty()) return bad_request("'messages' must be a non-empty array", "messages");
    for (const json& m : messages)
        if (m.is_object() && m.value("role", "") == "user" && m.contains("content")) a.user_text = text_of(m["content"]);
    if (a.user_text.find_first_not_of(" \t\r\n") == std::string::npos)
        return bad_request("'context' needs a user message with text to search for", "messages");

    json used = json::array();
    std::string block;
    int64_t tokens = 0;
    auto known = store.has_namespace(a.ns);
    if (!known.ok()) return ApiError{.status = 500, .message = known.error().message, .type = "server_error"};
    if (*known && top_k > 0) {
        auto hits = store.search(a.ns, a.user_text, top_k);
        if (!hits.ok()) return server_failure("", hits.error().message, hits.error().transient);
        for (const context::SearchHit& h : *hits) {
            const std::string item = fmt::format("[{}] {}\n", used.size() + 1, h.node.text);
            const auto n = static_cast<int64_t>(tokenizer.encode(item, {.add_special = false}).size());
            if (tokens + n > budget) continue;  // a shorter, less similar one may still fit
            tokens += n;
            block += item;
            used.push_back({{"id", h.node.id}, {"score", h.score}});
        }
    }
    if (!block.empty()) {
        const std::string text = "Relevant stored context (use it where it helps):\n" + block;
        json& first = messages[0];
        if (first.is_object() && first.value("role", "") == "system" && first.contains("content") &&
            first["content"].is_string())
            first["content"] = first["content"].get<std::string>() + "\n\n" + text;
        else
            messages.insert(messages.begin(), json{{"role", "system"}, {"content", text}});
    }
    j.erase("context");
    a.body = j.dump();
    a.report = {{"namespace", a.ns}, {"used", std::move(used)}, {"tokens", tokens}};
    return a;
}

Status store_exchange(context::ContextStore& store, const Augmentation& a, const std::string& reply) {
    RF_ASSIGN_OR_RETURN(context::Added question,
                        store.add(a.ns, {.text = a.user_text, .kind = context::NodeKind::Message, .role = "user"}));
    if (reply.find_first_not_of(" \t\r\n") == std::string::npos) return ok_status();
    RF_TRY(store.add(a.ns, {.text = reply, .kind = context::NodeKind::Message, .role = "assistant",
                            .reply_to = question.id}));
    return ok_status();
}

}  // namespace rf::server
