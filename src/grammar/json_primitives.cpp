#include "grammar/json_primitives.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace rf::grammar {

namespace {

// Integer bounds past this are out of reach of 16 digits anyway.
constexpr int64_t kMaxMagnitude = 9'999'999'999'999'999;

// Equal-length digit strings x <= y: every number between them, digit by digit.
std::string same_length_range(const std::string& x, const std::string& y) {
    if (x.size() == 1) return x == y ? gbnf_literal(x) : fmt::format("[{}-{}]", x, y);
    const std::string rest_x = x.substr(1), rest_y = y.substr(1);
    if (x[0] == y[0]) return fmt::format("{} ({})", gbnf_literal(x.substr(0, 1)), same_length_range(rest_x, rest_y));
    const std::string nines(rest_x.size(), '9'), zeros(rest_x.size(), '0');
    const std::string any_rest = fmt::format("[0-9]{{{}}}", rest_x.size());
    if (rest_x == zeros && rest_y == nines) return fmt::format("[{}-{}] {}", x[0], y[0], any_rest);
    std::string out = fmt::format("{} ({})", gbnf_literal(x.substr(0, 1)), same_length_range(rest_x, nines));
    if (y[0] - x[0] > 1) out += fmt::format(" | [{}-{}] {}", static_cast<char>(x[0] + 1), static_cast<char>(y[0] - 1), any_rest);
    out += fmt::format(" | {} ({})", gbnf_literal(y.substr(0, 1)), same_length_range(zeros, rest_y));
    return out;
}

// 0 <= a <= b.
std::string non_negative_range(uint64_t a, uint64_t b) {
    std::string out;
    uint64_t low = a;
    while (low <= b) {
        const std::string digits = std::to_string(low);
        uint64_t top = 9;  // the largest number with as many digits
        for (size_t i = 1; i < digits.size(); ++i) top = top * 10 + 9;
        const uint64_t high = std::min(b, top);
        if (!out.empty()) out += " | ";
        out += fmt::format("({})", same_length_range(digits, std::to_string(high)));
        if (high == b) break;
        low = high + 1;
    }
    return out;
}

}  // namespace

std::string gbnf_literal(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7F) {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_base_rules() {
    return R"(ws ::= (" " | "\n" [ \t]{0,20})?
value ::= object | array | string | number | boolean | null
object ::= "{" ws (string ":" ws value ("," ws string ":" ws value)*)? "}"
array ::= "[" ws (value ("," ws value)*)? "]"
string ::= "\"" char* "\""
char ::= [^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
integer ::= "-"? ("0" | [1-9] [0-9]{0,15})
number ::= integer ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?
boolean ::= "true" | "false"
null ::= "null"
)";
}

std::string json_object_gbnf() { return "root ::= object\n" + json_base_rules(); }

std::string integer_range(int64_t lo, int64_t hi) {
    std::string out;
    if (lo < 0) {  // -|x| for x in [lo, min(hi, -1)]
        const uint64_t a = static_cast<uint64_t>(-std::min<int64_t>(hi, -1)), b = static_cast<uint64_t>(-lo);
        out = "\"-\" (" + non_negative_range(a, b) + ")";
    }
    if (hi >= 0) {
        if (!out.empty()) out += " | ";
        out += non_negative_range(static_cast<uint64_t>(std::max<int64_t>(lo, 0)), static_cast<uint64_t>(hi));
    }
    return out;
}

namespace {

Result<std::pair<int64_t, int64_t>> integer_bounds(const NumberBounds& b) {
    for (auto v : {b.minimum, b.maximum})
        if (v && !std::isfinite(*v)) return make_error("a bound is not a finite number");
    auto clamp = [](double v) { return static_cast<int64_t>(std::clamp(v, -1e16, 1e16)); };
    int64_t lo = -kMaxMagnitude, hi = kMaxMagnitude;
    if (b.minimum) lo = std::max(lo, clamp(b.exclusive_minimum ? std::floor(*b.minimum) + 1 : std::ceil(*b.minimum)));
    if (b.maximum) hi = std::min(hi, clamp(b.exclusive_maximum ? std::ceil(*b.maximum) - 1 : std::floor(*b.maximum)));
    return std::pair{lo, hi};
}

}  // namespace

Result<std::string> bounded_integer(const NumberBounds& b) {
    RF_ASSIGN_OR_RETURN(auto bounds, integer_bounds(b));
    if (bounds.first > bounds.second) return make_error("no integer lies within the bounds");
    return integer_range(bounds.first, bounds.second);
}

Result<std::string> bounded_number(const NumberBounds& b) {
    RF_ASSIGN_OR_RETURN(auto bounds, integer_bounds(b));
    const auto [ilo, ihi] = bounds;
    std::vector<std::string> forms;
    if (ilo <= ihi) forms.push_back(fmt::format("({})", integer_range(ilo, ihi)));
    const std::string fraction = "\".\" [0-9]{1,6}";
    // k.ddd lies in [k, k+1): inside when k is within the lower bound (as an integer) and
    // k + 1 <= the upper one, i.e. k <= floor(maximum) - 1.
    const int64_t pos_lo = std::max<int64_t>(0, ilo);
    const int64_t pos_top =
        b.maximum ? static_cast<int64_t>(std::clamp(std::floor(*b.maximum), -1e16, 1e16)) - 1 : kMaxMagnitude;
    if (pos_lo <= pos_top) forms.push_back(fmt::format("({}) {}", integer_range(pos_lo, pos_top), fraction));
    // -k.ddd lies in (-(k+1), -k]: inside when -(k+1) >= the lower bound and -k is within the upper.
    const int64_t neg_top = b.minimum ? static_cast<int64_t>(std::clamp(std::floor(-*b.minimum), -1e16, 1e16)) - 1 : kMaxMagnitude;
    int64_t neg_lo = 0;
    if (b.maximum) {
        const double m = *b.maximum;
        neg_lo = static_cast<int64_t>(std::clamp(b.exclusive_maximum ? std::floor(-m) + 1 : std::ceil(-m), -1e16, 1e16));
        neg_lo = std::max<int64_t>(neg_lo, 0);
    }
    if (neg_lo <= neg_top) forms.push_back("\"-\" (" + integer_range(neg_lo, neg_top) + ") " + fraction);
    if (forms.empty()) return make_error("no number lies within the bounds");
    std::string out;
    for (const std::string& f : forms) out += (out.empty() ? "" : " | ") + f;
    return out;
}

Result<std::string> string_format(std::string_view format) {
    const std::string date = R"([0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]))";
    const std::string time =
        R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))";
    if (format == "date") return date;
    if (format == "time") return time;
    if (format == "date-time") return date + " \"T\" " + time;
    if (format == "uuid")
        return std::string(R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})");
    return make_error("string format '{}' is not supported (date, time, date-time, uuid)", format);
}

}  // namespace rf::grammar
