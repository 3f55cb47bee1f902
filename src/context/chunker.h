// Splits a long text into chunks on token boundaries: windows of `tokens` tokens that overlap by
// `overlap`, so that a passage cut at a boundary is still whole in one of its two chunks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "tokenizer/tokenizer.h"

namespace rf::context {

struct ChunkOptions {
    int64_t tokens = 256;  // tokens per chunk
    int64_t overlap = 32;  // tokens shared by neighbouring chunks, less than `tokens`
};

Status check_chunk_options(const ChunkOptions& options);

struct TokenRange {
    size_t begin = 0, end = 0;  // [begin, end)
};

// The windows covering n tokens: one when n <= tokens, else windows of `tokens` stepping by
// tokens - overlap, the last one ending at n.
std::vector<TokenRange> chunk_ranges(size_t n, const ChunkOptions& options);

// The text of a slice of tokens, without the partial UTF-8 characters a cut may leave at its
// edges (a byte-level token can hold part of a character).
std::string chunk_text(const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> tokens);

}  // namespace rf::context
