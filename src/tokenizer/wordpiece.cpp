#include "tokenizer/wordpiece.h"

#include <algorithm>
#include <cstdint>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "tokenizer/utf8_codec.h"

namespace rf::tokenizer {
namespace {

// Longer words are not worth searching: they become the unknown token, as in BERT.
constexpr size_t kMaxWordChars = 100;

bool is_control(UChar32 c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    switch (u_charType(c)) {
        case U_CONTROL_CHAR: case U_FORMAT_CHAR: case U_SURROGATE: case U_PRIVATE_USE_CHAR:
        case U_UNASSIGNED:
            return true;
        default:
            return false;
    }
}

bool is_punctuation(UChar32 c) {
    if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    return u_ispunct(c);
}

bool is_cjk_ideograph(UChar32 c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

icu::UnicodeString decomposed(std::string_view text) {
    icu::UnicodeString source = icu::UnicodeString::fromUTF8(
        icu::StringPiece(text.data(), static_cast<int32_t>(std::min<size_t>(text.size(), INT32_MAX))));
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
    if (U_FAILURE(status)) return source;
    icu::UnicodeString result = nfd->normalize(source, status);
    return U_FAILURE(status) ? source : result;
}

// Covers one word with the longest pieces; false when some part has no piece.
bool cover_word(const Vocab& vocab, const std::vector<uint32_t>& chars, std::vector<int32_t>& out) {
    const size_t start_size = out.size();
    std::string candidate;
    for (size_t start = 0; start < chars.size();) {
        int32_t found = kNoToken;
        size_t found_end = start;
        for (size_t end = chars.size(); end > start; --end) {
            candidate = start == 0 ? "\xE2\x96\x81" : "";
            for (size_t i = start; i < end; ++i) append_utf8(candidate, chars[i]);
            int32_t id = vocab.find(candidate);
            if (id != kNoToken && vocab.is_text_token(id)) {
                found = id;
                found_end = end;
                break;
            }
        }
        if (found == kNoToken) {
            out.resize(start_size);
            return false;
        }
        out.push_back(found);
        start = found_end;
    }
    return true;
}

}  // namespace

std::vector<std::string> wordpiece_words(std::string_view text) {
    std::vector<std::string> words(1);
    auto end_word = [&] {
        if (!words.back().empty()) words.emplace_back();
    };
    icu::UnicodeString chars = decomposed(text);
    for (int32_t i = 0; i < chars.length();) {
        UChar32 c = chars.char32At(i);
        i += U16_LENGTH(c);
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (u_isUWhiteSpace(c)) {
            end_word();
            continue;
        }
        if (u_charType(c) == U_NON_SPACING_MARK) continue;  // accents, after decomposition
        c = u_tolower(c);
        if (is_punctuation(c) || is_cjk_ideograph(c)) {
            end_word();
            append_utf8(words.back(), static_cast<uint32_t>(c));
            words.emplace_back();
        } else {
            append_utf8(words.back(), static_cast<uint32_t>(c));
        }
    }
    if (words.back().empty()) words.pop_back();
    return words;
}

void wordpiece_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
    std::vector<uint32_t> chars;
    for (const std::string& word : wordpiece_words(text)) {
        chars.clear();
        for (size_t pos = 0; pos < word.size();) chars.push_back(next_code_point(word, pos));
        if (chars.size() > kMaxWordChars || !cover_word(vocab, chars, out)) {
            if (vocab.special.unk != kNoToken) out.push_back(vocab.special.unk);
        }
    }
}

}  // namespace rf::tokenizer
