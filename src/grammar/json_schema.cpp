#include "grammar/json_schema.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "grammar/json_primitives.h"
#include "grammar/regex_to_gbnf.h"
#include "grammar/schema_disjoint.h"

namespace rf::grammar {

namespace {

using json = nlohmann::ordered_json;

const std::set<std::string, std::less<>> kAnnotations = {"title",  "description", "default",    "examples",  "$schema",
                                                          "$id",    "$comment",    "deprecated", "readOnly",  "writeOnly"};
const std::set<std::string, std::less<>> kKeywords = {
    "type",     "properties", "required",  "additionalProperties", "items",   "minItems",         "maxItems",
    "enum",     "const",      "minLength", "maxLength",            "pattern", "format",           "minimum",
    "maximum",  "exclusiveMinimum",        "exclusiveMaximum",     "$ref",    "$defs",            "definitions",
    "anyOf",    "oneOf"};

constexpr int kMaxDepth = 64;

class Converter {
public:
    Converter(const json& root, const SchemaGbnfOptions& options) : root_(root), options_(options) {}

    Result<std::string> run() {
        RF_ASSIGN_OR_RETURN(std::string body, visit(root_, "#", "root"));
        std::string out = options_.prefix + "root ::= " + body + "\n";
        for (const auto& [name, rule] : rules_) out += name + " ::= " + rule + "\n";
        return options_.base_rules ? out + json_base_rules() : out;
    }

private:
    // A rule holding `body`; its name is derived from `hint` and made unique.
    std::string add_rule(const std::string& hint, std::string body) {
        std::string name = options_.prefix + "s-" + sanitize(hint);
        for (int i = 2; rules_.contains(name); ++i) name = fmt::format("{}s-{}-{}", options_.prefix, sanitize(hint), i);
        rules_[name] = std::move(body);
        return name;
    }
    static std::string sanitize(const std::string& s) {
        std::string out;
        for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
        return out.substr(0, 40);
    }
    static Error at(const std::string& path, std::string_view what) {
        return make_error("json schema at {}: {}", path, what);
    }

    Result<std::string> visit(const json& s, const std::string& path, const std::string& hint) {
        // Schemas nest by recursion here; a limit keeps hostile ones from exhausting the stack.
        if (depth_ >= kMaxDepth) return at(path, fmt::format("schemas nested more than {} deep", kMaxDepth));
        ++depth_;
        auto out = visit_schema(s, path, hint);
        --depth_;
        return out;
    }

    Result<std::string> visit_schema(const json& s, const std::string& path, const std::string& hint) {
        if (s.is_boolean()) {
            if (!s.get<bool>()) return at(path, "the schema false admits no value");
            return std::string("value");
        }
        if (!s.is_object()) return at(path, "a schema must be an object or a boolean");
        for (const auto& [key, value] : s.items())
            if (!kKeywords.contains(key) && !kAnnotations.contains(key))
                return at(path, fmt::format("unsupported keyword '{}'", key));
        if (s.contains("$ref")) return ref(s, path);
        if (s.contains("const")) return literal(s["const"]);
        if (s.contains("enum")) {
            if (!s["enum"].is_array() || s["enum"].empty()) return at(path, "'enum' must be a non-empty array");
            std::string out;
            for (const json& v : s["enum"]) out += (out.empty() ? "" : " | ") + literal(v);
            return "(" + out + ")";
        }
        for (const char* key : {"anyOf", "oneOf"}) {
            if (!s.contains(key)) continue;
            const json& branches = s[key];
            if (!branches.is_array() || branches.empty()) return at(path, fmt::format("'{}' must be a non-empty array", key));
            // A grammar cannot tell that a text matches exactly one branch: oneOf is written as
            // anyOf only where no text can match two (schema_disjoint.h).
            if (std::string_view(key) == "oneOf")
                for (size_t i = 0; i < branches.size(); ++i)
                    for (size_t j = i + 1; j < branches.size(); ++j)
                        if (!provably_disjoint(branches[i], branches[j], root_))
                            return at(path, fmt::format("oneOf branches {} and {} may both match a value (supported: branches "
                                                        "told apart by their types, their const or enum values, or a "
                                                        "required property with different const or enum values; use "
                                                        "anyOf if either may match)",
                                                        i, j));
            std::string out;
            for (size_t i = 0; i < branches.size(); ++i) {
                RF_ASSIGN_OR_RETURN(std::string b, visit(branches[i], fmt::format("{}/{}/{}", path, key, i), hint));
                out += (out.empty() ? "" : " | ") + b;
            }
            return add_rule(hint, out);
        }
        if (!s.contains("type")) {
            if (s.contains("properties") || s.contains("additionalProperties")) return object(s, path, hint);
            if (s.contains("items")) return array(s, path, hint);
            return std::string("value");
        }
        const json& type = s["type"];
        if (type.is_string()) return typed(s, type.get<std::string>(), path, hint);
        if (!type.is_array() || type.empty()) return at(path, "'type' must be a string or a non-empty array");
        std::string out;
        for (const json& t : type) {
            if (!t.is_string()) return at(path, "'type' must list strings");
            RF_ASSIGN_OR_RETURN(std::string b, typed(s, t.get<std::string>(), path, hint));
            out += (out.empty() ? "" : " | ") + b;
        }
        return add_rule(hint, out);
    }

    Result<std::string> typed(const json& s, const std::string& type, const std::string& path, const std::string& hint) {
        if (type == "object") return object(s, path, hint);
        if (type == "array") return array(s, path, hint);
        if (type == "string") return string(s, path, hint);
        if (type == "integer" || type == "number") return number(s, type == "integer", path, hint);
        if (type == "boolean") return std::string("boolean");
        if (type == "null") return std::string("null");
        return at(path, fmt::format("unknown type '{}'", type));
    }

    static std::string literal(const json& v) { return gbnf_literal(v.dump()); }

    Result<std::string> ref(const json& s, const std::string& path) {
        if (!s["$ref"].is_string()) return at(path, "'$ref' must be a string");
        const std::string target = s["$ref"].get<std::string>();
        if (auto it = refs_.find(target); it != refs_.end()) return it->second;
        std::string name;
        for (const char* prefix : {"#/$defs/", "#/definitions/"})
            if (target.starts_with(prefix)) name = target.substr(std::string_view(prefix).size());
        if (name.empty() || target == "#") return at(path, fmt::format("'$ref' '{}' is not of the form #/$defs/NAME", target));
        const json* defs = nullptr;
        for (const char* key : {"$defs", "definitions"})
            if (target.starts_with(std::string("#/") + key + "/") && root_.contains(key)) defs = &root_[key];
        if (!defs || !defs->is_object() || !defs->contains(name)) return at(path, fmt::format("'$ref' '{}' names no definition", target));
        // Named before it is visited, so that a definition may refer to itself.
        const std::string rule = add_rule("def-" + name, "");
        refs_[target] = rule;
        RF_ASSIGN_OR_RETURN(std::string body, visit((*defs)[name], target, "def-" + name));
        rules_[rule] = body;
        return rule;
    }

    Result<std::string> object(const json& s, const std::string& path, const std::string& hint) {
        std::vector<std::string> names;
        std::vector<std::string> members;  // "\"name\"" ":" ws value
        std::vector<bool> required;
        std::set<std::string> req;
        if (s.contains("required")) {
            if (!s["required"].is_array()) return at(path, "'required' must be an array of names");
            for (const json& r : s["required"]) {
                if (!r.is_string()) return at(path, "'required' must be an array of names");
                req.insert(r.get<std::string>());
            }
        }
        if (s.contains("properties")) {
            if (!s["properties"].is_object()) return at(path, "'properties' must be an object");
            for (const auto& [name, sub] : s["properties"].items()) {
                RF_ASSIGN_OR_RETURN(std::string v, visit(sub, path + "/properties/" + name, hint + "-" + name));
                names.push_back(name);
                members.push_back(fmt::format("{} \":\" ws {}", literal(json(name)), v));
                required.push_back(req.contains(name));
            }
        }
        for (const std::string& r : req)
            if (std::find(names.begin(), names.end(), r) == names.end())
                return at(path, fmt::format("required property '{}' is not among the properties", r));
        std::optional<std::string> extra;  // the value of additional properties, when written
        if (s.contains("additionalProperties")) {
            const json& ap = s["additionalProperties"];
            if (!(ap.is_boolean() && !ap.get<bool>()) && names.empty()) {
                RF_ASSIGN_OR_RETURN(std::string v, visit(ap, path + "/additionalProperties", hint + "-extra"));
                extra = v;
            }
        } else if (names.empty()) {
            extra = "value";  // a bare object: any members
        }
        if (extra) {
            const std::string member = fmt::format("string \":\" ws {}", *extra);
            return add_rule(hint, fmt::format("\"{{\" ws ({} (\",\" ws {})*)? \"}}\"", member, member));
        }
        // Required members always, optional ones each maybe, in the listed order, commas between.
        // tail(i, first): members i.. when `first` says none has been written yet.
        std::map<std::pair<size_t, bool>, std::string> memo;
        std::function<std::string(size_t, bool)> tail = [&](size_t i, bool first) -> std::string {
            if (i == names.size()) return "\"\"";
            if (auto it = memo.find({i, first}); it != memo.end()) return it->second;
            const std::string write = (first ? "" : "\",\" ws ") + members[i] + " " + tail(i + 1, false);
            std::string body = required[i] ? write : "(" + write + ") | " + tail(i + 1, first);
            std::string name = add_rule(fmt::format("{}-{}{}", hint, i, first ? "f" : "n"), body);
            memo[{i, first}] = name;
            return name;
        };
        return add_rule(hint, fmt::format("\"{{\" ws {} \"}}\"", tail(0, true)));
    }

    Result<std::string> array(const json& s, const std::string& path, const std::string& hint) {
        std::string item = "value";
        if (s.contains("items")) {
            if (s["items"].is_array()) return at(path, "'items' as an array (tuple form) is not supported");
            RF_ASSIGN_OR_RETURN(item, visit(s["items"], path + "/items", hint + "-item"));
        }
        RF_ASSIGN_OR_RETURN(int64_t min, count(s, "minItems", 0, path));
        RF_ASSIGN_OR_RETURN(int64_t max, count(s, "maxItems", -1, path));
        if (max >= 0 && max < min) return at(path, "'maxItems' is below 'minItems'");
        if (max == 0) return std::string("\"[\" ws \"]\"");
        const std::string more = max < 0 ? fmt::format("{{{},}}", std::max<int64_t>(min - 1, 0))
                                         : fmt::format("{{{},{}}}", std::max<int64_t>(min - 1, 0), max - 1);
        std::string items = fmt::format("{} (\",\" ws {}){}", item, item, more);
        if (min == 0) items = "(" + items + ")?";
        return add_rule(hint, fmt::format("\"[\" ws {} \"]\"", items));
    }

    Result<int64_t> count(const json& s, const char* key, int64_t fallback, const std::string& path) {
        if (!s.contains(key)) return fallback;
        const json& v = s[key];
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 10000)
            return at(path, fmt::format("'{}' must be an integer in [0, 10000]", key));
        return v.get<int64_t>();
    }

    Result<std::string> string(const json& s, const std::string& path, const std::string& hint) {
        const bool has_pattern = s.contains("pattern"), has_format = s.contains("format");
        const bool has_length = s.contains("minLength") || s.contains("maxLength");
        if (has_pattern + has_format + has_length > 1)
            return at(path, "combining 'pattern', 'format' and lengths is not supported");
        if (has_pattern) {
            if (!s["pattern"].is_string()) return at(path, "'pattern' must be a string");
            auto body = regex_to_gbnf(s["pattern"].get<std::string>(), "char");
            if (!body) return at(path, body.error().message);
            return add_rule(hint, "\"\\\"\" " + *body + " \"\\\"\"");
        }
        if (has_format) {
            if (!s["format"].is_string()) return at(path, "'format' must be a string");
            auto body = string_format(s["format"].get<std::string>());
            if (!body) return at(path, body.error().message);
            return add_rule(hint, "\"\\\"\" " + *body + " \"\\\"\"");
        }
        if (!has_length) return std::string("string");
        RF_ASSIGN_OR_RETURN(int64_t min, count(s, "minLength", 0, path));
        RF_ASSIGN_OR_RETURN(int64_t max, count(s, "maxLength", -1, path));
        if (max >= 0 && max < min) return at(path, "'maxLength' is below 'minLength'");
        const std::string reps = max < 0 ? fmt::format("{{{},}}", min) : fmt::format("{{{},{}}}", min, max);
        return add_rule(hint, "\"\\\"\" char" + reps + " \"\\\"\"");
    }

    Result<std::string> number(const json& s, bool integer, const std::string& path, const std::string& hint) {
        NumberBounds b;
        for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
            if (!s.contains(key)) continue;
            if (!s[key].is_number()) return at(path, fmt::format("'{}' must be a number", key));
            const double v = s[key].get<double>();
            const std::string_view k = key;
            if (k == "minimum" || k == "exclusiveMinimum") {
                if (!b.minimum || v >= *b.minimum) b.exclusive_minimum = k == "exclusiveMinimum";
                b.minimum = b.minimum ? std::max(*b.minimum, v) : v;
            } else {
                if (!b.maximum || v <= *b.maximum) b.exclusive_maximum = k == "exclusiveMaximum";
                b.maximum = b.maximum ? std::min(*b.maximum, v) : v;
            }
        }
        if (!b.minimum && !b.maximum) return std::string(integer ? "integer" : "number");
        auto body = integer ? bounded_integer(b) : bounded_number(b);
        if (!body) return at(path, body.error().message);
        return add_rule(hint, *body);
    }

    const json& root_;
    const SchemaGbnfOptions& options_;
    std::map<std::string, std::string> rules_;
    std::map<std::string, std::string> refs_;
    int depth_ = 0;
};

}  // namespace

Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema, const SchemaGbnfOptions& options) {
    return Converter(schema, options).run();
}

}  // namespace rf::grammar
