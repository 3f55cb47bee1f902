// JSON Schema to grammar: chosen schemas accept their valid instances and refuse invalid ones,
// unsupported keywords are errors that name them, and random walks through the grammars of
// random schemas (each step a uniformly drawn allowed token of a vocabulary) always end in JSON
// that parses and that an independent validator accepts.
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "grammar/json_primitives.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex_to_gbnf.h"
#include "grammar/token_constraint.h"
#include "schema_support.h"

namespace rf::grammar {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;  // schemas keep their properties in the listed order

std::shared_ptr<const Grammar> schema_grammar(const ojson& schema) {
    auto gbnf = json_schema_to_gbnf(schema);
    EXPECT_TRUE(gbnf.ok()) << (gbnf.ok() ? "" : gbnf.error().message);
    if (!gbnf) return nullptr;
    auto g = parse_gbnf(*gbnf);
    EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message) << "\n" << *gbnf;
    return g.ok() ? std::make_shared<const Grammar>(std::move(*g)) : nullptr;
}

bool matches(const std::shared_ptr<const Grammar>& g, std::string_view text) {
    Matcher m(g);
    return m.accept(text) && m.complete();
}

std::string schema_error(const ojson& schema) {
    auto r = json_schema_to_gbnf(schema);
    return r.ok() ? "(converted)" : r.error().message;
}

TEST(JsonSchema, ObjectsWithRequiredAndOptionalProperties) {
    auto g = schema_grammar(ojson::parse(R"({"type":"object","properties":{
        "name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},
        "tags":{"type":"array","items":{"type":"string"},"maxItems":2}},
        "required":["name"],"additionalProperties":false})"));
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, R"({"name":"Ann"})"));
    EXPECT_TRUE(matches(g, R"({ "name": "Ann","age": 150,"tags": ["x","y"]})"));
    EXPECT_TRUE(matches(g, R"({"name":"A\"b\u00e9","tags":[]})"));
    EXPECT_FALSE(matches(g, R"({"age":3})"));                      // name is required
    EXPECT_FALSE(matches(g, R"({"name":"Ann","age":151})"));       // maximum
    EXPECT_FALSE(matches(g, R"({"name":"Ann","age":-1})"));        // minimum
    EXPECT_FALSE(matches(g, R"({"name":"Ann","age":07})"));        // leading zero
    EXPECT_FALSE(matches(g, R"({"name":"Ann","tags":["a","b","c"]})"));
    EXPECT_FALSE(matches(g, R"({"name":"Ann","other":1})"));
    EXPECT_FALSE(matches(g, R"({"name":"Ann",})"));
    EXPECT_FALSE(matches(g, R"({"age":3,"name":"Ann"})"));         // properties in the listed order
}

TEST(JsonSchema, OnlyOptionalPropertiesMayAllBeLeftOut) {
    auto g = schema_grammar(ojson::parse(
        R"({"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"const":1}}})"));
    ASSERT_TRUE(g);
    for (const char* ok : {"{}", R"({"a":true})", R"({"b":null})", R"({"a":false,"c":1})", R"({"a":true,"b":null,"c":1})"})
        EXPECT_TRUE(matches(g, ok)) << ok;
    for (const char* bad : {R"({,"b":null})", R"({"c":1,"a":true})", R"({"c":2})"}) EXPECT_FALSE(matches(g, bad)) << bad;
}

TEST(JsonSchema, EnumConstAnyOfRefsAndTypeLists) {
    auto g = schema_grammar(ojson::parse(R"({"$defs":{"node":{"type":"object","properties":{
        "v":{"enum":["a",1,null]},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},
        "required":["v","next"]}},"$ref":"#/$defs/node"})"));
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, R"({"v":"a","next":{"v":1,"next":{"v":null,"next":null}}})"));
    EXPECT_FALSE(matches(g, R"({"v":"b","next":null})"));
    auto t = schema_grammar(ojson::parse(R"({"type":["integer","null"],"maximum":5})"));
    ASSERT_TRUE(t);
    EXPECT_TRUE(matches(t, "null"));
    EXPECT_TRUE(matches(t, "-12"));
    EXPECT_FALSE(matches(t, "6"));
}

TEST(JsonSchema, OneOfOnlyWhereNoValueMatchesTwoBranches) {
    // Told apart by type, by const / enum values, by a required discriminator (through $ref).
    const auto shapes = schema_grammar(ojson::parse(R"({"$defs":{
        "circle":{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"]},
        "square":{"type":"object","properties":{"kind":{"enum":["square","box"]},"side":{"type":"integer"}},"required":["kind"]}},
        "oneOf":[{"$ref":"#/$defs/circle"},{"$ref":"#/$defs/square"},{"type":"string","maxLength":4},{"enum":[1,2]},
                 {"type":"null"}]})"));
    ASSERT_TRUE(shapes);
    for (const char* ok : {R"({"kind":"circle","r":1.5})", R"({"kind":"box","side":2})", R"("abc")", "2", "null"})
        EXPECT_TRUE(matches(shapes, ok)) << ok;
    EXPECT_FALSE(matches(shapes, R"({"kind":"circle","side":2})"));
    EXPECT_EQ(schema_error(ojson::parse(R"({"oneOf":[{"const":"a"},{"enum":["b",3]},{"type":"boolean"}]})")), "(converted)");
    EXPECT_EQ(schema_error(ojson::parse(R"({"oneOf":[{"type":"integer"},{"type":["string","null"]}]})")), "(converted)");
    // Branches that may both match are refused, naming them, rather than written as anyOf.
    for (const char* overlapping : {
             R"({"oneOf":[{"type":"integer"},{"type":"number"}]})",
             R"({"oneOf":[{"type":"string"},{"type":"string","maxLength":3}]})",
             R"({"oneOf":[{"type":"string"},{"enum":["a","b"]},{"type":"null"}]})",
             R"({"oneOf":[{"type":"null"},{"properties":{"a":{"type":"string"}}}]})",  // no type: any value
             R"({"oneOf":[{"type":"object","properties":{"k":{"const":"a"}},"required":["k"]},
                          {"type":"object","properties":{"k":{"const":"a"},"x":{"type":"integer"}},"required":["k"]}]})",
             R"({"oneOf":[{"type":"object","properties":{"k":{"const":"a"}}},
                          {"type":"object","properties":{"k":{"const":"b"}}}]})",  // k not required: {} matches both
         }) {
        const std::string e = schema_error(ojson::parse(overlapping));
        EXPECT_NE(e.find("oneOf branches"), std::string::npos) << overlapping << ": " << e;
        EXPECT_NE(e.find("may both match"), std::string::npos) << e;
    }
    EXPECT_NE(schema_error(ojson::parse(R"({"oneOf":[{"const":1},{"type":"string"},{"const":1.0}]})")).find("branches 0 and 2"),
              std::string::npos);
}

TEST(JsonSchema, NumbersStayWithinADouble) {
    auto g = schema_grammar(ojson::parse(R"({"type":"array","items":{"type":"number"}})"));
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "[1.5e99,-9999999999999999.9999999999999999E-99,0]"));
    EXPECT_FALSE(matches(g, "[5123E754]"));  // a fuzzer's find: past a double's range
    EXPECT_FALSE(matches(g, "[1e100]"));
}

TEST(JsonSchema, StringsByLengthPatternAndFormat) {
    auto len = schema_grammar(ojson::parse(R"({"type":"string","minLength":2,"maxLength":3})"));
    ASSERT_TRUE(len);
    EXPECT_TRUE(matches(len, R"("ab")"));
    EXPECT_TRUE(matches(len, R"("é\n→")"));  // an escape is one character
    EXPECT_FALSE(matches(len, R"("a")"));
    EXPECT_FALSE(matches(len, R"("abcd")"));
    auto pat = schema_grammar(ojson::parse(R"({"type":"string","pattern":"^\\d{3}-[A-Z]+(x|yz)?$"})"));
    ASSERT_TRUE(pat);
    EXPECT_TRUE(matches(pat, R"("123-AB")"));
    EXPECT_TRUE(matches(pat, R"("123-Ayz")"));
    EXPECT_FALSE(matches(pat, R"("12-AB")"));
    EXPECT_FALSE(matches(pat, R"("123-ABy")"));
    auto unanchored = schema_grammar(ojson::parse(R"({"type":"string","pattern":"ab"})"));
    ASSERT_TRUE(unanchored);
    EXPECT_TRUE(matches(unanchored, R"("xxabyy")"));
    EXPECT_FALSE(matches(unanchored, R"("xxayy")"));
    auto quote = schema_grammar(ojson::parse(R"({"type":"string","pattern":"^[ -~]\"$"})"));
    ASSERT_TRUE(quote);
    EXPECT_TRUE(matches(quote, R"("a\"")"));
    EXPECT_FALSE(matches(quote, R"("""")"));  // the class never yields an unescaped quote
    auto date = schema_grammar(ojson::parse(R"({"type":"string","format":"date-time"})"));
    ASSERT_TRUE(date);
    EXPECT_TRUE(matches(date, R"("2026-12-06T13:49:35Z")"));
    EXPECT_TRUE(matches(date, R"("2026-02-28T23:59:59.123+01:00")"));
    EXPECT_FALSE(matches(date, R"("2026-13-06T13:49:35Z")"));
    auto uuid = schema_grammar(ojson::parse(R"({"type":"string","format":"uuid"})"));
    ASSERT_TRUE(uuid);
    EXPECT_TRUE(matches(uuid, R"("123e4567-e89b-12d3-a456-426614174000")"));
    EXPECT_FALSE(matches(uuid, R"("123e4567e89b12d3a456426614174000")"));
}

TEST(JsonSchema, IntegerRangesAreExact) {
    for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {-5, 5}, {7, 123}, {-1000, -17}, {95, 1005}}) {
        auto g = std::make_shared<const Grammar>(*parse_gbnf("root ::= " + integer_range(lo, hi)));
        for (int64_t x = lo - 50; x <= hi + 50; ++x) EXPECT_EQ(matches(g, std::to_string(x)), x >= lo && x <= hi) << x;
        EXPECT_FALSE(matches(g, "-0"));
        EXPECT_FALSE(matches(g, fmt::format("0{}", std::max<int64_t>(lo, 1))));
    }
}

TEST(JsonSchema, NumberBoundsHoldForEveryWrittenNumber) {
    auto g = schema_grammar(ojson::parse(R"({"type":"number","minimum":-2.5,"exclusiveMaximum":3})"));
    ASSERT_TRUE(g);
    for (const char* ok : {"-2", "-1.99", "-0.5", "0", "2.999", "1"}) EXPECT_TRUE(matches(g, ok)) << ok;
    for (const char* bad : {"3", "3.0", "-3", "1e2", "-2.6"}) EXPECT_FALSE(matches(g, bad)) << bad;
}

TEST(JsonSchema, UnsupportedKeywordsAreErrorsNamingThem) {
    EXPECT_EQ(schema_error(ojson::parse(R"({"type":"object","properties":{"a":{"type":"string","uniqueItems":true}}})")),
              "json schema at #/properties/a: unsupported keyword 'uniqueItems'");
    EXPECT_NE(schema_error(ojson::parse(R"({"allOf":[{"type":"string"}]})")).find("'allOf'"), std::string::npos);
    EXPECT_NE(schema_error(ojson::parse(R"({"type":"string","format":"email"})")).find("'email'"), std::string::npos);
    EXPECT_NE(schema_error(ojson::parse(R"({"type":"string","pattern":"(a)\\1"})")).find("'\\1'"), std::string::npos);
    EXPECT_NE(schema_error(ojson::parse(R"J({"type":"string","pattern":"(?=a)"})J")).find("look-around"), std::string::npos);
    EXPECT_NE(schema_error(ojson::parse(R"({"$ref":"#/$defs/missing"})")).find("names no definition"), std::string::npos);
    EXPECT_NE(schema_error(ojson::parse(R"({"type":"integer","minimum":5,"maximum":4})")).find("no integer"), std::string::npos);
    EXPECT_NE(schema_error(ojson::parse(R"({"type":"frog"})")).find("unknown type 'frog'"), std::string::npos);
    EXPECT_EQ(schema_error(ojson::parse(R"({"type":"string","title":"t","description":"d","default":"x"})")), "(converted)");
    ojson deep = {{"type", "string"}};
    for (int i = 0; i < 200; ++i) deep = {{"type", "array"}, {"items", deep}};
    EXPECT_NE(schema_error(deep).find("nested more than 64 deep"), std::string::npos);
    EXPECT_NE(schema_error({{"type", "string"}, {"pattern", fmt::format("{}{}", std::string(1000, '('), std::string(1000, ')'))}})
                  .find("groups nested this deep"),
              std::string::npos);
}

TEST(JsonSchema, JsonObjectGrammarAcceptsObjectsOnly) {
    auto g = std::make_shared<const Grammar>(*parse_gbnf(json_object_gbnf()));
    EXPECT_TRUE(matches(g, R"({"a":[1,2.5e-3,{"b":null}],"c":"\ud83d"})"));
    EXPECT_FALSE(matches(g, "[1]"));
    EXPECT_FALSE(matches(g, R"({"a":01})"));
    EXPECT_FALSE(matches(g, std::string("{") + std::string(30, ' ') + "}"));  // whitespace is bounded
}

// Bytes, then pieces of JSON-ish text: enough to write anything, with many multi-byte tokens.
std::shared_ptr<const TokenTrie> json_vocab() {
    std::vector<std::string> texts = {"<end>"};
    for (int b = 0; b < 256; ++b) texts.push_back(std::string(1, static_cast<char>(b)));
    for (const char* t : {"{\"", "\":", "\",", "\"}", "[\"", "\"]", "null", "true", "false", "-1", "0.", "12", "ab",
                          "2026-", "T1", ":00", "Z\"", "é", "→x", "\\n", "\\u00", "\": \"", ", ", "\n  "})
        texts.push_back(t);
    std::vector<bool> usable(texts.size(), true);
    usable[0] = false;
    return std::make_shared<const TokenTrie>(texts, usable);
}

TEST(JsonSchema, RandomWalksThroughRandomSchemasGiveValidJson) {
    auto trie = json_vocab();
    for (uint64_t seed = 1; seed <= 300; ++seed) {
        std::mt19937_64 rng(seed);
        json defs = json::object();
        json schema = test::random_schema(rng, 3, defs);
        if (!defs.empty()) schema["$defs"] = defs;
        auto g = schema_grammar(ojson::parse(schema.dump()));
        ASSERT_TRUE(g) << schema.dump();
        TokenConstraint c(g, trie, {0});
        std::string text;
        for (int step = 0; step < 5000 && !c.finished(); ++step) {
            const auto& mask = c.mask();
            std::vector<int32_t> allowed;
            for (int32_t t = 0; t < trie->n_vocab(); ++t)
                if ((mask[static_cast<size_t>(t) / 64] >> (t % 64)) & 1) allowed.push_back(t);
            ASSERT_FALSE(allowed.empty()) << schema.dump() << "\n" << text;
            // Finish when the text is complete half the time, so that walks do not run long.
            const int32_t t = c.complete() && rng() % 2 ? 0 : allowed[rng() % allowed.size()];
            if (t == 0) break;
            ASSERT_TRUE(c.accept(t).ok());
            text += trie->text(t);
        }
        ASSERT_TRUE(c.complete()) << schema.dump() << "\n" << text;
        const json value = json::parse(text, nullptr, false);
        ASSERT_FALSE(value.is_discarded()) << "seed " << seed << ": " << text;
        EXPECT_EQ(test::schema_violation(value, schema, schema), "") << "seed " << seed << " " << schema.dump() << "\n" << text;
    }
}

}  // namespace
}  // namespace rf::grammar
