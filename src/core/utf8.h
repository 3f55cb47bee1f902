// UTF-8 validation and decoding shared by the GGUF reader and the tokenizers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rf {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Length in bytes of the well-formed sequence starting at text[0], or 0 if it is not well-formed.
size_t utf8_sequence_length(std::string_view text);

// Appends the UTF-8 encoding of code point `cp` (callers pass valid scalar values).
void append_utf8(std::string& out, uint32_t cp);

}  // namespace rf
