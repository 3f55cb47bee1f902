#include "gguf/value.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace rf::gguf {

std::string_view value_type_name(ValueType type) {
    switch (type) {
        case ValueType::UINT8: return "u8";
        case ValueType::INT8: return "i8";
        case ValueType::UINT16: return "u16";
        case ValueType::INT16: return "i16";
        case ValueType::UINT32: return "u32";
        case ValueType::INT32: return "i32";
        case ValueType::FLOAT32: return "f32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::UINT64: return "u64";
        case ValueType::INT64: return "i64";
        case ValueType::FLOAT64: return "f64";
    }
    return "unknown";
}

bool is_valid_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(ValueType::FLOAT64); }

Value Value::array(ValueType element_type, std::vector<Value> items) {
    Value v(ValueType::ARRAY, std::move(items));
    v.element_type_ = element_type;
    return v;
}

Value Value::string_array(const std::vector<std::string>& items) {
    std::vector<Value> values;
    values.reserve(items.size());
    for (const auto& s : items) values.push_back(string(s));
    return array(ValueType::STRING, std::move(values));
}

Value Value::f32_array(const std::vector<float>& items) {
    std::vector<Value> values;
    values.reserve(items.size());
    for (float f : items) values.push_back(f32(f));
    return array(ValueType::FLOAT32, std::move(values));
}

Value Value::i32_array(const std::vector<int32_t>& items) {
    std::vector<Value> values;
    values.reserve(items.size());
    for (int32_t i : items) values.push_back(i32(i));
    return array(ValueType::INT32, std::move(values));
}

bool Value::is_integer() const {
    return std::holds_alternative<uint64_t>(data_) || std::holds_alternative<int64_t>(data_);
}

std::optional<uint64_t> Value::as_uint() const {
    if (auto u = std::get_if<uint64_t>(&data_)) return *u;
    if (auto i = std::get_if<int64_t>(&data_); i && *i >= 0) return static_cast<uint64_t>(*i);
    return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
    if (auto i = std::get_if<int64_t>(&data_)) return *i;
    if (auto u = std::get_if<uint64_t>(&data_); u && *u <= uint64_t(std::numeric_limits<int64_t>::max()))
        return static_cast<int64_t>(*u);
    return std::nullopt;
}

std::optional<double> Value::as_float() const {
    if (auto d = std::get_if<double>(&data_)) return *d;
    if (auto u = std::get_if<uint64_t>(&data_)) return static_cast<double>(*u);
    if (auto i = std::get_if<int64_t>(&data_)) return static_cast<double>(*i);
    return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
    if (auto b = std::get_if<bool>(&data_)) return *b;
    return std::nullopt;
}

std::string Value::to_display_string(size_t max_items) const {
    if (auto s = as_string()) {
        std::string shown = s->size() > 60 ? s->substr(0, 57) + "..." : *s;
        return fmt::format("\"{}\"", shown);
    }
    if (auto items = as_array()) {
        std::string out = fmt::format("[{} x {}]", items->size(), value_type_name(element_type_));
        if (items->empty()) return out;
        out += " ";
        for (size_t i = 0; i < items->size() && i < max_items; ++i) {
            out += (i ? ", " : "") + (*items)[i].to_display_string(max_items);
        }
        if (items->size() > max_items) out += ", ...";
        return out;
    }
    if (auto b = as_bool()) return *b ? "true" : "false";
    if (auto d = std::get_if<double>(&data_)) {
        if (type_ == ValueType::FLOAT32) return fmt::format("{}", static_cast<float>(*d));  // shortest f32 form
        return fmt::format("{}", *d);
    }
    if (auto u = std::get_if<uint64_t>(&data_)) return fmt::format("{}", *u);
    return fmt::format("{}", std::get<int64_t>(data_));
}

}  // namespace rf::gguf
