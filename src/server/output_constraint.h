// The fields that constrain a request's output to a grammar: `response_format`
// ({"type":"text"}, {"type":"json_object"} or {"type":"json_schema","json_schema":{"schema":...}})
// and `grammar` (GBNF text, llama.cpp's field). Compiled here, once per request; every choice of
// the request shares the compiled grammar.
#pragma once

#include <memory>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "server/api_error.h"

namespace rf::server {

// Null when the output is free text. `text` is the body as sent: a schema is read from it again in
// the order it lists its properties (which `body` has lost), since the output follows that order.
using GrammarPtr = std::shared_ptr<const grammar::Grammar>;
std::variant<GrammarPtr, ApiError> read_output_constraint(const nlohmann::json& body, std::string_view text);

}  // namespace rf::server
