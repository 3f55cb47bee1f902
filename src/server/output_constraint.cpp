#include "server/output_constraint.h"

#include <fmt/format.h>

#include "grammar/gbnf_parser.h"
#include "grammar/json_primitives.h"
#include "grammar/json_schema.h"

namespace rf::server {

namespace {

using nlohmann::json;

std::variant<GrammarPtr, ApiError> compile(const std::string& gbnf, const char* param) {
    auto g = grammar::parse_gbnf(gbnf);
    if (!g) return bad_request(g.error().message, param);
    return std::make_shared<const grammar::Grammar>(std::move(*g));
}

std::variant<GrammarPtr, ApiError> response_format(const json& rf, std::string_view text) {
    const char* param = "response_format";
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
        return bad_request("'response_format' must be an object with a string 'type'", param);
    const std::string type = rf["type"].get<std::string>();
    if (type == "text") return GrammarPtr();
    if (type == "json_object") return compile(grammar::json_object_gbnf(), param);
    if (type != "json_schema")
        return bad_request(fmt::format("response_format type '{}' is not one of text, json_object, json_schema", type),
                           param);
    const auto it = rf.find("json_schema");
    if (it == rf.end() || !it->is_object() || !it->contains("schema"))
        return bad_request("response_format json_schema needs 'json_schema': {\"schema\": {...}}", param);
    const auto schema = ordered_field(text, {"response_format", "json_schema", "schema"});
    if (!schema) return bad_request("response_format json_schema needs 'json_schema': {\"schema\": {...}}", param);
    auto gbnf = grammar::json_schema_to_gbnf(*schema);
    if (!gbnf) return bad_request(gbnf.error().message, param, "unsupported_schema");
    return compile(*gbnf, param);
}

}  // namespace

std::optional<nlohmann::ordered_json> ordered_field(std::string_view text, std::initializer_list<const char*> path) {
    auto value = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    for (const char* key : path) {
        if (!value.is_object() || !value.contains(key)) return std::nullopt;
        nlohmann::ordered_json inner = std::move(value[key]);
        value = std::move(inner);
    }
    if (value.is_discarded()) return std::nullopt;
    return value;
}

std::variant<GrammarPtr, ApiError> read_output_constraint(const json& body, std::string_view text) {
    GrammarPtr from_format, from_grammar;
    if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
        auto r = response_format(*it, text);
        if (auto* e = std::get_if<ApiError>(&r)) return *e;
        from_format = std::get<GrammarPtr>(std::move(r));
    }
    if (auto it = body.find("grammar"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) return bad_request("'grammar' must be a string (GBNF)", "grammar");
        if (!it->get<std::string>().empty()) {
            auto r = compile(it->get<std::string>(), "grammar");
            if (auto* e = std::get_if<ApiError>(&r)) return *e;
            from_grammar = std::get<GrammarPtr>(std::move(r));
        }
    }
    if (from_format && from_grammar)
        return bad_request("'grammar' and a JSON 'response_format' cannot both constrain the output", "grammar");
    return from_format ? from_format : from_grammar;
}

}  // namespace rf::server
