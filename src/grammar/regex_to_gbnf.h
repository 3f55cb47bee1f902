// JSON Schema `pattern` (a regular expression over the decoded string) as a GBNF expression over
// the JSON text between the quotes. The common subset: literals, `.`, classes [a-z] [^...] with
// \d \w \s (and \D \W \S), groups (...) and (?:...), alternation, the quantifiers * + ? {m}
// {m,} {m,n} (a lazy `?` after one changes nothing here), and ^ $ at the ends. A pattern is
// not anchored unless it says so: without ^ any text may come before, without $ any text after.
// Characters JSON must escape (quote, backslash, control characters) are produced only where the
// pattern names them as literals; classes and `.` leave them out.
// Back-references, look-arounds, \b and the like are errors naming the feature.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace rf::grammar {

// `any_char` names the rule for one JSON string character (used for the unanchored ends).
Result<std::string> regex_to_gbnf(std::string_view pattern, std::string_view any_char);

}  // namespace rf::grammar
