// Python semantics of attribute/item access, slicing, iteration and the binary operators.
#include <algorithm>
#include <cmath>

#include "template/builtins.h"
#include "template/evaluator.h"
#include "template/text.h"

namespace rf::tmpl {

Result<Array> iterate(const Value& value) {
    switch (value.kind()) {
        case Value::Kind::Undefined: return Array{};  // iterating undefined visits nothing
        case Value::Kind::Array: return value.as_array();
        case Value::Kind::Object: {
            Array keys;
            for (const auto& entry : value.as_object().entries()) keys.push_back(value.as_object().key_value(entry.first));
            return keys;
        }
        case Value::Kind::String: {
            Array chars;
            for (std::string& cp : text::code_points(value.as_string())) chars.push_back(Value(std::move(cp)));
            return chars;
        }
        default: return make_error("'{}' object is not iterable", value.type_name());
    }
}

Result<Value> get_attribute(const Value& object, const std::string& name, Evaluator& evaluator) {
    RF_TRY(require_defined(object));
    if (object.is_object()) {
        if (!object.as_object().is_namespace) {
            if (auto method = bind_method(object, name, evaluator)) return *method;
        }
        if (const Value* found = object.as_object().find(name)) return *found;
        return Value::undefined("'" + object.type_name() + " object' has no attribute '" + name + "'");
    }
    if (auto method = bind_method(object, name, evaluator)) return *method;
    return Value::undefined("'" + object.type_name() + " object' has no attribute '" + name + "'");
}

static Result<size_t> normalize_index(int64_t index, size_t size) {
    int64_t n = static_cast<int64_t>(size);
    if (index < 0) index += n;
    if (index < 0 || index >= n) return make_error("index out of range");
    return static_cast<size_t>(index);
}

Result<Value> get_item(const Value& object, const Value& key, Evaluator& evaluator) {
    RF_TRY(require_defined(object));
    if (object.is_object()) {
        if (const Value* found = object.as_object().find_key(key)) return *found;
        if (key.is_string()) {
            if (auto method = bind_method(object, key.as_string(), evaluator)) return *method;
        }
        return Value::undefined("'" + object.type_name() + " object' has no attribute " + key.repr());
    }
    if (object.is_generator()) return make_error("'generator' object is not subscriptable");
    if ((object.is_array() || object.is_string()) && (key.is_int() || key.is_bool())) {
        if (object.is_array()) {
            auto index = normalize_index(key.as_int(), object.as_array().size());
            if (!index.ok()) return Value::undefined("list index out of range");
            return object.as_array()[*index];
        }
        auto cps = text::code_points(object.as_string());
        auto index = normalize_index(key.as_int(), cps.size());
        if (!index.ok()) return Value::undefined("string index out of range");
        return Value(cps[*index]);
    }
    if (key.is_string()) return get_attribute(object, key.as_string(), evaluator);
    return Value::undefined("'" + object.type_name() + " object' has no item " + key.repr());
}

Result<Value> slice_value(const Value& subject, const Value& start_v, const Value& stop_v, const Value& step_v,
                          Evaluator&) {
    RF_TRY(require_defined(subject));
    auto as_opt = [](const Value& v) -> Result<std::optional<int64_t>> {
        if (v.is_none() || v.is_undefined()) return std::optional<int64_t>();
        if (!v.is_int() && !v.is_bool()) return make_error("slice indices must be integers or None");
        return std::optional<int64_t>(v.as_int());
    };
    RF_ASSIGN_OR_RETURN(auto start_o, as_opt(start_v));
    RF_ASSIGN_OR_RETURN(auto stop_o, as_opt(stop_v));
    RF_ASSIGN_OR_RETURN(auto step_o, as_opt(step_v));
    int64_t step = step_o.value_or(1);
    if (step == 0) return make_error("slice step cannot be zero");

    Array items;
    std::vector<std::string> cps;
    if (subject.is_array()) items = subject.as_array();
    else if (subject.is_string()) cps = text::code_points(subject.as_string());
    else return make_error("'{}' object is not subscriptable", subject.type_name());
    const int64_t n = static_cast<int64_t>(subject.is_array() ? items.size() : cps.size());

    auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
        if (!v) return fallback;
        int64_t x = *v < 0 ? *v + n : *v;
        if (step > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t start = clamp(start_o, step > 0 ? 0 : n - 1);
    int64_t stop = clamp(stop_o, step > 0 ? n : -1);

    Array out_items;
    std::string out_text;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (subject.is_array()) out_items.push_back(items[static_cast<size_t>(i)]);
        else out_text += cps[static_cast<size_t>(i)];
    }
    if (subject.is_array()) return Value(std::move(out_items));
    return Value(std::move(out_text));
}

static Result<Value> arithmetic(const std::string& op, const Value& a, const Value& b) {
    if (a.is_float() || b.is_float() || op == "/") {
        double x = a.as_float(), y = b.as_float();
        if (op == "+") return Value(x + y);
        if (op == "-") return Value(x - y);
        if (op == "*") return Value(x * y);
        if (op == "**") return Value(std::pow(x, y));
        if (y == 0) return make_error("division by zero");
        if (op == "/") return Value(x / y);
        if (op == "//") return Value(std::floor(x / y));
        double m = std::fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
    }
    int64_t x = a.as_int(), y = b.as_int(), r = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(x, y, &r);
    else if (op == "-") overflow = __builtin_sub_overflow(x, y, &r);
    else if (op == "*") overflow = __builtin_mul_overflow(x, y, &r);
    else if (op == "**") {
        if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
        r = 1;
        for (int64_t i = 0; i < y && !overflow; ++i) {
            overflow = __builtin_mul_overflow(r, x, &r);
            if (r == 0 || r == 1) break;
            if (r == -1) {
                r = (y % 2 == 0) ? 1 : -1;
                break;
            }
        }
    } else {
        if (y == 0) return make_error("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow = true;
        else {
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                --q;
                m += y;
            }
            r = op == "//" ? q : m;
        }
    }
    if (overflow) return make_error("integer overflow in '{}'", op);
    return Value(r);
}

static Result<Value> repeat(const Value& seq, int64_t times, Evaluator& evaluator) {
    if (times <= 0) return seq.is_string() ? Value(std::string()) : Value(Array{});
    size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_array().size();
    if (unit == 0) return seq.is_string() ? Value(std::string()) : Value(Array{});
    if (unit != 0 && static_cast<uint64_t>(times) > evaluator.limits().max_output_bytes / unit + 1)
        return make_error("result too large");
    if (seq.is_string()) RF_TRY(evaluator.check_size(unit * static_cast<size_t>(times)));
    else RF_TRY(evaluator.check_items(unit * static_cast<size_t>(times)));
    if (seq.is_string()) {
        std::string out;
        for (int64_t i = 0; i < times; ++i) out += seq.as_string();
        return Value(std::move(out));
    }
    Array out;
    for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.as_array().begin(), seq.as_array().end());
    return Value(std::move(out));
}

static Result<bool> contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Value::Kind::Undefined: return false;
        case Value::Kind::String:
            if (!item.is_string())
                return make_error("'in <string>' requires string as left operand, not {}", item.type_name());
            return container.as_string().find(item.as_string()) != std::string::npos;
        case Value::Kind::Array:
            for (const Value& v : container.as_array())
                if (values_equal(v, item)) return true;
            return false;
        case Value::Kind::Object: return container.as_object().find_key(item) != nullptr;
        default: return make_error("argument of type '{}' is not iterable", container.type_name());
    }
}

Result<Value> binary_op(const std::string& op, const Value& a, const Value& b, Evaluator& evaluator) {
    if (op == "==") return Value(values_equal(a, b));
    if (op == "!=") return Value(!values_equal(a, b));
    if (op == "in" || op == "not in") {
        RF_ASSIGN_OR_RETURN(bool found, contains(b, a));
        return Value(found == (op == "in"));
    }
    if (op == "~") {
        std::string out = a.to_string() + b.to_string();
        RF_TRY(evaluator.check_size(out.size()));
        return Value(std::move(out));
    }
    // str % operand: Python's str.__mod__ formats an undefined operand as '' before Undefined can object.
    if (op == "%" && a.is_string()) return percent_format(a.as_string(), b, evaluator);
    RF_TRY(require_defined(a));
    RF_TRY(require_defined(b));
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
        RF_ASSIGN_OR_RETURN(int c, compare_values(a, b));
        if (op == "<") return Value(c < 0);
        if (op == "<=") return Value(c <= 0);
        if (op == ">") return Value(c > 0);
        return Value(c >= 0);
    }
    if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
    if (op == "+" && a.is_string() && b.is_string()) {
        RF_TRY(evaluator.check_size(a.as_string().size() + b.as_string().size()));
        return Value(a.as_string() + b.as_string());
    }
    if (op == "+" && a.is_array() && b.is_array()) {
        RF_TRY(evaluator.check_items(a.as_array().size() + b.as_array().size()));
        Array out = a.as_array();
        out.insert(out.end(), b.as_array().begin(), b.as_array().end());
        return Value(std::move(out));
    }
    if (op == "*" && (a.is_string() || a.is_array()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int(), evaluator);
    if (op == "*" && (b.is_string() || b.is_array()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int(), evaluator);
    if (op == "+" && a.is_string())
        return make_error("can only concatenate str (not \"{}\") to str", b.type_name());
    return make_error("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

}  // namespace rf::tmpl
