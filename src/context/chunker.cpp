#include "context/chunker.h"

#include <algorithm>

#include "core/utf8.h"

namespace rf::context {

Status check_chunk_options(const ChunkOptions& o) {
    if (o.tokens < 8 || o.tokens > (1 << 20))
        return make_error("chunks of {} tokens: the size must be in [8, {}]", o.tokens, 1 << 20);
    if (o.overlap < 0 || o.overlap >= o.tokens)
        return make_error("a chunk overlap of {} tokens must be at least 0 and less than the chunk size {}", o.overlap,
                          o.tokens);
    return ok_status();
}

std::vector<TokenRange> chunk_ranges(size_t n, const ChunkOptions& o) {
    const auto size = static_cast<size_t>(o.tokens);
    const auto step = static_cast<size_t>(o.tokens - o.overlap);
    std::vector<TokenRange> out;
    if (n == 0) return out;
    for (size_t begin = 0;; begin += step) {
        const size_t end = std::min(n, begin + size);
        out.push_back({begin, end});
        if (end == n) return out;
    }
}

std::string chunk_text(const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> tokens) {
    std::string text = tokenizer.decode(tokens);
    size_t begin = 0;
    while (begin < text.size() && begin < 4 && utf8_sequence_length(std::string_view(text).substr(begin)) == 0) ++begin;
    // Drop an incomplete character at the end: walk back to the last lead byte.
    size_t end = text.size();
    for (size_t back = 1; back <= 4 && back <= end - begin; ++back) {
        const auto c = static_cast<unsigned char>(text[end - back]);
        if ((c & 0xC0) == 0x80) continue;  // a continuation byte
        if (utf8_sequence_length(std::string_view(text).substr(end - back)) == 0) end -= back;
        break;
    }
    return text.substr(begin, end - begin);
}

}  // namespace rf::context
