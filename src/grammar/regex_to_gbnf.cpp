#include "grammar/regex_to_gbnf.h"

#include <cctype>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "core/utf8.h"
#include "grammar/char_set.h"
#include "grammar/json_primitives.h"
#include "tokenizer/utf8_codec.h"

namespace rf::grammar {

namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

constexpr int kMaxGroupDepth = 100;

// A set of characters as a GBNF class, less those JSON must escape (quote, backslash, control
// characters): a class stands for characters written as themselves.
Result<std::string> json_class(const Ranges& ranges, bool negated) {
    const CharSet set(ranges, negated);
    Ranges outside = CharSet(set.ranges(), true).ranges();
    outside.insert(outside.end(), {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}});
    const CharSet usable(outside, true);
    if (usable.empty()) return make_error("a class that admits no character JSON can hold unescaped");
    auto one = [](uint32_t cp) {
        if (cp >= 0x80) return fmt::format("\\U{:08x}", cp);
        if (!std::isalnum(static_cast<int>(cp))) return fmt::format("\\x{:02x}", cp);
        return std::string(1, static_cast<char>(cp));
    };
    std::string out = "[";
    for (const auto& [lo, hi] : usable.ranges()) out += lo == hi ? one(lo) : one(lo) + "-" + one(hi);
    return out + "]";
}

// \d \w \s and their negations (upper case) as ranges; nullopt for other letters.
std::optional<Ranges> shorthand(char e) {
    Ranges r;
    switch (e) {
        case 'd': case 'D': r = {{'0', '9'}}; break;
        case 'w': case 'W': r = {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}}; break;
        case 's': case 'S': r = {{' ', ' '}, {'\t', '\t'}, {'\n', '\n'}, {'\r', '\r'}, {'\f', '\f'}, {'\v', '\v'}}; break;
        default: return std::nullopt;
    }
    if (e >= 'A' && e <= 'Z') r = CharSet(r, true).ranges();
    return r;
}

class RegexParser {
public:
    explicit RegexParser(std::string_view p) : p_(p) {}

    Result<std::string> parse(std::string_view any_char) {
        const bool anchored_start = peek() == '^';
        if (anchored_start) ++pos_;
        RF_ASSIGN_OR_RETURN(std::string body, alternatives());
        bool anchored_end = false;
        if (peek() == '$') {
            ++pos_;
            anchored_end = true;
        }
        if (pos_ < p_.size()) return fail(p_[pos_] == ')' ? "an unmatched ')'" : "'^' or '$' inside the pattern");
        std::string out = "(" + body + ")";
        if (!anchored_start) out = fmt::format("{}* {}", any_char, out);
        if (!anchored_end) out = fmt::format("{} {}*", out, any_char);
        return out;
    }

private:
    char peek() const { return pos_ < p_.size() ? p_[pos_] : '\0'; }
    Error fail(std::string_view what) const {
        return make_error("pattern '{}': {} at offset {} is not supported", p_, what, pos_);
    }

    Result<std::string> alternatives() {
        std::string out;
        for (;;) {
            RF_ASSIGN_OR_RETURN(std::string seq, sequence());
            out += seq.empty() ? "\"\"" : seq;
            if (peek() != '|') break;
            ++pos_;
            out += " | ";
        }
        return out;
    }

    Result<std::string> sequence() {
        std::string out;
        while (pos_ < p_.size() && peek() != '|' && peek() != ')' && !(peek() == '$' && pos_ + 1 == p_.size())) {
            RF_ASSIGN_OR_RETURN(std::string item, atom());
            RF_ASSIGN_OR_RETURN(std::string repeated, quantifier(item));
            out += (out.empty() ? "" : " ") + repeated;
        }
        return out;
    }

    Result<std::string> quantifier(const std::string& item) {
        std::string q;
        const char c = peek();
        if (c == '*' || c == '+' || c == '?') {
            q = c;
            ++pos_;
        } else if (c == '{') {
            const size_t close = p_.find('}', pos_);
            if (close == std::string_view::npos) return fail("an unterminated '{'");
            const std::string_view inside = p_.substr(pos_ + 1, close - pos_ - 1);
            for (char d : inside)
                if (!(d >= '0' && d <= '9') && d != ',') return fail("a malformed repetition");
            q = "{" + std::string(inside) + "}";
            pos_ = close + 1;
        } else {
            return item;
        }
        if (peek() == '?') ++pos_;  // lazy: the same set of strings
        if (peek() == '*' || peek() == '+' || peek() == '{') return fail("a repeated quantifier");
        return "(" + item + ")" + q;
    }

    // One character of the pattern (escapes decoded) as a code point.
    Result<uint32_t> literal_char() {
        if (utf8_sequence_length(p_.substr(pos_)) == 0) return fail("invalid UTF-8");
        return tokenizer::next_code_point(p_, pos_);
    }

    // A literal character as the JSON text writes it inside a string.
    static std::string json_char(uint32_t cp) {
        switch (cp) {
            case '"': return gbnf_literal("\\\"");
            case '\\': return gbnf_literal("\\\\");
            case '\n': return gbnf_literal("\\n");
            case '\t': return gbnf_literal("\\t");
            case '\r': return gbnf_literal("\\r");
            default: break;
        }
        if (cp < 0x20) return gbnf_literal(fmt::format("\\u{:04x}", cp));
        std::string s;
        append_utf8(s, cp);
        return gbnf_literal(s);
    }

    Result<uint32_t> escaped_char() {
        const char e = peek();
        ++pos_;
        switch (e) {
            case 'n': return uint32_t{'\n'};
            case 't': return uint32_t{'\t'};
            case 'r': return uint32_t{'\r'};
            case 'b': case 'B': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
            case 'k': case 'p': case 'P':
                --pos_;
                return fail(fmt::format("'\\{}'", e));
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                    --pos_;
                    return fail(fmt::format("'\\{}'", e));
                }
                --pos_;
                return literal_char();  // an escaped punctuation character stands for itself
        }
    }

    Result<std::string> atom() {
        const char c = peek();
        if (c == '(') {
            if (++depth_ > kMaxGroupDepth) return fail("groups nested this deep");
            ++pos_;
            if (p_.substr(pos_, 2) == "?:") {
                pos_ += 2;
            } else if (peek() == '?') {
                return fail("a look-around or named group");
            }
            RF_ASSIGN_OR_RETURN(std::string inner, alternatives());
            if (peek() != ')') return fail("an unterminated group");
            ++pos_;
            --depth_;
            return "(" + inner + ")";
        }
        if (c == '[') return char_class();
        if (c == '.') {
            ++pos_;
            return json_class({{'\n', '\n'}}, true);
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') return fail("a quantifier with nothing to repeat");
        if (c == '^' || c == '$') return fail("an anchor inside the pattern");
        if (c == '\\') {
            ++pos_;
            if (auto ranges = shorthand(peek())) {
                ++pos_;
                return json_class(*ranges, false);
            }
            RF_ASSIGN_OR_RETURN(uint32_t cp, escaped_char());
            return json_char(cp);
        }
        RF_ASSIGN_OR_RETURN(uint32_t cp, literal_char());
        return json_char(cp);
    }

    Result<std::string> char_class() {
        ++pos_;  // '['
        const bool negated = peek() == '^';
        if (negated) ++pos_;
        Ranges ranges;
        // One member: a character (escapes decoded), or a shorthand's ranges (then `ranges` grew).
        auto member = [&]() -> Result<std::optional<uint32_t>> {
            auto as_member = [](Result<uint32_t> r) -> Result<std::optional<uint32_t>> {
                if (!r) return r.error();
                return std::optional<uint32_t>(*r);
            };
            if (peek() != '\\') return as_member(literal_char());
            ++pos_;
            if (auto s = shorthand(peek())) {
                ++pos_;
                ranges.insert(ranges.end(), s->begin(), s->end());
                return std::optional<uint32_t>();
            }
            return as_member(escaped_char());
        };
        bool first = true;
        while (pos_ < p_.size() && (peek() != ']' || first)) {
            first = false;
            RF_ASSIGN_OR_RETURN(std::optional<uint32_t> lo, member());
            if (!lo) continue;
            uint32_t hi = *lo;
            if (peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
                ++pos_;
                RF_ASSIGN_OR_RETURN(std::optional<uint32_t> end, member());
                if (!end) return fail("a range ending in a shorthand");
                if (*end < *lo) return fail("a range with its ends the wrong way round");
                hi = *end;
            }
            ranges.emplace_back(*lo, hi);
        }
        if (peek() != ']') return fail("an unterminated class");
        ++pos_;
        auto cls = json_class(ranges, negated);
        if (!cls) return fail(cls.error().message);
        return *cls;
    }

    std::string_view p_;
    size_t pos_ = 0;
    int depth_ = 0;  // groups open (they nest by recursion)
};

}  // namespace

Result<std::string> regex_to_gbnf(std::string_view pattern, std::string_view any_char) {
    return RegexParser(pattern).parse(any_char);
}

}  // namespace rf::grammar
