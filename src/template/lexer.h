// Splits template source into text and tag tokens, applying whitespace control: `-` markers,
// `+` markers, trim_blocks (drop the newline after a block or comment tag) and lstrip_blocks (drop
// spaces before a block or comment tag that starts a line), the way the reference renderer's
// lexer does. Raw blocks come out as plain text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace rf::tmpl {

struct SourcePos {
    int line = 1;
    int column = 1;
};

struct Token {
    enum class Kind { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };
    Kind kind;
    std::string text;  // Text content, name, decoded string literal, or operator spelling
    int64_t int_value = 0;
    double float_value = 0;
    SourcePos pos;
};

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;  // by default one newline ending the source is dropped
};

Result<std::vector<Token>> tokenize(const std::string& source, const LexOptions& options = {});

std::string describe(const Token& token);

}  // namespace rf::tmpl
