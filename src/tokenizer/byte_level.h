// The byte <-> printable-character mapping of byte-level BPE vocabularies: every byte is shown as
// one visible code point so that token text never holds raw control bytes or spaces.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rf::tokenizer {

// UTF-8 text of the code point that stands for each byte.
const std::array<std::string, 256>& byte_level_chars();

// The byte a code point stands for, or -1 when it stands for none.
int byte_from_byte_level(uint32_t code_point);

// Turns byte-level token text back into raw bytes; code points outside the mapping are kept as
// their UTF-8 so that nothing is silently dropped.
std::string decode_byte_level(std::string_view text);

}  // namespace rf::tokenizer
