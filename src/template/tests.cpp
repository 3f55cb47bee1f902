// Tests (`value is name(args)`), with the type checks matching Python's isinstance semantics.
#include "template/builtins.h"
#include "template/text.h"

namespace rf::tmpl {

namespace {

Result<const Value*> operand(const CallArgs& args, const std::string& test) {
    const Value* v = args.get(0, "other");
    if (!v) v = args.get(0, "value");
    if (!v) return make_error("test '{}' needs an argument", test);
    return v;
}

Result<bool> compare_test(const std::string& name, const Value& subject, const CallArgs& args, Evaluator& evaluator) {
    RF_ASSIGN_OR_RETURN(const Value* other, operand(args, name));
    static const std::pair<const char*, const char*> kOps[] = {
        {"equalto", "=="}, {"eq", "=="}, {"==", "=="}, {"ne", "!="}, {"!=", "!="}, {"lt", "<"},
        {"lessthan", "<"}, {"<", "<"}, {"le", "<="}, {"<=", "<="}, {"gt", ">"}, {"greaterthan", ">"},
        {">", ">"}, {"ge", ">="}, {">=", ">="}};
    for (const auto& [test, op] : kOps) {
        if (name == test) {
            RF_ASSIGN_OR_RETURN(Value result, binary_op(op, subject, *other, evaluator));
            return result.truthy();
        }
    }
    return make_error("no test named '{}'", name);
}

bool is_text_case(const std::string& s, bool want_upper) {
    bool any_cased = false;
    for (const std::string& cp : text::code_points(s)) {
        std::string up = text::upper(cp), low = text::lower(cp);
        if (up == low) continue;
        any_cased = true;
        if ((want_upper ? up : low) != cp) return false;
    }
    return any_cased;
}

}  // namespace

std::optional<Result<bool>> builtin_test(const std::string& name, const Value& subject, CallArgs& args,
                                         Evaluator& evaluator) {
    using K = Value::Kind;
    const K kind = subject.kind();
    if (name == "defined") return !subject.is_undefined();
    if (name == "undefined") return subject.is_undefined();
    if (name == "none") return subject.is_none();
    if (name == "string") return subject.is_string();
    if (name == "number") return kind == K::Int || kind == K::Float || kind == K::Bool;
    if (name == "integer") return kind == K::Int;
    if (name == "float") return kind == K::Float;
    if (name == "boolean") return kind == K::Bool;
    if (name == "true") return kind == K::Bool && subject.as_bool();
    if (name == "false") return kind == K::Bool && !subject.as_bool();
    if (name == "mapping") return kind == K::Object;
    if (name == "iterable") return kind == K::Array || kind == K::Object || kind == K::String || kind == K::Undefined;
    if (name == "sequence")
        return (kind == K::Array && !subject.is_generator()) || kind == K::Object || kind == K::String || kind == K::Undefined;
    if (name == "callable") return kind == K::Function || kind == K::Undefined;  // Undefined defines __call__
    if (name == "lower") return subject.is_string() && is_text_case(subject.as_string(), false);
    if (name == "upper") return subject.is_string() && is_text_case(subject.as_string(), true);
    if (name == "odd" || name == "even" || name == "divisibleby") {
        if (auto status = require_defined(subject); !status.ok()) return Result<bool>(status.error());
        if (!subject.is_int() && !subject.is_bool())
            return Result<bool>(make_error("test '{}' needs an integer, got {}", name, subject.type_name()));
        int64_t v = subject.as_int();
        if (name == "odd") return v % 2 != 0;
        if (name == "even") return v % 2 == 0;
        auto divisor = int_arg(args, 0, "num", 0);
        if (!divisor.ok()) return Result<bool>(divisor.error());
        if (*divisor == 0) return Result<bool>(make_error("divisibleby: division by zero"));
        return v % *divisor == 0;
    }
    if (name == "in") {
        auto other = operand(args, name);
        if (!other.ok()) return Result<bool>(other.error());
        auto result = binary_op("in", subject, **other, evaluator);
        if (!result.ok()) return Result<bool>(result.error());
        return result->truthy();
    }
    if (name == "sameas") {
        auto other = operand(args, name);
        if (!other.ok()) return Result<bool>(other.error());
        return subject.same_identity(**other);
    }
    if (name == "filter" || name == "test") {
        if (!subject.is_string()) return false;
        CallArgs none;
        if (name == "filter") {
            bool known = string_filter(subject.as_string(), Value(), none, evaluator).has_value() ||
                         sequence_filter(subject.as_string(), Value(), none, evaluator).has_value();
            return known;
        }
        return builtin_test(subject.as_string(), Value(), none, evaluator).has_value();
    }
    static const char* const kComparisons[] = {"equalto", "eq", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
                                               "gt", "greaterthan", ">", "ge", ">="};
    for (const char* c : kComparisons)
        if (name == c) return compare_test(name, subject, args, evaluator);
    return std::nullopt;
}

}  // namespace rf::tmpl
