#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_state.h"

namespace rf::tokenizer {

void DecodeCursor::append(const Tokenizer::State& state, int32_t id, const DecodeOptions& options,
                          std::string& out) {
    const Vocab& vocab = state.vocab;
    if (!vocab.valid(id)) return;
    const std::string& bytes = state.token_bytes[static_cast<size_t>(id)];
    switch (vocab.kind_of(id)) {
        case TokenKind::Control:
        case TokenKind::Unknown:
            if (options.show_special) out += bytes;
            at_text_start_ = true;
            return;
        case TokenKind::UserDefined:
            out += bytes;
            at_text_start_ = true;
            return;
        default:
            break;
    }
    std::string_view text = bytes;
    if (at_text_start_ && options.strip_space_prefix && state.strips_leading_space && !text.empty() &&
        text.front() == ' ') {
        text.remove_prefix(1);
    }
    out += text;
    at_text_start_ = false;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, DecodeOptions options) const {
    std::string out;
    DecodeCursor cursor;
    for (int32_t id : ids) cursor.append(*state_, id, options, out);
    return out;
}

}  // namespace rf::tokenizer
