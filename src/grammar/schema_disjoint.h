// Whether two JSON Schemas provably admit no common value: what a oneOf needs before it may be
// written as an anyOf (a text valid against two of its branches would fail the oneOf, and a
// grammar cannot count how many branches a text matches).
//
// Proven by any of: the JSON types they admit do not meet (integer and number count as one);
// their const / enum values differ (or one's values are of types the other refuses); both admit
// only objects and require a property whose const / enum values differ (a discriminator such as
// "kind": {"const": "circle"}). $ref into #/$defs or #/definitions is followed. Anything else is
// not proven, and the answer is false.
#pragma once

#include <nlohmann/json.hpp>

namespace rf::grammar {

// `root` is the whole schema, for $ref.
bool provably_disjoint(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b, const nlohmann::ordered_json& root);

}  // namespace rf::grammar
