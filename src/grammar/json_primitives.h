// GBNF pieces for JSON values: literals, the value grammar, integer and number ranges and string
// formats. Every piece is an expression in the text form, ready to be a rule's body.
//
// Whitespace is bounded (one space, or one newline and up to 20 spaces or tabs, after `{`, `[`,
// `,` and `:`), and numbers to 16 digits before and after the point and 2 of exponent, so that a
// model cannot pad its output forever and every number a double can hold (a 3-digit exponent let
// 5123E754 through, which JSON parsers refuse or turn into infinity: found by fuzz_json_schema).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace rf::grammar {

// `text` as a GBNF string literal, quotes included.
std::string gbnf_literal(std::string_view text);

// Rules every JSON grammar may use: ws, value, object, array, string, char, number, integer,
// boolean, null (each "name ::= ..." on its own line).
std::string json_base_rules();
// A grammar whose root is any JSON object (response_format json_object).
std::string json_object_gbnf();

// Integers in [lo, hi], each written without leading zeros (and "0" never as "-0").
std::string integer_range(int64_t lo, int64_t hi);

struct NumberBounds {
    std::optional<double> minimum, maximum;
    bool exclusive_minimum = false, exclusive_maximum = false;
};
// Integers within the bounds; Error when there are none (or a bound is not finite).
Result<std::string> bounded_integer(const NumberBounds& bounds);
// Numbers within the bounds: integers, and decimals k.ddd where every such number lies inside
// (no exponent). Error when there are none.
Result<std::string> bounded_number(const NumberBounds& bounds);

// The contents (without quotes) of a string in `format`: date, time, date-time or uuid.
Result<std::string> string_format(std::string_view format);

}  // namespace rf::grammar
