#include "server/openai_request.h"

#include <cmath>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "server/output_constraint.h"
#include "template/chat.h"

namespace rf::server {

namespace {

using nlohmann::json;

constexpr int64_t kMaxStops = 16;
constexpr int64_t kMaxTopLogprobs = 20;
constexpr int64_t kMaxTokensCap = 1 << 24;

// Reads optional fields of a request object; the first problem found is kept in `error` and
// every later read is a no-op, so a parse reads top to bottom without an early return per field.
class FieldReader {
public:
    explicit FieldReader(const json& body) : body_(body) {}

    const json& body() const { return body_; }

    std::optional<ApiError> error;

    const json* find(const char* key) const {
        auto it = body_.find(key);
        return it == body_.end() || it->is_null() ? nullptr : &*it;
    }

    std::optional<bool> boolean(const char* key) {
        const json* v = find(key);
        if (!v || error) return std::nullopt;
        if (!v->is_boolean()) return fail(key, "must be a boolean");
        return v->get<bool>();
    }

    std::optional<double> number(const char* key, double lo, double hi) {
        const json* v = find(key);
        if (!v || error) return std::nullopt;
        if (!v->is_number()) return fail(key, "must be a number");
        const double x = v->get<double>();
        if (!(x >= lo && x <= hi)) return fail(key, fmt::format("must be between {} and {}", lo, hi));
        return x;
    }

    std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi) {
        const json* v = find(key);
        if (!v || error) return std::nullopt;
        if (!v->is_number_integer()) return fail(key, "must be an integer");
        const int64_t x = v->get<int64_t>();
        if (x < lo || x > hi) return fail(key, fmt::format("must be between {} and {}", lo, hi));
        return x;
    }

    std::nullopt_t fail(const std::string& param, const std::string& what) {
        if (!error) error = bad_request(fmt::format("'{}' {}", param, what), param);
        return std::nullopt;
    }

private:
    const json& body_;
};

bool is_token_array(const json& v) {
    if (!v.is_array() || v.empty()) return false;
    for (const json& x : v)
        if (!x.is_number_integer()) return false;
    return true;
}

// The ids of a token array, each checked against the vocabulary as the number it is, before it is
// narrowed (4294967301 must not become token 5).
std::variant<std::vector<int32_t>, ApiError> token_ids(const json& v, const ModelContext& model, const char* param) {
    const int64_t n_vocab = model.tokenizer->n_vocab();
    std::vector<int32_t> ids;
    for (const json& x : v) {
        const bool in_vocab = x.is_number_unsigned() ? x.get<uint64_t>() < static_cast<uint64_t>(n_vocab)
                                                     : x.get<int64_t>() >= 0 && x.get<int64_t>() < n_vocab;
        if (!in_vocab)
            return bad_request(fmt::format("token id {} is outside the vocabulary (0..{})", x.dump(), n_vocab - 1),
                               param);
        ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
    }
    return ids;
}

// `prompt`: a string, an array of strings, an array of token ids, or an array of such arrays.
std::variant<std::vector<std::vector<int32_t>>, ApiError> completion_prompts(const json* prompt,
                                                                             const ModelContext& model) {
    if (!prompt) return bad_request("'prompt' is required", "prompt", "missing_required_parameter");
    const tokenizer::EncodeOptions encode{.add_special = true, .parse_special = true};
    std::vector<std::vector<int32_t>> prompts;
    auto wrong = [] { return bad_request("'prompt' must be a string, an array of strings or of token ids", "prompt"); };
    // One prompt: a string or a token array; an array of them gives several.
    const auto add = [&](const json& item) -> std::optional<ApiError> {
        if (item.is_string()) {
            prompts.push_back(model.tokenizer->encode(item.get<std::string>(), encode));
        } else {
            auto ids = token_ids(item, model, "prompt");
            if (auto* e = std::get_if<ApiError>(&ids)) return *e;
            prompts.push_back(std::get<std::vector<int32_t>>(std::move(ids)));
        }
        return std::nullopt;
    };
    if (prompt->is_string() || is_token_array(*prompt)) {
        if (auto e = add(*prompt)) return *e;
    } else if (prompt->is_array() && !prompt->empty()) {
        for (const json& item : *prompt) {
            if (!item.is_string() && !is_token_array(item)) return wrong();
            if (auto e = add(item)) return *e;
        }
    } else {
        return wrong();
    }
    for (const auto& p : prompts)
        if (p.empty()) return bad_request("the prompt has no tokens", "prompt");
    return prompts;
}

std::string piece_or_empty(const tokenizer::Tokenizer& tok, int32_t id) {
    return id == tokenizer::kNoToken ? std::string() : tok.piece(id);
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts (joined).
std::variant<std::string, ApiError> message_text(const json& content, size_t index) {
    const std::string param = fmt::format("messages[{}].content", index);
    if (content.is_null()) return std::string();
    if (content.is_string()) return content.get<std::string>();
    if (content.is_array()) {
        std::string text;
        for (const json& part : content) {
            if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
                !part["text"].is_string())
                return bad_request("only text content parts are supported", param);
            text += part["text"].get<std::string>();
        }
        return text;
    }
    return bad_request(fmt::format("'{}' must be a string or an array of text parts", param), param);
}

// The tool parts of a history message: an assistant's tool_calls (their arguments, sent as JSON
// text, given to the template as objects, which is how templates read them) and a tool result's
// tool_call_id and name.
std::optional<ApiError> tool_fields(const json& m, size_t index, nlohmann::ordered_json& message) {
    const std::string param = fmt::format("messages[{}].tool_calls", index);
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
        if (!m["tool_calls"].is_array()) return bad_request(fmt::format("'{}' must be an array", param), param);
        nlohmann::ordered_json calls = nlohmann::ordered_json::array();
        for (const json& c : m["tool_calls"]) {
            if (!c.is_object() || !c.contains("function") || !c["function"].is_object() ||
                !c["function"].contains("name") || !c["function"]["name"].is_string())
                return bad_request(fmt::format("'{}' entries need function.name", param), param);
            nlohmann::ordered_json args = nlohmann::ordered_json::object();
            if (c["function"].contains("arguments")) {
                const json& a = c["function"]["arguments"];
                args = a.is_string() ? nlohmann::ordered_json::parse(a.get<std::string>(), nullptr, false)
                                     : nlohmann::ordered_json(a);
                if (args.is_discarded()) return bad_request(fmt::format("'{}' arguments are not JSON", param), param);
            }
            calls.push_back({{"id", c.value("id", "")},
                             {"type", "function"},
                             {"function", {{"name", c["function"]["name"]}, {"arguments", args}}}});
        }
        message["tool_calls"] = std::move(calls);
    }
    for (const char* key : {"tool_call_id", "name"})
        if (m.contains(key) && m[key].is_string()) message[key] = m[key].get<std::string>();
    return std::nullopt;
}

std::optional<ApiError> read_stop(FieldReader& f, engine::RequestOptions& o) {
    const json* stop = f.find("stop");
    if (!stop) return std::nullopt;
    std::vector<std::string> stops;
    if (stop->is_string()) {
        stops.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
        for (const json& s : *stop) {
            if (!s.is_string()) return bad_request("'stop' must be a string or an array of strings", "stop");
            stops.push_back(s.get<std::string>());
        }
    } else {
        return bad_request("'stop' must be a string or an array of strings", "stop");
    }
    if (static_cast<int64_t>(stops.size()) > kMaxStops)
        return bad_request(fmt::format("'stop' may hold at most {} strings", kMaxStops), "stop");
    for (const std::string& s : stops)
        if (s.empty()) return bad_request("'stop' strings must not be empty", "stop");
    o.stop_strings = std::move(stops);
    return std::nullopt;
}

std::optional<ApiError> read_logit_bias(FieldReader& f, engine::SamplerParams& s, const ModelContext& model) {
    const json* bias = f.find("logit_bias");
    if (!bias) return std::nullopt;
    if (!bias->is_object()) return bad_request("'logit_bias' must be an object of token id -> bias", "logit_bias");
    for (const auto& [key, value] : bias->items()) {
        int32_t id = -1;
        try {
            size_t used = 0;
            id = std::stoi(key, &used);
            if (used != key.size()) id = -1;
        } catch (const std::exception&) {
            id = -1;
        }
        if (id < 0 || id >= model.tokenizer->n_vocab())
            return bad_request(fmt::format("logit_bias key '{}' is not a token id of the vocabulary", key), "logit_bias");
        if (!value.is_number() || !(value.get<double>() >= -100.0 && value.get<double>() <= 100.0))
            return bad_request("logit_bias values must be numbers between -100 and 100", "logit_bias");
        s.logit_bias.emplace_back(id, value.get<float>());
    }
    return std::nullopt;
}

// Sampling, limits, stops and logprobs: what completions and chat share.
std::optional<ApiError> read_generation(FieldReader& f, std::string_view text, Endpoint endpoint, ParsedRequest& r,
                                        const ModelContext& model) {
    engine::RequestOptions& o = r.options;
    engine::SamplerParams& s = o.sampling;
    // OpenAI's defaults: plain sampling at temperature 1, no truncation.
    s = engine::SamplerParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f};
    if (auto v = f.number("temperature", 0.0, 2.0)) s.temperature = static_cast<float>(*v);
    if (auto v = f.number("top_p", 0.0, 1.0)) s.top_p = static_cast<float>(*v);
    if (auto v = f.integer("top_k", -1, 1 << 30)) s.top_k = *v < 0 ? 0 : *v;
    if (auto v = f.number("min_p", 0.0, 1.0)) s.min_p = static_cast<float>(*v);
    if (auto v = f.number("typical_p", 0.0, 1.0)) s.typical_p = static_cast<float>(*v);
    if (auto v = f.number("frequency_penalty", -2.0, 2.0)) s.frequency_penalty = static_cast<float>(*v);
    if (auto v = f.number("presence_penalty", -2.0, 2.0)) s.presence_penalty = static_cast<float>(*v);
    if (auto v = f.number("repetition_penalty", 0.01, 10.0)) s.repeat_penalty = static_cast<float>(*v);
    if (const json* seed = f.find("seed"); seed && !f.error) {
        if (!seed->is_number_integer()) return bad_request("'seed' must be an integer", "seed");
        s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
        r.seed_given = true;
    }
    if (!r.seed_given) s.seed = std::random_device{}();

    std::optional<int64_t> max_tokens = f.integer("max_tokens", 0, kMaxTokensCap);
    if (auto v = f.integer("max_completion_tokens", 0, kMaxTokensCap)) max_tokens = v;
    o.max_tokens = max_tokens ? *max_tokens : (endpoint == Endpoint::Completions ? 16 : model.n_ctx);
    if (auto v = f.integer("n", 1, model.max_n)) r.n = *v;
    if (auto v = f.boolean("stream")) r.stream = *v;
    if (auto v = f.boolean("ignore_eos")) o.stop_at_end_of_generation = !*v;
    if (const json* so = f.find("stream_options"); so && !f.error) {
        if (!so->is_object()) return bad_request("'stream_options' must be an object", "stream_options");
        FieldReader sf(*so);
        if (auto v = sf.boolean("include_usage")) r.include_usage = *v;
        if (sf.error) return bad_request("'stream_options.include_usage' must be a boolean", "stream_options");
    }
    if (endpoint == Endpoint::Completions) {
        if (auto v = f.integer("logprobs", 0, kMaxTopLogprobs)) {
            r.logprobs = LogprobsMode::Completions;
            o.logprobs = true;
            o.top_logprobs = *v;
        }
        if (auto v = f.boolean("echo"); v && *v)
            return bad_request("'echo' is not supported", "echo", "unsupported_parameter");
    } else {
        if (auto v = f.boolean("logprobs"); v && *v) {
            r.logprobs = LogprobsMode::Chat;
            o.logprobs = true;
        }
        if (auto v = f.integer("top_logprobs", 0, kMaxTopLogprobs)) {
            if (r.logprobs == LogprobsMode::None && *v > 0)
                return bad_request("'top_logprobs' needs 'logprobs': true", "top_logprobs");
            o.top_logprobs = *v;
        }
    }
    if (f.error) return f.error;
    auto constraint = read_output_constraint(f.body(), text);
    if (auto* e = std::get_if<ApiError>(&constraint)) return *e;
    o.grammar = std::get<GrammarPtr>(std::move(constraint));
    if (auto e = read_stop(f, o)) return e;
    if (auto e = read_logit_bias(f, s, model)) return e;
    if (Status st = engine::validate(s); !st) return bad_request(st.error().message);
    return std::nullopt;
}

}  // namespace

std::variant<std::vector<int32_t>, ApiError> chat_prompt(const json& messages, const ModelContext& model,
                                                         const nlohmann::ordered_json& tools) {
    if (!messages.is_array()) return bad_request("'messages' must be an array of messages", "messages", "invalid_type");
    if (messages.empty()) return bad_request("'messages' must not be empty", "messages", "empty_array");
    tmpl::ChatInputs inputs;
    inputs.add_generation_prompt = true;
    const tokenizer::Tokenizer& tok = *model.tokenizer;
    inputs.bos_token = piece_or_empty(tok, tok.special().bos);
    inputs.eos_token = piece_or_empty(tok, tok.special().eos);
    inputs.tools = tools;
    for (size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            return bad_request(fmt::format("messages[{}] must be an object with a string 'role'", i),
                               fmt::format("messages[{}].role", i));
        auto text = message_text(m.contains("content") ? m["content"] : json(), i);
        if (auto* e = std::get_if<ApiError>(&text)) return *e;
        nlohmann::ordered_json message{{"role", m["role"].get<std::string>()}, {"content", std::get<std::string>(text)}};
        if (auto e = tool_fields(m, i, message)) return *e;
        inputs.messages.push_back(std::move(message));
    }
    auto rendered = tmpl::render_chat(model.chat_template, inputs);
    if (!rendered) return bad_request("the chat template failed: " + rendered.error().message, "messages");
    // The template usually writes the BOS token itself.
    const bool has_bos = !inputs.bos_token.empty() && rendered->starts_with(inputs.bos_token);
    std::vector<int32_t> ids = tok.encode(*rendered, {.add_special = !has_bos, .parse_special = true});
    if (ids.empty()) return bad_request("the rendered conversation has no tokens", "messages");
    return ids;
}

std::variant<ParsedRequest, ApiError> parse_request(Endpoint endpoint, std::string_view body, const ModelContext& model) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad_request("the request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) return bad_request("the request body must be a JSON object");
    FieldReader f(j);
    ParsedRequest r;
    r.endpoint = endpoint;
    if (endpoint == Endpoint::Completions) {
        auto prompts = completion_prompts(f.find("prompt"), model);
        if (auto* e = std::get_if<ApiError>(&prompts)) return *e;
        r.prompts = std::move(std::get<0>(prompts));
    } else {
        const json* messages = f.find("messages");
        if (!messages) return bad_request("'messages' is required", "messages", "missing_required_parameter");
        auto tools = read_tools(j, body, model.chat_template);
        if (auto* e = std::get_if<ApiError>(&tools)) return *e;
        r.tools = std::get<ToolUse>(std::move(tools));
        auto prompt = chat_prompt(*messages, model, r.tools.template_tools);
        if (auto* e = std::get_if<ApiError>(&prompt)) return *e;
        r.prompts.push_back(std::move(std::get<0>(prompt)));
    }
    if (auto e = read_generation(f, body, endpoint, r, model)) return *e;
    if (r.tools.grammar) {
        if (r.options.grammar)
            return bad_request("'tool_choice' and a JSON 'response_format' or 'grammar' cannot both constrain the output",
                               "tool_choice");
        r.options.grammar = r.tools.grammar;
    }
    for (const auto& p : r.prompts)
        if (static_cast<int64_t>(p.size()) + 1 > model.n_ctx)
            return bad_request(fmt::format("the prompt has {} tokens but the context holds {} (prompt + at least one "
                                           "generated token)",
                                           p.size(), model.n_ctx),
                               endpoint == Endpoint::Chat ? "messages" : "prompt", "context_length_exceeded");
    if (static_cast<int64_t>(r.prompts.size()) * r.n > model.max_n)
        return bad_request(fmt::format("prompts x n must be at most {}", model.max_n), "n");
    return r;
}

}  // namespace rf::server
