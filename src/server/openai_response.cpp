#include "server/openai_response.h"

#include <random>

namespace rf::server {

namespace {

using nlohmann::json;

const char* object_name(const ResponseMeta& meta, bool chunk) {
    if (meta.endpoint == Endpoint::Completions) return "text_completion";
    return chunk ? "chat.completion.chunk" : "chat.completion";
}

json envelope(const ResponseMeta& meta, bool chunk) {
    json j{{"id", meta.id}, {"object", object_name(meta, chunk)}, {"created", meta.created}, {"model", meta.model}};
    if (!meta.context.is_null()) j["context"] = meta.context;
    return j;
}

std::string token_text(const ResponseMeta& meta, int32_t id) { return meta.tokenizer->token_bytes(id); }

json token_bytes_json(const std::string& text) {
    json bytes = json::array();
    for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
    return bytes;
}

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
json chat_logprobs(const ResponseMeta& meta, std::span<const StepLogprob> steps) {
    json content = json::array();
    for (const StepLogprob& s : steps) {
        const std::string text = token_text(meta, s.token);
        json top = json::array();
        for (const engine::TokenLogprob& t : s.top) {
            const std::string alt = token_text(meta, t.token);
            top.push_back({{"token", alt}, {"logprob", t.logprob}, {"bytes", token_bytes_json(alt)}});
        }
        content.push_back({{"token", text}, {"logprob", s.logprob}, {"bytes", token_bytes_json(text)}, {"top_logprobs", top}});
    }
    return json{{"content", content}};
}

// Completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
json completion_logprobs(const ResponseMeta& meta, std::span<const StepLogprob> steps, size_t offset) {
    json tokens = json::array(), values = json::array(), tops = json::array(), offsets = json::array();
    for (const StepLogprob& s : steps) {
        const std::string text = token_text(meta, s.token);
        tokens.push_back(text);
        values.push_back(s.logprob);
        json top = json::object();
        for (const engine::TokenLogprob& t : s.top) top[token_text(meta, t.token)] = t.logprob;
        tops.push_back(top);
        offsets.push_back(offset);
        offset += text.size();
    }
    return json{{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

}  // namespace

std::string_view finish_reason(engine::StopReason reason) {
    switch (reason) {
        case engine::StopReason::EndOfGeneration:
        case engine::StopReason::StopString: return "stop";
        case engine::StopReason::MaxTokens:
        case engine::StopReason::ContextFull: return "length";
        case engine::StopReason::Cancelled: return "cancelled";
    }
    return "stop";
}

json usage_json(const engine::RequestUsage& u) {
    return json{{"prompt_tokens", u.prompt_tokens},
                {"completion_tokens", u.completion_tokens},
                {"total_tokens", u.prompt_tokens + u.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

json logprobs_json(const ResponseMeta& meta, std::span<const StepLogprob> steps, size_t offset) {
    switch (meta.logprobs) {
        case LogprobsMode::None: return nullptr;
        case LogprobsMode::Chat: return chat_logprobs(meta, steps);
        case LogprobsMode::Completions: return completion_logprobs(meta, steps, offset);
    }
    return nullptr;
}

engine::RequestUsage total_usage(const std::vector<Choice>& choices) {
    engine::RequestUsage total;
    int64_t last_prompt = -1;
    for (const Choice& c : choices) {
        total.completion_tokens += c.usage.completion_tokens;
        if (c.prompt_index == last_prompt) continue;  // the n choices of one prompt count it once
        last_prompt = c.prompt_index;
        total.prompt_tokens += c.usage.prompt_tokens;
        total.cached_prompt_tokens += c.usage.cached_prompt_tokens;
    }
    return total;
}

namespace {

// OpenAI's ids for calls: "call_" and 24 random letters and digits.
std::string call_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    constexpr std::string_view chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string id = "call_";
    for (int i = 0; i < 24; ++i) id += chars[rng() % chars.size()];
    return id;
}

json tool_calls_json(const std::vector<ToolCall>& calls) {
    json list = json::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        json call{{"id", call_id()}, {"type", "function"},
                  {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
        list.push_back(std::move(call));
    }
    return list;
}

}  // namespace

std::string_view tool_finish_reason(engine::StopReason reason, bool made_calls) {
    return made_calls && reason == engine::StopReason::EndOfGeneration ? "tool_calls" : finish_reason(reason);
}

std::string tool_event_chunk(const ResponseMeta& meta, int64_t index, const ToolCallEvent& e) {
    json delta = json::object();
    switch (e.kind) {
        case ToolCallEvent::Kind::Content: delta["content"] = e.text; break;
        case ToolCallEvent::Kind::CallStart:
            delta["tool_calls"] = json::array({{{"index", e.call},
                                                {"id", call_id()},
                                                {"type", "function"},
                                                {"function", {{"name", e.text}, {"arguments", ""}}}}});
            break;
        case ToolCallEvent::Kind::Arguments:
            delta["tool_calls"] = json::array({{{"index", e.call}, {"function", {{"arguments", e.text}}}}});
            break;
    }
    json body = envelope(meta, true);
    body["choices"] = json::array({{{"index", index}, {"logprobs", nullptr}, {"finish_reason", nullptr}, {"delta", delta}}});
    return dump(body);
}

std::string completion_body(const ResponseMeta& meta, const std::vector<Choice>& choices) {
    json body = envelope(meta, false);
    json list = json::array();
    for (const Choice& c : choices) {
        json choice{{"index", c.index}, {"logprobs", logprobs_json(meta, c.logprobs)},
                    {"finish_reason", finish_reason(c.reason)}};
        if (meta.endpoint == Endpoint::Chat) {
            choice["message"] = {{"role", "assistant"}, {"content", c.text}};
            if (meta.parse_tool_calls) {  // the same reading as a stream's (tool_call_reader.h)
                const ParsedOutput out = parse_tool_calls(c.text, meta.tool_format, meta.tool_names);
                choice["message"]["content"] = out.content;
                if (!out.calls.empty()) {
                    if (out.content.empty()) choice["message"]["content"] = nullptr;
                    choice["message"]["tool_calls"] = tool_calls_json(out.calls);
                    choice["finish_reason"] = tool_finish_reason(c.reason, true);
                }
            }
        } else {
            choice["text"] = c.text;
        }
        list.push_back(std::move(choice));
    }
    body["choices"] = std::move(list);
    body["usage"] = usage_json(total_usage(choices));
    return dump(body);
}

std::string stream_chunk(const ResponseMeta& meta, int64_t index, std::string_view text, std::span<const StepLogprob> steps,
                         std::optional<std::string_view> finish, bool first, size_t text_offset) {
    json body = envelope(meta, true);
    json choice{{"index", index},
                {"logprobs", steps.empty() ? json(nullptr) : logprobs_json(meta, steps, text_offset)},
                {"finish_reason", finish ? json(*finish) : json(nullptr)}};
    if (meta.endpoint == Endpoint::Chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!text.empty() || first) delta["content"] = std::string(text);
        choice["delta"] = std::move(delta);
    } else {
        choice["text"] = std::string(text);
    }
    body["choices"] = json::array({std::move(choice)});
    return dump(body);
}

std::string usage_chunk(const ResponseMeta& meta, const engine::RequestUsage& usage) {
    json body = envelope(meta, true);
    body["choices"] = json::array();
    body["usage"] = usage_json(usage);
    return dump(body);
}

std::string sse_event(std::string_view json_text) {
    std::string out = "data: ";
    out.append(json_text);
    out += "\n\n";
    return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace rf::server
