#include "grammar/grammar_builder.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace rf::grammar {

uint32_t GrammarBuilder::rule(std::string_view name, std::string where) {
    auto it = by_name_.find(std::string(name));
    if (it != by_name_.end()) return it->second;
    const auto id = static_cast<uint32_t>(rules_.size());
    Rule r;
    r.name = std::string(name);
    r.first_use = std::move(where);
    rules_.push_back(std::move(r));
    by_name_.emplace(std::string(name), id);
    return id;
}

Status GrammarBuilder::define(uint32_t id, std::vector<Sequence> alternatives) {
    Rule& r = rules_[id];
    if (r.defined) return make_error("rule '{}' is defined twice", r.name);
    r.alternatives = std::move(alternatives);
    r.defined = true;
    return ok_status();
}

uint32_t GrammarBuilder::generated(uint32_t parent, std::vector<Sequence> alternatives) {
    // '-' followed by a number cannot clash with a user's name that also ends that way, because
    // the counter keeps going until the name is free.
    std::string name;
    do {
        name = fmt::format("{}-{}", rules_[parent].name, ++rules_[parent].generated_children);
    } while (by_name_.contains(name));
    const uint32_t id = rule(name);
    rules_[id].alternatives = std::move(alternatives);
    rules_[id].defined = true;
    return id;
}

Element GrammarBuilder::chars(CharSet set) {
    char_sets_.push_back(std::move(set));
    return {Element::Kind::Chars, static_cast<uint32_t>(char_sets_.size() - 1)};
}

Status GrammarBuilder::repeat(uint32_t parent, const Sequence& item, int64_t min, int64_t max, Sequence& out) {
    if (min < 0 || (max != kUnbounded && max < min))
        return make_error("repetition {{{},{}}} has its bounds the wrong way round", min, max);
    const int64_t copies = max == kUnbounded ? min + 1 : max;
    if (copies * static_cast<int64_t>(std::max<size_t>(item.size(), 1)) > kMaxRepetitionElements)
        return make_error("repetition up to {} times is too large (at most {} elements)", copies,
                          kMaxRepetitionElements);
    repeated_elements_ += copies * static_cast<int64_t>(std::max<size_t>(item.size(), 1));
    if (repeated_elements_ > kMaxGrammarElements)
        return make_error("the grammar's repetitions expand to more than {} elements", kMaxGrammarElements);
    for (int64_t i = 0; i < min; ++i) out.insert(out.end(), item.begin(), item.end());
    if (max == kUnbounded) {
        // more ::= item more | (empty): right recursion, which the matcher runs in constant stack.
        const uint32_t more = generated(parent, {});
        Sequence again = item;
        again.push_back({Element::Kind::Rule, more});
        rules_[more].alternatives = {again, {}};
        out.push_back({Element::Kind::Rule, more});
        return ok_status();
    }
    // Up to k more: opt_k ::= item opt_(k-1) | (empty), built from the innermost out.
    std::optional<uint32_t> inner;
    for (int64_t k = 1; k <= max - min; ++k) {
        Sequence once = item;
        if (inner) once.push_back({Element::Kind::Rule, *inner});
        inner = generated(parent, {once, {}});
    }
    if (inner) out.push_back({Element::Kind::Rule, *inner});
    return ok_status();
}

namespace {

// Rules that can match the empty string.
std::vector<bool> nullable_rules(const std::vector<std::vector<Sequence>>& rules) {
    std::vector<bool> nullable(rules.size(), false);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < rules.size(); ++r) {
            if (nullable[r]) continue;
            for (const Sequence& alt : rules[r]) {
                bool all = true;
                for (const Element& e : alt) all = all && e.kind == Element::Kind::Rule && nullable[e.index];
                if (all) {
                    nullable[r] = changed = true;
                    break;
                }
            }
        }
    }
    return nullable;
}

}  // namespace

Result<Grammar> GrammarBuilder::finish(std::string_view root) {
    for (const Rule& r : rules_)
        if (!r.defined)
            return make_error("rule '{}' is used{} but never defined", r.name,
                              r.first_use.empty() ? "" : " at " + r.first_use);
    auto root_it = by_name_.find(std::string(root));
    if (root_it == by_name_.end()) return make_error("the grammar has no '{}' rule", root);

    std::vector<std::vector<Sequence>> alts;
    for (const Rule& r : rules_) alts.push_back(r.alternatives);
    // Left recursion: a rule that reaches itself before any character is consumed would make the
    // matcher expand forever. Edges r -> s where s can come first in r; look for a cycle.
    const std::vector<bool> nullable = nullable_rules(alts);
    std::vector<std::vector<uint32_t>> first(alts.size());
    for (size_t r = 0; r < alts.size(); ++r)
        for (const Sequence& alt : alts[r])
            for (const Element& e : alt) {
                if (e.kind != Element::Kind::Rule) break;
                first[r].push_back(e.index);
                if (!nullable[e.index]) break;
            }
    enum Color : uint8_t { White, Grey, Black };
    std::vector<Color> color(alts.size(), White);
    std::vector<std::pair<uint32_t, size_t>> stack;  // rule, next edge
    for (uint32_t start = 0; start < alts.size(); ++start) {
        if (color[start] != White) continue;
        stack.push_back({start, 0});
        color[start] = Grey;
        while (!stack.empty()) {
            auto& [r, next] = stack.back();
            if (next == first[r].size()) {
                color[r] = Black;
                stack.pop_back();
                continue;
            }
            const uint32_t s = first[r][next++];
            if (color[s] == Grey)
                return make_error("rule '{}' can reach itself without consuming a character (left recursion, or a "
                                  "repetition of something that may be empty)",
                                  rules_[s].name);
            if (color[s] == White) {
                color[s] = Grey;
                stack.push_back({s, 0});
            }
        }
    }

    Grammar g;
    g.root = root_it->second;
    g.char_sets = char_sets_;
    for (size_t r = 0; r < rules_.size(); ++r) {
        g.rule_names.push_back(rules_[r].name);
        std::vector<uint32_t> starts;
        for (const Sequence& alt : alts[r]) {
            starts.push_back(static_cast<uint32_t>(g.elements.size()));
            g.elements.insert(g.elements.end(), alt.begin(), alt.end());
            g.elements.push_back({Element::Kind::End, 0});
        }
        g.alternatives.push_back(std::move(starts));
    }
    return g;
}

}  // namespace rf::grammar
