// JSON Schema to a GBNF grammar whose sentences are the JSON texts valid against the schema.
//
// Supported: type (one or a list), properties / required / additionalProperties, items with
// minItems / maxItems, enum, const, strings with minLength / maxLength, pattern (regex_to_gbnf.h)
// or format (date, time, date-time, uuid), integer and number with minimum / maximum (and their
// exclusive forms), nested objects, $ref into #/$defs or #/definitions (recursion allowed),
// anyOf and oneOf, and the annotations (title, description, default, examples, $schema, $id,
// $comment, deprecated, readOnly, writeOnly) which change nothing. Any other keyword is an error
// naming it and where it is, never silently dropped.
//
// Properties come in the order the schema lists them. With additionalProperties false or absent,
// only the listed properties are written; an object that lists none and allows others (true or a
// schema) gets keys of its own choosing. oneOf is written as anyOf where its branches provably
// admit no common value (schema_disjoint.h) and is an error otherwise.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace rf::grammar {

struct SchemaGbnfOptions {
    std::string prefix;      // put in front of every rule name (several schemas in one grammar)
    bool base_rules = true;  // append json_base_rules() (once per grammar)
};

// An ordered_json keeps the properties in the order the schema text lists them. The grammar's
// root rule is prefix + "root".
Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema, const SchemaGbnfOptions& options = {});

}  // namespace rf::grammar
