// The GBNF text form of grammars (as llama.cpp writes them), parsed into a Grammar:
//
//   root   ::= "{" ws pair ("," ws pair)* "}"   # a comment
//   pair   ::= [a-z]+ ":" ws [0-9]{1,3}
//   ws     ::= [ \t\n]*
//
// Rules are `name ::= alternatives`; alternatives are separated by `|` and may continue on the
// next line after `::=`, after `|`, inside parentheses or when the next line starts with `|`.
// Items: "literals" and [character classes] (negated with ^, ranges a-z) with the escapes \n \r
// \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH; `.` for any character; rule names; ( groups );
// and the repetitions * + ? {m} {m,} {m,n} {,n}. Errors give the line and column.
#pragma once

#include <string_view>

#include "core/result.h"
#include "grammar/grammar.h"

namespace rf::grammar {

// `root` names the rule that the whole output must match.
Result<Grammar> parse_gbnf(std::string_view text, std::string_view root = "root");

}  // namespace rf::grammar
