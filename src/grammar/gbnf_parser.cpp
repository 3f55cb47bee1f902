#include "grammar/gbnf_parser.h"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "core/utf8.h"
#include "grammar/grammar_builder.h"
#include "tokenizer/utf8_codec.h"

namespace rf::grammar {

namespace {

constexpr int kMaxNesting = 200;

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {
        for (size_t i = 0; i < text.size(); ++i)
            if (text[i] == '\n') line_starts_.push_back(i + 1);
    }

    Result<Grammar> parse(std::string_view root) {
        skip_space(true);
        while (!at_end()) {
            RF_TRY(parse_rule());
            skip_space(true);
        }
        auto g = builder_.finish(root);
        if (!g) return make_error("grammar: {}", g.error().message);
        return g;
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

    // "line L, column C" (columns count characters) of byte offset `at`.
    std::string where(size_t at) const {
        const auto line = std::upper_bound(line_starts_.begin(), line_starts_.end(), at) - line_starts_.begin();
        size_t col = 1;
        for (size_t i = line_starts_[static_cast<size_t>(line - 1)]; i < at && i < text_.size(); ++i)
            col += (static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80;
        return fmt::format("line {}, column {}", line, col);
    }
    Error error_at(size_t at, std::string_view what) const {
        return make_error("grammar: {} at {}", what, where(at));
    }
    Error error(std::string_view what) const { return error_at(pos_, what); }

    // Spaces and comments; newlines too when `newlines` (inside groups, after ::= and |).
    void skip_space(bool newlines) {
        while (!at_end()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
                ++pos_;
            } else if (c == '#') {
                while (!at_end() && peek() != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    std::string_view name() {
        const size_t start = pos_;
        while (!at_end() && is_name_char(peek())) ++pos_;
        return text_.substr(start, pos_ - start);
    }

    Status parse_rule() {
        const size_t start = pos_;
        const std::string_view n = name();
        if (n.empty()) return error("expected a rule name");
        skip_space(false);
        if (text_.substr(pos_, 3) != "::=") return error(fmt::format("expected '::=' after rule name '{}'", n));
        pos_ += 3;
        const uint32_t id = builder_.rule(n);
        auto alts = parse_alternatives(id, false);
        if (!alts) return alts.error();
        if (!at_end() && peek() != '\n' && !at_next_rule_) return error("expected the end of the line after the rule");
        at_next_rule_ = false;
        if (auto defined = builder_.define(id, std::move(*alts)); !defined) return error_at(start, defined.error().message);
        return ok_status();
    }

    // A continuation line starting with '|' (after spaces) belongs to the current rule.
    bool next_line_continues() const {
        size_t p = pos_;
        if (p >= text_.size() || text_[p] != '\n') return false;
        ++p;
        while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\r')) ++p;
        return p < text_.size() && text_[p] == '|';
    }

    Result<std::vector<Sequence>> parse_alternatives(uint32_t rule, bool nested) {
        // Groups nest by recursion here; a limit keeps hostile text from exhausting the stack.
        if (nested && ++depth_ > kMaxNesting) return error(fmt::format("groups nested more than {} deep", kMaxNesting));
        struct Leave {
            int& depth;
            bool nested;
            ~Leave() { depth -= nested ? 1 : 0; }
        } leave{depth_, nested};
        std::vector<Sequence> alts;
        skip_space(true);
        for (;;) {
            auto seq = parse_sequence(rule, nested);
            if (!seq) return seq.error();
            alts.push_back(std::move(*seq));
            if (!nested && next_line_continues()) skip_space(true);
            if (peek() != '|') break;
            ++pos_;
            skip_space(true);
        }
        return alts;
    }

    Result<Sequence> parse_sequence(uint32_t rule, bool nested) {
        Sequence seq;
        size_t last_item = 0;  // where the latest item starts in `seq`, for a repetition
        bool have_item = false;
        for (;;) {
            skip_space(nested);
            if (at_end()) break;
            const char c = peek();
            const size_t item_pos = pos_;
            if (c == '"') {
                last_item = seq.size();
                RF_TRY(parse_literal(seq));
                have_item = true;
            } else if (c == '[') {
                last_item = seq.size();
                auto set = parse_class();
                if (!set) return set.error();
                seq.push_back(builder_.chars(std::move(*set)));
                have_item = true;
            } else if (c == '.') {
                ++pos_;
                last_item = seq.size();
                seq.push_back(builder_.chars(CharSet::any()));
                have_item = true;
            } else if (c == '(') {
                ++pos_;
                auto alts = parse_alternatives(rule, true);
                if (!alts) return alts.error();
                skip_space(true);
                if (peek() != ')') return error("expected ')'");
                ++pos_;
                last_item = seq.size();
                seq.push_back({Element::Kind::Rule, builder_.generated(rule, std::move(*alts))});
                have_item = true;
            } else if (is_name_char(c)) {
                // A name followed by ::= starts the next rule (possible only where newlines are skipped).
                const size_t save = pos_;
                const std::string_view n = name();
                size_t after = pos_;
                while (after < text_.size() && (text_[after] == ' ' || text_[after] == '\t')) ++after;
                if (text_.substr(after, 3) == "::=") {
                    if (!nested) {
                        pos_ = save;
                        at_next_rule_ = true;  // after a '|' that let the rule run on to the next line
                        break;
                    }
                    return error_at(save, "expected ')' before the next rule");
                }
                last_item = seq.size();
                seq.push_back({Element::Kind::Rule, builder_.rule(n, where(save))});
                have_item = true;
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (!have_item) return error(fmt::format("'{}' has nothing to repeat", c));
                int64_t min = 0, max = kUnbounded;
                if (c == '{') {
                    auto bounds = parse_braces();
                    if (!bounds) return bounds.error();
                    std::tie(min, max) = *bounds;
                } else {
                    ++pos_;
                    min = c == '+' ? 1 : 0;
                    max = c == '?' ? 1 : kUnbounded;
                }
                const Sequence item(seq.begin() + static_cast<std::ptrdiff_t>(last_item), seq.end());
                seq.resize(last_item);
                if (auto st = builder_.repeat(rule, item, min, max, seq); !st) return error_at(item_pos, st.error().message);
                have_item = false;  // "a**" is an error, as in the text form's other readers
            } else if (c == '<') {
                return error("token references (<...>) are not supported");
            } else {
                break;
            }
        }
        return seq;
    }

    Result<std::pair<int64_t, int64_t>> parse_braces() {
        ++pos_;  // '{'
        auto number = [&]() -> std::optional<int64_t> {
            skip_space(false);
            if (!(peek() >= '0' && peek() <= '9')) return std::nullopt;
            int64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {  // saturates: the builder refuses what is too large
                v = std::min<int64_t>(v * 10 + (peek() - '0'), kMaxRepetitionElements + 1);
                ++pos_;
            }
            return v;
        };
        const std::optional<int64_t> lo = number();
        skip_space(false);
        int64_t min = lo.value_or(0), max = min;
        if (peek() == ',') {
            ++pos_;
            max = number().value_or(kUnbounded);
            skip_space(false);
        } else if (!lo) {
            return error("expected a number in '{...}'");
        }
        if (peek() != '}') return error("expected '}'");
        ++pos_;
        return std::pair{min, max};
    }

    // One character of a literal or class, escapes decoded; `end` is the closing delimiter.
    Result<uint32_t> parse_char() {
        if (at_end()) return error("unexpected end of the grammar");
        if (peek() == '\\') {
            const size_t at = pos_;
            ++pos_;
            const char e = peek();
            ++pos_;
            auto hex = [&](int digits) -> Result<uint32_t> {
                uint32_t v = 0;
                for (int i = 0; i < digits; ++i) {
                    const char h = peek();
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) return error(fmt::format("expected {} hexadecimal digits", digits));
                    v = v * 16 + static_cast<uint32_t>(d);
                    ++pos_;
                }
                if (v > kMaxCodePoint) return error_at(at, "escape beyond U+10FFFF");
                return v;
            };
            switch (e) {
                case 'n': return uint32_t{'\n'};
                case 'r': return uint32_t{'\r'};
                case 't': return uint32_t{'\t'};
                case '0': return uint32_t{0};
                case '\\': case '"': case '[': case ']': case '-': case '^': case '/': return static_cast<uint32_t>(e);
                case 'x': return hex(2);
                case 'u': return hex(4);
                case 'U': return hex(8);
                default: return error_at(at, fmt::format("unknown escape '\\{}'", e));
            }
        }
        if (utf8_sequence_length(text_.substr(pos_)) == 0) return error("the grammar is not valid UTF-8");
        return tokenizer::next_code_point(text_, pos_);
    }

    Status parse_literal(Sequence& seq) {
        const size_t start = pos_;
        ++pos_;  // '"'
        while (peek() != '"') {
            if (at_end() || peek() == '\n') return error_at(start, "unterminated string literal");
            auto cp = parse_char();
            if (!cp) return cp.error();
            seq.push_back(builder_.chars(CharSet::single(*cp)));
        }
        ++pos_;
        return ok_status();
    }

    Result<CharSet> parse_class() {
        const size_t start = pos_;
        ++pos_;  // '['
        const bool negate = peek() == '^';
        if (negate) ++pos_;
        std::vector<std::pair<uint32_t, uint32_t>> ranges;
        while (peek() != ']') {
            if (at_end() || peek() == '\n') return error_at(start, "unterminated character class");
            auto lo = parse_char();
            if (!lo) return lo.error();
            uint32_t hi = *lo;
            if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
                ++pos_;
                auto h = parse_char();
                if (!h) return h.error();
                if (*h < *lo) return error("character range with its ends the wrong way round");
                hi = *h;
            }
            ranges.emplace_back(*lo, hi);
        }
        ++pos_;
        return CharSet(std::move(ranges), negate);
    }

    std::string_view text_;
    std::vector<size_t> line_starts_ = {0};  // byte offset of each line's start
    size_t pos_ = 0;
    bool at_next_rule_ = false;
    int depth_ = 0;  // groups open
    GrammarBuilder builder_;
};

}  // namespace

Result<Grammar> parse_gbnf(std::string_view text, std::string_view root) { return Parser(text).parse(root); }

}  // namespace rf::grammar
