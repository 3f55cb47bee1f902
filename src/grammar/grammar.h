// A compiled context-free grammar: every rule's alternatives laid out as element sequences in one
// flat array, each ended by an End element. Repetitions and groups of the text form have already
// become rules of their own, so an element is only ever a set of characters or a rule reference.
//
//   rule 3 ("value") alternative 0:  [Chars '{'] [Rule 4] [Chars '}'] [End]
//
// Built by parse_gbnf (gbnf_parser.h); matched by Matcher (matcher.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/char_set.h"

namespace rf::grammar {

struct Element {
    enum class Kind : uint8_t { End, Chars, Rule };
    Kind kind = Kind::End;
    uint32_t index = 0;  // Chars: into Grammar::char_sets; Rule: the rule id
};

struct Grammar {
    std::vector<Element> elements;
    std::vector<std::vector<uint32_t>> alternatives;  // per rule: where each alternative starts in `elements`
    std::vector<CharSet> char_sets;
    std::vector<std::string> rule_names;              // per rule; generated rules are named after their parent
    uint32_t root = 0;

    const CharSet& chars_at(uint32_t pos) const { return char_sets[elements[pos].index]; }
};

}  // namespace rf::grammar
