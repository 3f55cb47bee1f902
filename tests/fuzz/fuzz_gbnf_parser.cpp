// libFuzzer target: the GBNF parser gives a grammar or an Error for any text, never a crash or a
// hang; a grammar it accepts can be walked (grammar_walk.h). Input: the grammar's text, then after
// a NUL byte the bytes that steer the walk.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "grammar/gbnf_parser.h"
#include "grammar_walk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t cut = in.find('\0');
    auto grammar = rf::grammar::parse_gbnf(in.substr(0, cut));
    if (!grammar.ok() || cut == std::string_view::npos) return 0;
    (void)rf::fuzz::walk(std::make_shared<const rf::grammar::Grammar>(std::move(*grammar)), in.substr(cut + 1));
    return 0;
}
