// Tool calls in a model's output, read back into OpenAI's shape. Model families write them
// differently; the chat template says which family a model belongs to:
//   Hermes / Qwen:  <tool_call>{"name": "f", "arguments": {...}}</tool_call>  (one block per call)
//   Llama 3.x:      {"name": "f", "parameters": {...}}  (optionally after <|python_tag|>; calls
//                   separated by ';')
//   Mistral:        [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]
//   generic:        the whole output a JSON object {"name", "arguments"} or a list of them, or
//                   {"tool_calls": [...]}
// Text that is not a call stays the message's content. Arguments come back as a JSON string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rf::server {

enum class ToolFormat { Hermes, Llama3, Mistral, Generic };

// The family a chat template writes tool calls in (Generic when it shows none of the markers).
ToolFormat tool_format_of(std::string_view chat_template);
std::string_view tool_format_name(ToolFormat format);

struct ToolCall {
    std::string name;
    std::string arguments;  // JSON text of an object
};

struct ParsedOutput {
    std::string content;  // what is left of the text once the calls are taken out
    std::vector<ToolCall> calls;
};

// Calls naming a tool not in `known` (when it is not empty) are left in the content.
ParsedOutput parse_tool_calls(std::string_view text, ToolFormat format, const std::vector<std::string>& known = {});

// The GBNF of an output that is exactly one call in `format` to one of `tools` (OpenAI tool
// objects), each call's arguments constrained by that function's parameter schema: what
// tool_choice "required" or a named function asks for. Empty `tools`: an Error.
struct ToolGrammar {
    std::string gbnf;
    std::string error;  // set instead when a schema cannot be converted
};
ToolGrammar tool_call_grammar(const nlohmann::ordered_json& tools, ToolFormat format);

}  // namespace rf::server
