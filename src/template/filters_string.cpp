// Filters on scalars and strings: conversion, case, whitespace, JSON, numbers, defaults.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "template/builtins.h"
#include "template/json.h"
#include "template/text.h"

namespace rf::tmpl {

namespace {

// The signature of the reference's override: tojson(ensure_ascii=False, indent=None, separators=None,
// sort_keys=False), printing what Python's json.dumps prints for them.
Result<Value> tojson(const Value& subject, CallArgs& args) {
    JsonStyle style;
    if (const Value* ensure_ascii = args.get(0, "ensure_ascii")) style.ensure_ascii = ensure_ascii->truthy();
    const Value* indent = args.get(1, "indent");
    if (indent && !indent->is_none()) {
        if (!indent->is_int()) return make_error("tojson: indent must be an integer");
        style.indent = static_cast<int>(std::clamp<int64_t>(indent->as_int(), 0, 64));
        style.item_separator = std::string(1, ',');
    }
    if (const Value* separators = args.get(2, "separators"); separators && !separators->is_none()) {
        if (!separators->is_array() || separators->as_array().size() != 2 ||
            !separators->as_array()[0].is_string() || !separators->as_array()[1].is_string())
            return make_error("tojson: separators must be a pair of strings");
        style.item_separator = separators->as_array()[0].as_string();
        style.key_separator = separators->as_array()[1].as_string();
    }
    if (const Value* sort_keys = args.get(3, "sort_keys")) style.sort_keys = sort_keys->truthy();
    RF_ASSIGN_OR_RETURN(std::string json, value_to_json(subject, style));
    return Value(std::move(json));
}

std::string escape_html(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string indent(const std::string& s, const std::string& pad, bool first, bool blank) {
    std::vector<std::string> lines = text::splitlines(s + "\n");
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) {
            out += "\n";
            if (blank || !lines[i].empty()) out += pad;
        }
        out += lines[i];
    }
    return first ? pad + out : out;
}

// Decimal notation only: the C++ parsers would also accept hex floats, which Python does not.
bool looks_numeric(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
            return false;
    return true;
}

// Each word capitalized, where words are split only at whitespace, '-' and opening brackets.
std::string title_words(const std::string& s) {
    std::string out;
    bool at_word_start = true;
    for (const std::string& cp : text::code_points(s)) {
        bool separator = cp.size() == 1 && (std::isspace(static_cast<unsigned char>(cp[0])) || cp[0] == '-' ||
                                             cp[0] == '(' || cp[0] == '{' || cp[0] == '[' || cp[0] == '<');
        if (separator) out += cp;
        else out += at_word_start ? text::upper(cp) : text::lower(cp);
        at_word_start = separator;
    }
    return out;
}

Result<Value> to_int(const Value& subject, CallArgs& args) {
    RF_TRY(require_defined(subject));  // int(Undefined) raises in Jinja2; only TypeError/ValueError fall back
    const Value* fallback = args.get(0, "default");
    Value otherwise = fallback ? *fallback : Value(0);
    if (subject.is_number()) return Value(subject.as_int());
    if (!subject.is_string()) return otherwise;
    std::string s = text::strip(subject.as_string(), std::nullopt, text::Side::Both);
    if (!looks_numeric(s)) return otherwise;
    try {
        size_t used = 0;
        int64_t v = std::stoll(s, &used, 10);
        if (used == s.size()) return Value(v);
        double d = std::stod(s, &used);
        if (used == s.size() && std::isfinite(d)) return Value(static_cast<int64_t>(d));
    } catch (...) {
    }
    return otherwise;
}

Result<Value> to_float(const Value& subject, CallArgs& args) {
    RF_TRY(require_defined(subject));
    const Value* fallback = args.get(0, "default");
    Value otherwise = fallback ? *fallback : Value(0.0);
    if (subject.is_number()) return Value(subject.as_float());
    if (!subject.is_string()) return otherwise;
    std::string s = text::strip(subject.as_string(), std::nullopt, text::Side::Both);
    if (!looks_numeric(s)) return otherwise;
    try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size()) return Value(d);
    } catch (...) {
    }
    return otherwise;
}

Result<Value> round_number(const Value& subject, CallArgs& args) {
    RF_TRY(require_defined(subject));
    if (!subject.is_number()) return make_error("round: expected a number, got {}", subject.type_name());
    RF_ASSIGN_OR_RETURN(int64_t precision, int_arg(args, 0, "precision", 0));
    RF_ASSIGN_OR_RETURN(std::string method, string_arg(args, 1, "method", "common"));
    // Python's round(int, n) stays an int; only floor/ceil (and floats) give a float.
    if (!subject.is_float() && method == "common" && precision >= 0) return Value(subject.as_int());
    double scale = std::pow(10.0, static_cast<double>(precision));
    double v = subject.as_float() * scale;
    if (method == "common") v = std::nearbyint(v);  // Python rounds halves to even
    else if (method == "floor") v = std::floor(v);
    else if (method == "ceil") v = std::ceil(v);
    else return make_error("round: method must be common, ceil or floor");
    if (!subject.is_float() && method == "common") return Value(static_cast<int64_t>(std::llround(v / scale)));
    return Value(v / scale);
}

size_t word_count(const std::string& s) {
    size_t n = 0;
    bool in_word = false;
    for (unsigned char c : s) {
        bool word_char = std::isalnum(c) || c == '_' || c >= 0x80;
        if (word_char && !in_word) ++n;
        in_word = word_char;
    }
    return n;
}

// str.format-style "{}" / "{0}" substitution, as the `format` method and filter need.
Result<Value> python_format(const std::string& pattern, const CallArgs& args, Evaluator& evaluator) {
    std::string out;
    size_t next_auto = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '{' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
            out += '{';
            ++i;
        } else if (c == '}' && i + 1 < pattern.size() && pattern[i + 1] == '}') {
            out += '}';
            ++i;
        } else if (c == '{') {
            size_t close = pattern.find('}', i);
            if (close == std::string::npos) return make_error("format: single '{{' encountered");
            std::string field = pattern.substr(i + 1, close - i - 1);
            const Value* v = nullptr;
            if (field.empty()) {
                v = next_auto < args.positional.size() ? &args.positional[next_auto] : nullptr;
                ++next_auto;
            } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
                size_t index = std::stoul(field);
                v = index < args.positional.size() ? &args.positional[index] : nullptr;
            } else {
                v = args.kwarg(field);
            }
            if (!v) return make_error("format: no value for field '{}'", field);
            out += v->to_string();
            i = close;
        } else {
            out += c;
        }
        RF_TRY(evaluator.check_growing(out.size()));
    }
    RF_TRY(evaluator.check_size(out.size()));
    return Value(std::move(out));
}

}  // namespace

Result<Value> percent_format(const std::string& pattern, const Value& operand, Evaluator& evaluator) {
    Array values = operand.is_tuple() ? operand.as_array() : Array{operand};
    std::string out;
    size_t next = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '%') {
            out += pattern[i];
            continue;
        }
        if (++i >= pattern.size()) return make_error("incomplete format");
        char spec = pattern[i];
        if (spec == '%') {
            out += '%';
            continue;
        }
        if (next >= values.size()) return make_error("not enough arguments for format string");
        const Value& v = values[next++];
        if (spec == 's') out += v.to_string();
        else if (spec == 'r') out += v.repr();
        else if (spec == 'd' || spec == 'i') {
            if (!v.is_number()) return make_error("%{} format: a number is required, not {}", spec, v.type_name());
            out += std::to_string(v.as_int());
        } else if (spec == 'f') {
            if (!v.is_number()) return make_error("%f format: a number is required, not {}", v.type_name());
            out += fmt::format("{:.6f}", v.as_float());
        } else {
            return make_error("unsupported format character '{}'", spec);
        }
        RF_TRY(evaluator.check_growing(out.size()));
    }
    RF_TRY(evaluator.check_size(out.size()));
    if (next < values.size()) return make_error("not all arguments converted during string formatting");
    return Value(std::move(out));
}

Result<Value> format_string(const std::string& pattern, const CallArgs& args, Evaluator& evaluator) {
    return python_format(pattern, args, evaluator);
}

std::optional<Result<Value>> string_filter(const std::string& name, const Value& subject, CallArgs& args,
                                           Evaluator& evaluator) {
    auto str = [&]() { return subject.to_string(); };
    if (name == "tojson") return tojson(subject, args);
    if (name == "string") return Value(str());
    if (name == "safe") return Value(str());  // Markup(value): a string, '' for undefined
    if (name == "e" || name == "escape" || name == "forceescape") return Value(escape_html(str()));
    if (name == "upper") return Value(text::upper(str()));
    if (name == "lower") return Value(text::lower(str()));
    if (name == "capitalize") return Value(text::capitalize(str()));
    if (name == "title") return Value(title_words(str()));
    if (name == "trim") {
        const Value* chars = args.get(0, "chars");
        std::optional<std::string> set;
        if (chars && !chars->is_none()) set = chars->to_string();
        return Value(text::strip(str(), set, text::Side::Both));
    }
    if (name == "replace") {
        if (args.positional.size() < 2) return Result<Value>(make_error("replace needs two arguments"));
        auto count = int_arg(args, 2, "count", -1);
        if (!count.ok()) return Result<Value>(count.error());
        std::string out = text::replace(str(), args.positional[0].to_string(), args.positional[1].to_string(), *count);
        if (auto status = evaluator.check_size(out.size()); !status.ok()) return Result<Value>(status.error());
        return Value(std::move(out));
    }
    if (name == "indent") {
        // Jinja2 appends a newline to the subject first, which only a string survives.
        if (auto status = require_defined(subject); !status.ok()) return Result<Value>(status.error());
        if (!subject.is_string())
            return Result<Value>(make_error("indent: unsupported operand type(s) for +=: '{}' and 'str'", subject.type_name()));
        const Value* width = args.get(0, "width");
        std::string pad = width && width->is_string() ? width->as_string()
                                                      : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                                                        width ? width->as_int() : 4, 0, 256)),
                                                                    ' ');
        const Value* first = args.get(1, "first");
        const Value* blank = args.get(2, "blank");
        std::string out = indent(str(), pad, first && first->truthy(), blank && blank->truthy());
        if (auto status = evaluator.check_size(out.size()); !status.ok()) return Result<Value>(status.error());
        return Value(std::move(out));
    }
    if (name == "wordcount") return Value(static_cast<int64_t>(word_count(str())));
    if (name == "int") return to_int(subject, args);
    if (name == "float") return to_float(subject, args);
    if (name == "abs") {
        if (!subject.is_number()) return Result<Value>(make_error("abs: expected a number, got {}", subject.type_name()));
        if (subject.is_float()) return Value(std::fabs(subject.as_float()));
        if (subject.as_int() == INT64_MIN) return Result<Value>(make_error("integer overflow"));
        return Value(subject.as_int() < 0 ? -subject.as_int() : subject.as_int());
    }
    if (name == "round") return round_number(subject, args);
    if (name == "default" || name == "d") {
        const Value* fallback = args.get(0, "default_value");
        const Value* boolean = args.get(1, "boolean");
        bool use_fallback = subject.is_undefined() || (boolean && boolean->truthy() && !subject.truthy());
        if (!use_fallback) return subject;
        return fallback ? *fallback : Value(std::string());
    }
    if (name == "format") {
        // soft_str(value) % args: any value formats as its string ('' for undefined).
        if (!args.keyword.empty()) {
            Object named;
            for (const auto& [key, value] : args.keyword) named.set(key, value);
            return percent_format(str(), Value(std::move(named)), evaluator);
        }
        return percent_format(str(), Value::tuple(args.positional), evaluator);
    }
    return std::nullopt;
}

}  // namespace rf::tmpl
