// `tools` and `tool_choice` of a chat request: the tools the chat template is given, whether the
// output is read back for calls, and, for tool_choice "required" or a named function, the grammar
// that makes the output one call whose arguments follow the function's parameter schema.
//
//   tool_choice "auto" (the default with tools): the model may call; calls are parsed
//   tool_choice "none": the tools are not shown and nothing is parsed
//   tool_choice "required" / {"type":"function","function":{"name":...}}: one call, constrained
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/output_constraint.h"
#include "server/tool_calls.h"

namespace rf::server {

struct ToolUse {
    bool parse_calls = false;          // read calls back out of the output
    ToolFormat format = ToolFormat::Generic;
    std::vector<std::string> names;    // the functions offered
    nlohmann::ordered_json template_tools;  // null: the template sees no tools
    GrammarPtr grammar;                // set for "required" or a named function
};

// `text` is the body as sent (the tools' schemas keep their property order from it).
std::variant<ToolUse, ApiError> read_tools(const nlohmann::json& body, std::string_view text,
                                           std::string_view chat_template);

}  // namespace rf::server
