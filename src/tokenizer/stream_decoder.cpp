#include "tokenizer/stream_decoder.h"

#include "tokenizer/utf8_codec.h"

namespace rf::tokenizer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : state_(tokenizer.state_), options_(options) {}

std::string StreamDecoder::push(int32_t id) {
    cursor_.append(*state_, id, options_, pending_);
    std::string out;
    std::string_view rest = pending_;
    while (!rest.empty()) {
        size_t len = utf8_sequence_length(rest);
        if (len > 0) {
            out.append(rest.substr(0, len));
            rest.remove_prefix(len);
        } else if (is_incomplete_utf8_prefix(rest)) {
            break;  // wait for the rest of the character
        } else {
            append_utf8(out, kReplacementChar);
            rest.remove_prefix(1);
        }
    }
    pending_ = std::string(rest);
    return out;
}

std::string StreamDecoder::finish() {
    std::string out;
    if (!pending_.empty()) append_utf8(out, kReplacementChar);
    pending_.clear();
    return out;
}

void StreamDecoder::reset() {
    pending_.clear();
    cursor_.reset();
}

}  // namespace rf::tokenizer
