#include "template/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/utf8.h"

namespace rf::tmpl {

Value value_from_json(const nlohmann::ordered_json& json) {
    switch (json.type()) {
        case nlohmann::ordered_json::value_t::null: return Value::none();
        case nlohmann::ordered_json::value_t::boolean: return Value(json.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return Value(json.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            uint64_t u = json.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return Value(json.get<double>());
        case nlohmann::ordered_json::value_t::string: return Value(json.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            Array items;
            items.reserve(json.size());
            for (const auto& item : json) items.push_back(value_from_json(item));
            return Value(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Object object;
            for (const auto& [key, item] : json.items()) object.set(key, value_from_json(item));
            return Value(std::move(object));
        }
        default: return Value::none();
    }
}

static void append_escaped_code_point(std::string& out, std::string_view cp) {
    uint32_t c = 0;
    auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(cp[i])); };
    if (cp.size() == 2) c = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    else if (cp.size() == 3) c = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    else c = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    char buf[16];
    if (c >= 0x10000) {
        c -= 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
    } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
    }
    out += buf;
}

static void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (ensure_ascii && c >= 0x80) {
            size_t len = rf::utf8_sequence_length(std::string_view(s).substr(i));
            if (len >= 2) {
                append_escaped_code_point(out, std::string_view(s).substr(i, len));
                i += len - 1;
                continue;
            }
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

namespace {

// Python's json.dumps turns non-string keys into strings: 1 -> "1", True -> "true", None -> "null".
std::string json_key(const Object& object, const std::string& stored) {
    Value key = object.key_value(stored);
    if (key.is_string()) return key.as_string();
    if (key.is_bool()) return key.as_bool() ? "true" : "false";
    if (key.is_none()) return "null";
    if (key.is_float()) return format_float(key.as_float());
    return key.to_string();
}

struct JsonWriter {
    const JsonStyle& style;
    std::string out;

    void newline(int depth) {
        if (!style.indent) return;
        out += '\n';
        out.append(static_cast<size_t>(std::max(0, *style.indent) * depth), ' ');
    }

    Status write(const Value& value, int depth) {
        if (depth > 512) return make_error("tojson: nesting too deep");
        switch (value.kind()) {
            case Value::Kind::None: out += "null"; break;
            case Value::Kind::Bool: out += value.as_bool() ? "true" : "false"; break;
            case Value::Kind::Int: out += std::to_string(value.as_int()); break;
            case Value::Kind::Float: {
                double d = value.as_float();
                if (std::isnan(d)) out += "NaN";
                else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
                else out += format_float(d);
                break;
            }
            case Value::Kind::String: append_json_string(out, value.as_string(), style.ensure_ascii); break;
            case Value::Kind::Array: {
                if (value.is_generator()) return make_error("Object of type generator is not JSON serializable");
                const Array& items = value.as_array();
                if (items.empty()) {
                    out += "[]";
                    break;
                }
                out += '[';
                for (size_t i = 0; i < items.size(); ++i) {
                    if (i) out += style.item_separator;
                    newline(depth + 1);
                    RF_TRY(write(items[i], depth + 1));
                }
                newline(depth);
                out += ']';
                break;
            }
            case Value::Kind::Object: {
                auto entries = value.as_object().entries();
                if (entries.empty()) {
                    out += "{}";
                    break;
                }
                if (style.sort_keys)
                    std::stable_sort(entries.begin(), entries.end(),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
                out += '{';
                for (size_t i = 0; i < entries.size(); ++i) {
                    if (i) out += style.item_separator;
                    newline(depth + 1);
                    append_json_string(out, json_key(value.as_object(), entries[i].first), style.ensure_ascii);
                    out += style.key_separator;
                    RF_TRY(write(entries[i].second, depth + 1));
                }
                newline(depth);
                out += '}';
                break;
            }
            case Value::Kind::Undefined:
                return make_error("Object of type Undefined is not JSON serializable");
            case Value::Kind::Function:
                return make_error("Object of type function is not JSON serializable");
        }
        return ok_status();
    }
};

}  // namespace

Result<std::string> value_to_json(const Value& value, const JsonStyle& style) {
    JsonWriter writer{style, {}};
    RF_TRY(writer.write(value, 0));
    return std::move(writer.out);
}

}  // namespace rf::tmpl
