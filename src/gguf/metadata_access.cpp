// Typed metadata accessors of gguf::File: each names the key and what it found on failure.
#include <limits>

#include "gguf/reader.h"

namespace rf::gguf {
namespace {

template <typename T, typename Convert>
Result<T> convert_value(const File& file, std::string_view key, std::string_view wanted, Convert convert) {
    const Value* v = file.find(key);
    if (!v) return make_error("{}: metadata key '{}' is missing", file.path(), key);
    std::optional<T> converted = convert(*v);
    if (!converted) {
        return make_error("{}: metadata key '{}' should be {}, found {} {}", file.path(), key, wanted,
                          value_type_name(v->type()), v->to_display_string(4));
    }
    return *converted;
}

template <typename T, typename Convert>
Result<std::vector<T>> convert_array(const File& file, std::string_view key, std::string_view wanted,
                                     Convert convert) {
    return convert_value<std::vector<T>>(file, key, wanted, [&](const Value& v) -> std::optional<std::vector<T>> {
        const auto* items = v.as_array();
        if (!items) return std::nullopt;
        std::vector<T> out;
        out.reserve(items->size());
        for (const Value& item : *items) {
            std::optional<T> converted = convert(item);
            if (!converted) return std::nullopt;
            out.push_back(std::move(*converted));
        }
        return out;
    });
}

std::optional<std::string> to_string(const Value& v) {
    if (const auto* s = v.as_string()) return *s;
    return std::nullopt;
}

}  // namespace

Result<std::string> File::get_string(std::string_view key) const {
    return convert_value<std::string>(*this, key, "a string", to_string);
}

Result<uint64_t> File::get_uint(std::string_view key) const {
    return convert_value<uint64_t>(*this, key, "a non-negative integer", [](const Value& v) { return v.as_uint(); });
}

Result<int64_t> File::get_int(std::string_view key) const {
    return convert_value<int64_t>(*this, key, "an integer", [](const Value& v) { return v.as_int(); });
}

Result<double> File::get_float(std::string_view key) const {
    return convert_value<double>(*this, key, "a number", [](const Value& v) { return v.as_float(); });
}

Result<bool> File::get_bool(std::string_view key) const {
    return convert_value<bool>(*this, key, "a bool", [](const Value& v) { return v.as_bool(); });
}

Result<std::vector<std::string>> File::get_string_array(std::string_view key) const {
    return convert_array<std::string>(*this, key, "an array of strings", to_string);
}

Result<std::vector<float>> File::get_f32_array(std::string_view key) const {
    return convert_array<float>(*this, key, "an array of numbers", [](const Value& v) -> std::optional<float> {
        auto d = v.as_float();
        if (!d) return std::nullopt;
        return static_cast<float>(*d);
    });
}

Result<std::vector<int32_t>> File::get_i32_array(std::string_view key) const {
    return convert_array<int32_t>(*this, key, "an array of 32-bit integers", [](const Value& v) -> std::optional<int32_t> {
        auto i = v.as_int();
        if (!i || *i < std::numeric_limits<int32_t>::min() || *i > std::numeric_limits<int32_t>::max())
            return std::nullopt;
        return static_cast<int32_t>(*i);
    });
}

Result<std::string> File::get_string_or(std::string_view key, std::string fallback) const {
    return has(key) ? get_string(key) : Result<std::string>(std::move(fallback));
}

Result<uint64_t> File::get_uint_or(std::string_view key, uint64_t fallback) const {
    return has(key) ? get_uint(key) : Result<uint64_t>(fallback);
}

Result<double> File::get_float_or(std::string_view key, double fallback) const {
    return has(key) ? get_float(key) : Result<double>(fallback);
}

Result<bool> File::get_bool_or(std::string_view key, bool fallback) const {
    return has(key) ? get_bool(key) : Result<bool>(fallback);
}

}  // namespace rf::gguf
