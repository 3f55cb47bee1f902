// Code-point level UTF-8 helpers for the tokenizers: decoding that never fails (bad bytes become
// U+FFFD one byte at a time, so callers always make progress) and encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.h"

namespace rf::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes the code point at text[pos] and advances pos past it (by one byte when malformed).
inline uint32_t next_code_point(std::string_view text, size_t& pos) {
    size_t len = utf8_sequence_length(text.substr(pos));
    if (len == 0) {
        ++pos;
        return kReplacementChar;
    }
    auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[pos + i])); };
    uint32_t cp;
    switch (len) {
        case 1: cp = b(0); break;
        case 2: cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F); break;
        case 3: cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F); break;
        default: cp = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    }
    pos += len;
    return cp;
}

// Length of the character starting at text[0] for splitting purposes: a malformed byte counts as
// one character of its own, so byte fallback can still represent it.
inline size_t char_length(std::string_view text) {
    size_t len = utf8_sequence_length(text);
    return len == 0 ? 1 : len;
}

// True when `text` is the beginning of a well-formed sequence that more bytes could complete.
inline bool is_incomplete_utf8_prefix(std::string_view text) {
    if (text.empty()) return false;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
    uint8_t b0 = byte(0);
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return false;
    }
    if (text.size() >= need) return false;
    if (text.size() >= 2 && (byte(1) < lo || byte(1) > hi)) return false;
    for (size_t i = 2; i < text.size(); ++i) {
        if ((byte(i) & 0xC0) != 0x80) return false;
    }
    return true;
}

}  // namespace rf::tokenizer
