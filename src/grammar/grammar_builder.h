// Assembles a Grammar rule by rule: rules may be referenced before they are defined, repetitions
// become generated rules, and finish() checks that the result can be matched (every referenced
// rule defined, no rule that can reach itself without consuming a character).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "grammar/grammar.h"

namespace rf::grammar {

using Sequence = std::vector<Element>;  // one alternative, without its End
inline constexpr int64_t kUnbounded = -1;
// Most elements a bounded repetition may expand to ({m,n} copies its item up to n times).
inline constexpr int64_t kMaxRepetitionElements = 100000;
// Most elements a whole grammar may have (a request's grammar must not take the server's memory).
inline constexpr int64_t kMaxGrammarElements = 1000000;

class GrammarBuilder {
public:
    // The id of the rule named `name`, created (undefined) on first mention; `where` describes the
    // mention for the error when it is never defined.
    uint32_t rule(std::string_view name, std::string where = {});
    Status define(uint32_t rule, std::vector<Sequence> alternatives);
    // A rule of its own for a group or a repetition, named after the rule it appears in.
    uint32_t generated(uint32_t parent, std::vector<Sequence> alternatives);
    Element chars(CharSet set);
    // `item` repeated min..max times (max kUnbounded: no limit), appended to `out`.
    Status repeat(uint32_t parent, const Sequence& item, int64_t min, int64_t max, Sequence& out);

    Result<Grammar> finish(std::string_view root);

private:
    struct Rule {
        std::string name;
        std::vector<Sequence> alternatives;
        bool defined = false;
        std::string first_use;
        int generated_children = 0;
    };
    std::vector<Rule> rules_;
    std::unordered_map<std::string, uint32_t> by_name_;
    std::vector<CharSet> char_sets_;
    int64_t repeated_elements_ = 0;  // added by repetitions so far
};

}  // namespace rf::grammar
