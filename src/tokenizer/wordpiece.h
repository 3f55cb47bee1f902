// WordPiece (BERT): the text is cleaned, accents stripped (NFD without non-spacing marks), lower-
// cased, split at whitespace, punctuation and CJK ideographs; then each word is covered greedily by
// the longest vocabulary entries. In GGUF vocabularies a word-initial piece carries a U+2581 prefix
// and a continuation piece none. A word that cannot be covered becomes the unknown token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace rf::tokenizer {

// The normalized words of `text`, as UTF-8.
std::vector<std::string> wordpiece_words(std::string_view text);

void wordpiece_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace rf::tokenizer
