// SentencePiece-style BPE: the text (spaces already escaped as U+2581) starts as one symbol per
// character; the adjacent pair whose concatenation is the highest-scoring token merges first.
// A priority queue over a linked list of symbols keeps a long word at O(n log n). Symbols that are
// no token at the end fall back to byte tokens (<0xNN>), or to the unknown token.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace rf::tokenizer {

void spm_encode(const Vocab& vocab, std::string_view escaped_text, std::vector<int32_t>& out);

// True when no text token holds U+2581 right after a character other than U+2581: then no merge
// can join a word to the text before it, and each word can be merged on its own (much faster
// than one queue over a whole document, and the same result).
bool spm_words_are_independent(const Vocab& vocab);

// Fills vocab.merges with every way a text token splits into two text tokens, ranked by the
// token's score, so that merging compares ids instead of hashing strings.
void build_spm_merges(Vocab& vocab);

// Replaces every space with U+2581, the character SentencePiece vocabularies use for it.
std::string escape_spaces(std::string_view text);

}  // namespace rf::tokenizer
