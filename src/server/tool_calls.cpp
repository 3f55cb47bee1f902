#include "server/tool_calls.h"

#include <algorithm>

#include <fmt/format.h>

#include "grammar/json_primitives.h"
#include "grammar/json_schema.h"

namespace rf::server {

namespace {

using nlohmann::json;

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// One call from a JSON value: {"name", "arguments" | "parameters"} (arguments an object or a
// string holding one), or OpenAI's own {"function": {...}}.
std::optional<ToolCall> call_from(const json& v, const std::vector<std::string>& known) {
    if (!v.is_object()) return std::nullopt;
    if (v.contains("function") && v["function"].is_object()) return call_from(v["function"], known);
    if (!v.contains("name") || !v["name"].is_string()) return std::nullopt;
    const std::string name = v["name"].get<std::string>();
    if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) return std::nullopt;
    json args = json::object();
    for (const char* key : {"arguments", "parameters"}) {
        if (!v.contains(key)) continue;
        args = v[key];
        if (args.is_string()) args = json::parse(args.get<std::string>(), nullptr, false);
        break;
    }
    if (!args.is_object()) return std::nullopt;
    return ToolCall{name, args.dump()};
}

// Calls from a value that is one call or an array of them; nothing unless all of it is calls.
std::vector<ToolCall> calls_from(const json& v, const std::vector<std::string>& known) {
    std::vector<ToolCall> out;
    const json items = v.is_array() ? v : json::array({v});
    for (const json& item : items) {
        auto c = call_from(item, known);
        if (!c) return {};
        out.push_back(std::move(*c));
    }
    return out;
}

json parse(std::string_view text) { return json::parse(text, nullptr, false); }

ParsedOutput hermes(std::string_view text, const std::vector<std::string>& known) {
    constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
    ParsedOutput out;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t start = text.find(open, pos);
        if (start == std::string_view::npos) break;
        const size_t body = start + open.size();
        size_t end = text.find(close, body);
        const bool closed = end != std::string_view::npos;
        if (!closed) end = text.size();  // the output may end before the closing tag
        const auto calls = calls_from(parse(trim(text.substr(body, end - body))), known);
        if (calls.empty()) {
            out.content += text.substr(pos, end - pos);
        } else {
            out.content += text.substr(pos, start - pos);
            out.calls.insert(out.calls.end(), calls.begin(), calls.end());
        }
        pos = closed ? end + close.size() : end;
    }
    out.content += text.substr(std::min(pos, text.size()));
    return out;
}

ParsedOutput llama3(std::string_view text, const std::vector<std::string>& known) {
    std::string_view body = trim(text);
    if (body.starts_with("<|python_tag|>")) body = trim(body.substr(std::string_view("<|python_tag|>").size()));
    ParsedOutput out;
    // Several calls may be separated by ';' between objects.
    size_t pos = 0;
    while (pos < body.size()) {
        size_t end = body.find("};", pos);
        end = end == std::string_view::npos ? body.size() : end + 1;
        auto calls = calls_from(parse(trim(body.substr(pos, end - pos))), known);
        if (calls.empty()) return {std::string(text), {}};
        out.calls.insert(out.calls.end(), calls.begin(), calls.end());
        pos = end + 1;
    }
    if (out.calls.empty()) out.content = std::string(text);
    return out;
}

ParsedOutput mistral(std::string_view text, const std::vector<std::string>& known) {
    constexpr std::string_view marker = "[TOOL_CALLS]";
    const size_t at = text.find(marker);
    if (at == std::string_view::npos) return {std::string(text), {}};
    auto calls = calls_from(parse(trim(text.substr(at + marker.size()))), known);
    if (calls.empty()) return {std::string(text), {}};
    return {std::string(trim(text.substr(0, at))), std::move(calls)};
}

ParsedOutput generic(std::string_view text, const std::vector<std::string>& known) {
    const json v = parse(trim(text));
    if (v.is_object() && v.contains("tool_calls")) {
        auto calls = calls_from(v["tool_calls"], known);
        if (!calls.empty()) return {v.value("content", ""), std::move(calls)};
    }
    auto calls = calls_from(v, known);
    if (calls.empty()) return {std::string(text), {}};
    return {"", std::move(calls)};
}

}  // namespace

ToolFormat tool_format_of(std::string_view t) {
    if (t.find("<tool_call>") != std::string_view::npos) return ToolFormat::Hermes;
    if (t.find("[TOOL_CALLS]") != std::string_view::npos) return ToolFormat::Mistral;
    if (t.find("<|python_tag|>") != std::string_view::npos || t.find("ipython") != std::string_view::npos)
        return ToolFormat::Llama3;
    return ToolFormat::Generic;
}

std::string_view tool_format_name(ToolFormat f) {
    switch (f) {
        case ToolFormat::Hermes: return "hermes";
        case ToolFormat::Llama3: return "llama3";
        case ToolFormat::Mistral: return "mistral";
        case ToolFormat::Generic: return "generic";
    }
    return "generic";
}

ParsedOutput parse_tool_calls(std::string_view text, ToolFormat format, const std::vector<std::string>& known) {
    ParsedOutput out;
    switch (format) {
        case ToolFormat::Hermes: out = hermes(text, known); break;
        case ToolFormat::Llama3: out = llama3(text, known); break;
        case ToolFormat::Mistral: out = mistral(text, known); break;
        case ToolFormat::Generic: out = generic(text, known); break;
    }
    // Families that mark their calls may still answer in plain JSON.
    if (out.calls.empty() && format != ToolFormat::Generic) out = generic(text, known);
    if (!out.calls.empty()) out.content = std::string(trim(out.content));
    return out;
}

ToolGrammar tool_call_grammar(const nlohmann::ordered_json& tools, ToolFormat format) {
    if (!tools.is_array() || tools.empty()) return {"", "no tools to call"};
    std::string alternatives, rules;
    for (size_t i = 0; i < tools.size(); ++i) {
        const auto& fn = tools[i]["function"];
        // A function that declares no parameters takes no arguments.
        const nlohmann::ordered_json params =
            fn.contains("parameters")
                ? fn["parameters"]
                : nlohmann::ordered_json{{"type", "object"}, {"properties", nlohmann::ordered_json::object()},
                                         {"additionalProperties", false}};
        const std::string prefix = fmt::format("t{}-", i);
        auto schema = grammar::json_schema_to_gbnf(params, {.prefix = prefix, .base_rules = false});
        if (!schema) return {"", fmt::format("tools[{}].function.parameters: {}", i, schema.error().message)};
        rules += *schema;
        const std::string name = grammar::gbnf_literal(nlohmann::json(fn.value("name", "")).dump());
        const std::string args_key = format == ToolFormat::Llama3 ? "parameters" : "arguments";
        alternatives += fmt::format("{}\"{{\\\"name\\\": \" {} \", \\\"{}\\\": \" {}root \"}}\"", alternatives.empty() ? "" : " | ",
                                    name, args_key, prefix);
    }
    std::string call = "(" + alternatives + ")";
    switch (format) {
        case ToolFormat::Hermes: call = "\"<tool_call>\\n\" " + call + " \"\\n</tool_call>\""; break;
        case ToolFormat::Mistral: call = "\"[TOOL_CALLS][\" " + call + " \"]\""; break;
        case ToolFormat::Llama3:
        case ToolFormat::Generic: break;
    }
    return {"root ::= " + call + "\n" + rules + grammar::json_base_rules(), ""};
}

}  // namespace rf::server
