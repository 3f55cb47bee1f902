#include "server/tool_request.h"

#include <fmt/format.h>

#include "grammar/gbnf_parser.h"

namespace rf::server {

std::variant<ToolUse, ApiError> read_tools(const nlohmann::json& body, std::string_view text,
                                           std::string_view chat_template) {
    ToolUse use;
    const auto it = body.find("tools");
    const bool has_tools = it != body.end() && !it->is_null();
    const auto choice_it = body.find("tool_choice");
    const bool has_choice = choice_it != body.end() && !choice_it->is_null();
    if (!has_tools) {
        if (has_choice && *choice_it != "none" && *choice_it != "auto")
            return bad_request("'tool_choice' needs 'tools'", "tool_choice");
        return use;
    }
    if (!it->is_array()) return bad_request("'tools' must be an array of tools", "tools");
    const auto ordered_tools = ordered_field(text, {"tools"});
    if (!ordered_tools || !ordered_tools->is_array()) return bad_request("'tools' must be an array of tools", "tools");
    const nlohmann::ordered_json& tools = *ordered_tools;
    for (size_t i = 0; i < tools.size(); ++i) {
        const auto& t = tools[i];
        const std::string param = fmt::format("tools[{}]", i);
        if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") || !t["function"].is_object())
            return bad_request(fmt::format("'{}' must be {{\"type\": \"function\", \"function\": {{...}}}}", param), param);
        const auto& fn = t["function"];
        if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get<std::string>().empty())
            return bad_request(fmt::format("'{}.function.name' must be a non-empty string", param), param);
        if (fn.contains("parameters") && !fn["parameters"].is_object())
            return bad_request(fmt::format("'{}.function.parameters' must be a JSON schema object", param), param);
        use.names.push_back(fn["name"].get<std::string>());
    }
    use.format = tool_format_of(chat_template);

    std::string choice = "auto";
    nlohmann::ordered_json offered = tools;
    if (has_choice) {
        const nlohmann::json& c = *choice_it;
        if (c.is_string()) {
            choice = c.get<std::string>();
            if (choice != "auto" && choice != "none" && choice != "required")
                return bad_request("'tool_choice' must be auto, none, required or a named function", "tool_choice");
        } else if (c.is_object() && c.value("type", "") == "function" && c.contains("function") &&
                   c["function"].is_object() && c["function"].contains("name") && c["function"]["name"].is_string()) {
            const std::string name = c["function"]["name"].get<std::string>();
            const auto found = std::find(use.names.begin(), use.names.end(), name);
            if (found == use.names.end())
                return bad_request(fmt::format("'tool_choice' names '{}', which is not among the tools", name), "tool_choice");
            choice = "required";
            offered = nlohmann::ordered_json::array({tools[static_cast<size_t>(found - use.names.begin())]});
        } else {
            return bad_request("'tool_choice' must be auto, none, required or a named function", "tool_choice");
        }
    }
    if (choice == "none") return use;
    use.template_tools = tools;
    use.parse_calls = true;
    if (choice == "required") {
        ToolGrammar g = tool_call_grammar(offered, use.format);
        if (!g.error.empty()) return bad_request(g.error, "tools", "unsupported_schema");
        auto compiled = grammar::parse_gbnf(g.gbnf);
        if (!compiled) return bad_request(compiled.error().message, "tools", "unsupported_schema");
        use.grammar = std::make_shared<const grammar::Grammar>(std::move(*compiled));
    }
    return use;
}

}  // namespace rf::server
