#include "grammar/schema_disjoint.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rf::grammar {

namespace {

using json = nlohmann::ordered_json;

// JSON types as bits; integer is a number.
enum Kind : unsigned { Null = 1, Boolean = 2, Number = 4, String = 8, Array = 16, Object = 32, Any = 63 };

// Hops through $ref and nesting of anyOf / oneOf looked into; deeper is "anything".
constexpr int kMaxDepth = 8;

unsigned kind_of_value(const json& v) {
    if (v.is_null()) return Null;
    if (v.is_boolean()) return Boolean;
    if (v.is_number()) return Number;
    if (v.is_string()) return String;
    if (v.is_array()) return Array;
    return Object;
}

unsigned kind_of_type(const json& t) {
    if (!t.is_string()) return Any;
    const std::string name = t.get<std::string>();
    if (name == "null") return Null;
    if (name == "boolean") return Boolean;
    if (name == "integer" || name == "number") return Number;
    if (name == "string") return String;
    if (name == "array") return Array;
    if (name == "object") return Object;
    return Any;
}

// The definition a $ref names, or nullptr.
const json* resolve(const json& s, const json& root) {
    const json* at = &s;
    for (int hop = 0; hop < kMaxDepth && at->is_object() && at->contains("$ref"); ++hop) {
        const json& ref = (*at)["$ref"];
        if (!ref.is_string()) return nullptr;
        const std::string target = ref.get<std::string>();
        const json* next = nullptr;
        for (const char* key : {"$defs", "definitions"}) {
            const std::string prefix = std::string("#/") + key + "/";
            if (target.starts_with(prefix) && root.contains(key) && root[key].is_object() &&
                root[key].contains(target.substr(prefix.size())))
                next = &root[key][target.substr(prefix.size())];
        }
        if (!next) return nullptr;
        at = next;
    }
    return at->is_object() && at->contains("$ref") ? nullptr : at;
}

// What a schema may accept, over-approximated: the types, the values when it lists them, and
// the const / enum values of the properties it requires.
struct Shape {
    unsigned kinds = Any;
    std::optional<std::vector<json>> values;
    std::map<std::string, std::vector<json>> tags;
};

std::optional<std::vector<json>> listed_values(const json& s) {
    if (s.contains("const")) return std::vector<json>{s["const"]};
    if (s.contains("enum") && s["enum"].is_array()) return std::vector<json>(s["enum"].begin(), s["enum"].end());
    return std::nullopt;
}

Shape shape_of(const json& schema, const json& root, int depth) {
    Shape out;
    const json* found = resolve(schema, root);
    if (!found || depth > kMaxDepth) return out;
    const json& s = *found;
    if (s.is_boolean()) {
        if (!s.get<bool>()) out.kinds = 0;
        return out;
    }
    if (!s.is_object()) return out;
    if ((out.values = listed_values(s))) {
        out.kinds = 0;
        for (const json& v : *out.values) out.kinds |= kind_of_value(v);
    }
    if (s.contains("type")) {
        unsigned kinds = 0;
        if (s["type"].is_array())
            for (const json& t : s["type"]) kinds |= kind_of_type(t);
        else
            kinds = kind_of_type(s["type"]);
        out.kinds &= kinds;
    }
    for (const char* key : {"anyOf", "oneOf"}) {
        if (!s.contains(key) || !s[key].is_array()) continue;
        unsigned kinds = 0;
        for (const json& branch : s[key]) kinds |= shape_of(branch, root, depth + 1).kinds;
        out.kinds &= kinds;
    }
    if (s.contains("required") && s["required"].is_array() && s.contains("properties") && s["properties"].is_object()) {
        for (const json& name : s["required"]) {
            if (!name.is_string() || !s["properties"].contains(name.get<std::string>())) continue;
            const json* property = resolve(s["properties"][name.get<std::string>()], root);
            if (property && property->is_object())
                if (auto values = listed_values(*property)) out.tags[name.get<std::string>()] = std::move(*values);
        }
    }
    return out;
}

bool share_a_value(const std::vector<json>& a, const std::vector<json>& b) {
    for (const json& x : a)
        for (const json& y : b)
            if (x == y) return true;  // 1 and 1.0 compare equal, as in JSON Schema
    return false;
}

// None of `values` is of a type `kinds` admits.
bool none_admitted(const std::vector<json>& values, unsigned kinds) {
    for (const json& v : values)
        if (kind_of_value(v) & kinds) return false;
    return true;
}

}  // namespace

bool provably_disjoint(const json& a, const json& b, const json& root) {
    const Shape x = shape_of(a, root, 0), y = shape_of(b, root, 0);
    if (!(x.kinds & y.kinds)) return true;
    if (x.values && y.values) return !share_a_value(*x.values, *y.values);
    if (x.values && none_admitted(*x.values, y.kinds)) return true;
    if (y.values && none_admitted(*y.values, x.kinds)) return true;
    if (x.kinds == Object && y.kinds == Object)
        for (const auto& [name, values] : x.tags)
            if (auto it = y.tags.find(name); it != y.tags.end() && !share_a_value(values, it->second)) return true;
    return false;
}

}  // namespace rf::grammar
