// For the JSON Schema tests: an independent validator of the keywords the converter supports
// (patterns through PCRE2, as a search, as JSON Schema means them), and a generator of random
// schemas whose every sentence is finite (strings, arrays and numbers bounded) so that a random
// walk through the grammar always ends.
#pragma once

#include <cmath>
#include <random>
#include <string>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace rf::test {

using nlohmann::json;

inline size_t utf8_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

inline bool pattern_matches(const std::string& pattern, const std::string& text) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err,
                                   &offset, nullptr);
    if (!re) return false;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
    const int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, md, nullptr);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

inline bool matches_format(const std::string& format, const std::string& s) {
    if (format == "date") return pattern_matches(R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$)", s);
    if (format == "uuid") return pattern_matches(R"(^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)", s);
    if (format == "date-time")
        return pattern_matches(R"(^\d{4}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d\d:\d\d)$)", s);
    return false;
}

// Empty when `v` is valid against `schema`; otherwise what is wrong and where.
inline std::string schema_violation(const json& v, const json& schema, const json& root, const std::string& at = "$") {
    auto fail = [&](const std::string& what) { return at + ": " + what + " (value " + v.dump() + ")"; };
    if (schema.is_boolean()) return schema.get<bool>() ? "" : fail("false schema");
    if (schema.contains("$ref")) {
        const std::string ref = schema["$ref"];
        return schema_violation(v, root["$defs"][ref.substr(std::string("#/$defs/").size())], root, at);
    }
    if (schema.contains("const") && v != schema["const"]) return fail("not the const");
    if (schema.contains("enum")) {
        bool any = false;
        for (const json& e : schema["enum"]) any = any || e == v;
        if (!any) return fail("not in the enum");
    }
    for (const char* key : {"anyOf", "oneOf"}) {
        if (!schema.contains(key)) continue;
        int valid = 0;
        for (const json& b : schema[key]) valid += schema_violation(v, b, root, at).empty();
        if (valid == 0) return fail(std::string("no branch of ") + key);
        if (std::string(key) == "oneOf" && valid > 1) return fail("several branches of oneOf");
    }
    if (schema.contains("type")) {
        const std::string t = schema["type"];
        const bool ok = (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
                        (t == "string" && v.is_string()) || (t == "integer" && v.is_number_integer()) ||
                        (t == "number" && v.is_number()) || (t == "boolean" && v.is_boolean()) ||
                        (t == "null" && v.is_null());
        if (!ok) return fail("not of type " + t);
    }
    if (v.is_object()) {
        const json props = schema.value("properties", json::object());
        for (const json& r : schema.value("required", json::array()))
            if (!v.contains(r.get<std::string>())) return fail("missing " + r.get<std::string>());
        for (const auto& [k, sub] : v.items()) {
            if (props.contains(k)) {
                if (auto e = schema_violation(sub, props[k], root, at + "." + k); !e.empty()) return e;
            } else if (schema.contains("additionalProperties")) {
                if (auto e = schema_violation(sub, schema["additionalProperties"], root, at + "." + k); !e.empty()) return e;
            }
        }
    }
    if (v.is_array()) {
        if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) return fail("too few items");
        if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) return fail("too many items");
        if (schema.contains("items"))
            for (size_t i = 0; i < v.size(); ++i)
                if (auto e = schema_violation(v[i], schema["items"], root, at + "[" + std::to_string(i) + "]"); !e.empty())
                    return e;
    }
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (schema.contains("minLength") && utf8_length(s) < schema["minLength"].get<size_t>()) return fail("too short");
        if (schema.contains("maxLength") && utf8_length(s) > schema["maxLength"].get<size_t>()) return fail("too long");
        if (schema.contains("pattern") && !pattern_matches(schema["pattern"], s)) return fail("pattern");
        if (schema.contains("format") && !matches_format(schema["format"], s)) return fail("format");
    }
    if (v.is_number()) {
        const double x = v.get<double>();
        if (schema.contains("minimum") && x < schema["minimum"].get<double>()) return fail("below minimum");
        if (schema.contains("maximum") && x > schema["maximum"].get<double>()) return fail("above maximum");
        if (schema.contains("exclusiveMinimum") && x <= schema["exclusiveMinimum"].get<double>()) return fail("not above");
        if (schema.contains("exclusiveMaximum") && x >= schema["exclusiveMaximum"].get<double>()) return fail("not below");
    }
    return "";
}

// A random schema of bounded output; `defs` collects definitions referred to by $ref.
inline json random_schema(std::mt19937_64& rng, int depth, json& defs) {
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    const int kind = depth <= 0 ? 4 + pick(8) : pick(12);
    switch (kind) {
        case 0: case 1: {
            json props = json::object(), required = json::array();
            const int n = 1 + pick(4);
            for (int i = 0; i < n; ++i) {
                const std::string name = std::string(1, static_cast<char>('a' + pick(26))) + std::to_string(i);
                props[name] = random_schema(rng, depth - 1, defs);
                if (pick(2)) required.push_back(name);
            }
            return {{"type", "object"}, {"properties", props}, {"required", required}, {"additionalProperties", false}};
        }
        case 2: {
            json s = {{"type", "array"}, {"items", random_schema(rng, depth - 1, defs)}, {"maxItems", 1 + pick(3)}};
            if (pick(2)) s["minItems"] = pick(2);
            return s;
        }
        case 3: {
            const std::string name = fmt::format("d{}", defs.size());
            defs[name] = nullptr;  // taken before the definition's own definitions are named
            defs[name] = random_schema(rng, depth - 1, defs);
            return {{"$ref", "#/$defs/" + name}};
        }
        case 4: {
            const int lo = pick(3);
            return {{"type", "string"}, {"minLength", lo}, {"maxLength", lo + pick(6)}};
        }
        case 5: {
            const char* patterns[] = {"^[a-z]{2,4}$", "^\\d{3}-\\d{2}$", "^(ab|cd)+x?$", "^[A-F0-9]{4}$", "^[^0-9]{1,3}$"};
            return {{"type", "string"}, {"pattern", patterns[pick(5)]}};
        }
        case 6: return {{"type", "string"}, {"format", pick(3) == 0 ? "date" : pick(2) ? "uuid" : "date-time"}};
        case 7: {
            const int lo = pick(200) - 100;
            return {{"type", "integer"}, {"minimum", lo}, {"maximum", lo + pick(1000)}};
        }
        case 8: {
            json s = {{"type", "number"}, {"minimum", pick(20) - 10.5}};
            if (pick(2)) s["exclusiveMaximum"] = 50;
            return s;
        }
        case 9: return {{"enum", {"red", 3, nullptr, "gr\"een", true}}};
        case 10:
            if (pick(2)) return {{"anyOf", {{{"type", "boolean"}}, {{"type", "null"}}, {{"const", "x"}}}}};
            // oneOf of branches told apart by a required discriminator and by type.
            return {{"oneOf",
                     {{{"type", "object"}, {"properties", {{"k", {{"const", "a"}}}, {"v", random_schema(rng, depth - 1, defs)}}},
                       {"required", {"k", "v"}}, {"additionalProperties", false}},
                      {{"type", "object"}, {"properties", {{"k", {{"enum", {"b", "c"}}}}}}, {"required", {"k"}},
                       {"additionalProperties", false}},
                      {{"type", "integer"}, {"minimum", 0}, {"maximum", 9}}}}};
        default: return {{"type", pick(2) ? "boolean" : "null"}};
    }
}

}  // namespace rf::test
