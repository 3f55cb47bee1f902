// Conversion between template values and JSON: loading chat messages/tools (key order kept) and the
// `tojson` filter, which must print exactly what Python's json.dumps(ensure_ascii=False) prints.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "template/value.h"

namespace rf::tmpl {

Value value_from_json(const nlohmann::ordered_json& json);

struct JsonStyle {
    std::optional<int> indent;           // pretty-print with this many spaces per level
    std::string item_separator = ", ";   // Python's defaults; "," when indenting
    std::string key_separator = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;           // escape non-ASCII characters as \uXXXX
};

// An Error for values JSON cannot hold (undefined, functions).
Result<std::string> value_to_json(const Value& value, const JsonStyle& style = {});

}  // namespace rf::tmpl
