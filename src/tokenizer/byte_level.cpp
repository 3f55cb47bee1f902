#include "tokenizer/byte_level.h"

#include "tokenizer/utf8_codec.h"

namespace rf::tokenizer {
namespace {

// Printable Latin-1 bytes stand for themselves; the others (controls, space, DEL, NBSP, soft
// hyphen...) take the code points from U+0100 upwards, in byte order.
bool stands_for_itself(int byte) {
    return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct Tables {
    std::array<std::string, 256> chars;
    std::array<int16_t, 512> byte_of_code_point{};  // every mapped code point is below U+0144

    Tables() {
        byte_of_code_point.fill(-1);
        uint32_t next_extra = 256;
        for (int byte = 0; byte < 256; ++byte) {
            uint32_t cp = stands_for_itself(byte) ? static_cast<uint32_t>(byte) : next_extra++;
            append_utf8(chars[static_cast<size_t>(byte)], cp);
            byte_of_code_point[cp] = static_cast<int16_t>(byte);
        }
    }
};

const Tables& tables() {
    static const Tables instance;
    return instance;
}

}  // namespace

const std::array<std::string, 256>& byte_level_chars() { return tables().chars; }

int byte_from_byte_level(uint32_t code_point) {
    if (code_point >= tables().byte_of_code_point.size()) return -1;
    return tables().byte_of_code_point[code_point];
}

std::string decode_byte_level(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        size_t start = pos;
        uint32_t cp = next_code_point(text, pos);
        int byte = byte_from_byte_level(cp);
        if (byte >= 0 && utf8_sequence_length(text.substr(start)) != 0) {
            out += static_cast<char>(byte);
        } else {
            out.append(text.substr(start, pos - start));
        }
    }
    return out;
}

}  // namespace rf::tokenizer
