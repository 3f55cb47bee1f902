#include "template/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace rf::tmpl {

const Value* Object::find(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Value* Object::find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Object::set(const std::string& key, Value value) {
    if (Value* existing = find(key)) {
        *existing = std::move(value);
        return;
    }
    index_.emplace(key, entries_.size());
    entries_.emplace_back(key, std::move(value));
}

bool Object::erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
    index_.clear();
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
    return true;
}

std::string Object::encode_key(const Value& key) {
    if (key.is_string()) return key.as_string();
    if (key.is_bool() || key.is_int()) return "\x01" + std::to_string(key.as_int());
    if (key.is_float()) {
        double d = key.as_float();
        if (d == std::floor(d) && std::fabs(d) < 9e18) return "\x01" + std::to_string(static_cast<int64_t>(d));
        return "\x01" + format_float(d);
    }
    return "\x01" + key.repr();
}

const Value* Object::find_key(const Value& key) const { return find(encode_key(key)); }

void Object::set_key(const Value& key, Value value) {
    std::string stored = encode_key(key);
    if (!key.is_string() && !find(stored)) non_string_keys_.emplace_back(stored, key);
    set(stored, std::move(value));
}

Value Object::key_value(const std::string& stored_key) const {
    if (stored_key.empty() || stored_key[0] != '\x01') return Value(stored_key);
    for (const auto& [stored, key] : non_string_keys_)
        if (stored == stored_key) return key;
    return Value(stored_key);
}

const Value* CallArgs::kwarg(const std::string& name) const {
    for (const auto& [key, value] : keyword)
        if (key == name) return &value;
    return nullptr;
}

const Value* CallArgs::get(size_t index, const std::string& name) const {
    if (index < positional.size()) return &positional[index];
    return kwarg(name);
}

namespace {
constexpr int kMaxNesting = 200;
}

Value Value::undefined(std::string hint) {
    Value v;
    if (!hint.empty()) v.str_ = std::make_shared<std::string>(std::move(hint));
    return v;
}

const std::string& Value::hint() const {
    static const std::string empty;
    if (kind_ == Kind::String || !str_) return empty;
    return *str_;
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}

Value Value::function(Function f, std::string name) {
    Value v;
    v.kind_ = Kind::Function;
    v.ptr_ = std::make_shared<Function>(std::move(f));
    v.str_ = std::make_shared<std::string>(std::move(name));
    return v;
}

Value Value::generator(Array items) {
    Value v(std::move(items));
    v.generator_ = true;
    return v;
}

Value Value::tuple(Array items) {
    Value v(std::move(items));
    v.tuple_ = true;
    return v;
}

bool Value::truthy() const {
    if (generator_) return true;
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool:
        case Kind::Int: return int_ != 0;
        case Kind::Float: return float_ != 0.0;
        case Kind::String: return !str_->empty();
        case Kind::Array: return !as_array().empty();
        case Kind::Object: return as_object().size() != 0;
        case Kind::Function: return true;
    }
    return false;
}

std::string format_float(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
    // Shortest round-trip digits, laid out the way Python's float repr does.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool negative = sci[0] == '-';
    if (negative) sci.erase(0, 1);
    size_t e = sci.find('e');
    int exponent = std::stoi(sci.substr(e + 1));
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits += c;
    std::string out;
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
        } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
            out = digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, static_cast<size_t>(exponent) + 1) + "." +
                  digits.substr(static_cast<size_t>(exponent) + 1);
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char exp_buf[16];
        std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += exp_buf;
    }
    return negative ? "-" + out : out;
}

static std::string repr_string(const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (unsigned char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c == static_cast<unsigned char>(quote)) {
                    out += '\\';
                    out += static_cast<char>(c);
                } else if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += quote;
    return out;
}

std::string Value::to_string() const {
    switch (kind_) {
        case Kind::Undefined: return "";
        case Kind::None: return "None";
        case Kind::Bool: return int_ ? "True" : "False";
        case Kind::Int: return std::to_string(int_);
        case Kind::Float: return format_float(float_);
        case Kind::String: return *str_;
        default: return repr();
    }
}

std::string Value::repr(int depth) const {
    if (generator_) return "<generator object>";
    switch (kind_) {
        case Kind::Undefined: return "Undefined";  // repr(jinja2.Undefined()), e.g. inside a printed list
        case Kind::String: return repr_string(*str_);
        case Kind::Array: {
            if (depth > kMaxNesting) return "[...]";
            const Array& items = as_array();
            std::string out = tuple_ ? "(" : "[";
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += ", ";
                out += items[i].repr(depth + 1);
            }
            if (tuple_) return out + (items.size() == 1 ? ",)" : ")");
            return out + "]";
        }
        case Kind::Object: {
            if (depth > kMaxNesting) return "{...}";
            std::string out = "{";
            bool first = true;
            for (const auto& [key, value] : as_object().entries()) {
                if (!first) out += ", ";
                first = false;
                out += as_object().key_value(key).repr(depth + 1) + ": " + value.repr(depth + 1);
            }
            return out + "}";
        }
        case Kind::Function: return "<function " + hint() + ">";
        default: return to_string();
    }
}

std::string Value::type_name() const {
    if (generator_) return "generator";
    switch (kind_) {
        case Kind::Undefined: return "Undefined";
        case Kind::None: return "NoneType";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "str";
        case Kind::Array: return tuple_ ? "tuple" : "list";
        case Kind::Object: return as_object().is_namespace ? "Namespace" : "dict";
        case Kind::Function: return "function";
    }
    return "object";
}

bool Value::same_identity(const Value& other) const {
    if (kind_ != other.kind_) return false;
    switch (kind_) {
        case Kind::Array:
        case Kind::Object:
        case Kind::Function: return ptr_ == other.ptr_;
        default: return values_equal(*this, other);
    }
}

static bool reaches(const Value& value, const void* target, size_t& budget, int depth) {
    if (!value.is_array() && !value.is_object()) return false;
    if (value.identity() == target || budget == 0 || depth > kMaxNesting) return true;
    --budget;
    if (value.is_array()) {
        for (const Value& item : value.as_array())
            if (reaches(item, target, budget, depth + 1)) return true;
    } else {
        for (const auto& entry : value.as_object().entries())
            if (reaches(entry.second, target, budget, depth + 1)) return true;
    }
    return false;
}

bool would_contain(const Value& value, const void* target) {
    size_t budget = 100000;  // containers visited
    return reaches(value, target, budget, 0);
}

bool values_equal(const Value& a, const Value& b, int depth) {
    if (depth > kMaxNesting) return false;
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Value::Kind::Undefined:
        case Value::Kind::None: return true;
        case Value::Kind::String: return a.as_string() == b.as_string();
        case Value::Kind::Array: {
            const Array& x = a.as_array();
            const Array& y = b.as_array();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (!values_equal(x[i], y[i], depth + 1)) return false;
            return true;
        }
        case Value::Kind::Object: {
            const Object& x = a.as_object();
            const Object& y = b.as_object();
            if (x.size() != y.size()) return false;
            for (const auto& [key, value] : x.entries()) {
                const Value* other = y.find(key);
                if (!other || !values_equal(value, *other, depth + 1)) return false;
            }
            return true;
        }
        case Value::Kind::Function: return a.same_identity(b);
        default: return false;
    }
}

Result<int> compare_values(const Value& a, const Value& b, int depth) {
    if (depth > kMaxNesting) return make_error("comparison nested too deeply");
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            double x = a.as_float(), y = b.as_float();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        int c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code point order
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_array() && b.is_array()) {
        const Array& x = a.as_array();
        const Array& y = b.as_array();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            RF_ASSIGN_OR_RETURN(int c, compare_values(x[i], y[i], depth + 1));
            if (c != 0) return c;
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    return make_error("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name());
}

}  // namespace rf::tmpl
