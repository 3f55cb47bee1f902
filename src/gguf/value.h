// A GGUF metadata value: a scalar, a string, or an array (of scalars, strings or arrays).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rf::gguf {

enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

std::string_view value_type_name(ValueType type);
bool is_valid_value_type(uint32_t raw);

class Value {
public:
    Value() : Value(ValueType::UINT8, uint64_t{0}) {}

    static Value u8(uint8_t v) { return {ValueType::UINT8, uint64_t{v}}; }
    static Value i8(int8_t v) { return {ValueType::INT8, int64_t{v}}; }
    static Value u16(uint16_t v) { return {ValueType::UINT16, uint64_t{v}}; }
    static Value i16(int16_t v) { return {ValueType::INT16, int64_t{v}}; }
    static Value u32(uint32_t v) { return {ValueType::UINT32, uint64_t{v}}; }
    static Value i32(int32_t v) { return {ValueType::INT32, int64_t{v}}; }
    static Value u64(uint64_t v) { return {ValueType::UINT64, v}; }
    static Value i64(int64_t v) { return {ValueType::INT64, v}; }
    static Value f32(float v) { return {ValueType::FLOAT32, double{v}}; }
    static Value f64(double v) { return {ValueType::FLOAT64, v}; }
    static Value boolean(bool v) { return {ValueType::BOOL, v}; }
    static Value string(std::string v) { return {ValueType::STRING, std::move(v)}; }
    // All items must have type `element_type`; an empty array still records it.
    static Value array(ValueType element_type, std::vector<Value> items);
    static Value string_array(const std::vector<std::string>& items);
    static Value f32_array(const std::vector<float>& items);
    static Value i32_array(const std::vector<int32_t>& items);

    ValueType type() const { return type_; }
    ValueType element_type() const { return element_type_; }  // arrays only

    bool is_integer() const;
    bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }
    bool is_string() const { return type_ == ValueType::STRING; }
    bool is_array() const { return type_ == ValueType::ARRAY; }
    bool is_bool() const { return type_ == ValueType::BOOL; }

    // Conversions that succeed only when the value is representable without loss.
    std::optional<uint64_t> as_uint() const;
    std::optional<int64_t> as_int() const;
    std::optional<double> as_float() const;  // floats and integers
    std::optional<bool> as_bool() const;
    const std::string* as_string() const { return std::get_if<std::string>(&data_); }
    const std::vector<Value>* as_array() const { return std::get_if<std::vector<Value>>(&data_); }

    // Short human-readable rendering (arrays abbreviated after `max_items`).
    std::string to_display_string(size_t max_items = 8) const;

    bool operator==(const Value&) const = default;

private:
    using Data = std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<Value>>;
    Value(ValueType type, Data data) : type_(type), data_(std::move(data)) {}

    ValueType type_;
    ValueType element_type_ = ValueType::UINT8;
    Data data_;
};

}  // namespace rf::gguf
