#include "server/tool_calls.h"

#include <algorithm>

#include <fmt/format.h>

#include "grammar/json_primitives.h"
#include "grammar/json_schema.h"
#include "server/tool_call_reader.h"

namespace rf::server {

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
    // The same reader as a stream's, so that streamed and whole responses agree.
    ToolCallReader reader(format, known);
    std::vector<ToolCallEvent> events = reader.feed(text);
    std::vector<ToolCallEvent> last = reader.finish();
    events.insert(events.end(), last.begin(), last.end());
    ParsedOutput out;
    for (const ToolCallEvent& e : events) {
        switch (e.kind) {
            case ToolCallEvent::Kind::Content: out.content += e.text; break;
            case ToolCallEvent::Kind::CallStart: out.calls.push_back({e.text, ""}); break;
            case ToolCallEvent::Kind::Arguments: out.calls[e.call].arguments += e.text; break;
        }
    }
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
