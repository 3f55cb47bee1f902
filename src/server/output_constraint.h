// The fields that constrain a request's output to a grammar: `response_format`
// ({"type":"text"}, {"type":"json_object"} or {"type":"json_schema","json_schema":{"schema":...}})
// and `grammar` (GBNF text, llama.cpp's field). Compiled here, once per request; every choice of
// the request shares the compiled grammar.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "server/api_error.h"

namespace rf::server {

// The value at `path` in the body as sent, its objects' keys in the order written; nothing when the
// text is not JSON or the path is not there (with duplicate keys the parsed body may disagree).
std::optional<nlohmann::ordered_json> ordered_field(std::string_view text, std::initializer_list<const char*> path);

// Null when the output is free text. `text` is the body as sent: a schema is read from it again in
// the order it lists its properties (which `body` has lost), since the output follows that order.
using GrammarPtr = std::shared_ptr<const grammar::Grammar>;
std::variant<GrammarPtr, ApiError> read_output_constraint(const nlohmann::json& body, std::string_view text);

}  // namespace rf::server
