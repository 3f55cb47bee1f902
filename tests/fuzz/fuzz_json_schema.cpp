// libFuzzer target: JSON Schema to GBNF gives a grammar or an Error for any JSON, never a crash or
// a hang; every grammar it writes is one its own parser reads, and a walk through it (grammar_walk.h)
// that ends complete has written JSON. Input: the schema's text, then after a NUL byte the bytes
// that steer the walk.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar_walk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t cut = in.find('\0');
    const auto schema = nlohmann::ordered_json::parse(in.substr(0, cut), nullptr, false);
    if (schema.is_discarded()) return 0;
    auto gbnf = rf::grammar::json_schema_to_gbnf(schema);
    if (!gbnf.ok()) return 0;
    auto parsed = rf::grammar::parse_gbnf(*gbnf);
    if (!parsed.ok()) {
        std::fprintf(stderr, "the schema's grammar does not parse: %s\n%s\n", parsed.error().message.c_str(), gbnf->c_str());
        std::abort();
    }
    if (cut == std::string_view::npos) return 0;
    auto grammar = std::make_shared<const rf::grammar::Grammar>(std::move(*parsed));
    const std::string text = rf::fuzz::walk(grammar, in.substr(cut + 1));
    rf::grammar::Matcher m(grammar);
    if (m.accept(text) && m.complete() && !nlohmann::json::accept(text)) {
        std::fprintf(stderr, "a complete text is not JSON: %s\n", text.c_str());
        std::abort();
    }
    return 0;
}
