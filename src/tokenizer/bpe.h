// Byte-level BPE: a pre-tokenized word starts as one token per byte and adjacent pairs merge in
// rank order. Pairs wait in a priority queue over a linked list of symbols, so a word of n bytes
// costs O(n log n) however long it is.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace rf::tokenizer {

// Appends the tokens of one word (raw bytes, not byte-level text) to `out`.
// With `whole_word_tokens`, a word that is itself a token is emitted without merging.
void bpe_encode_word(const Vocab& vocab, std::string_view word, bool whole_word_tokens,
                     std::vector<int32_t>& out);

}  // namespace rf::tokenizer
