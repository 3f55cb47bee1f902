// Incremental detokenization for streaming generated text: each push returns only whole UTF-8
// characters, holding back the start of a character whose remaining bytes are still to come (a
// byte-fallback or byte-level token may carry a fraction of a character).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_state.h"

namespace rf::tokenizer {

class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});

    // The text completed by this token. Bytes that can never become a character (the model can
    // generate any byte sequence) come out as U+FFFD, so the output is always valid UTF-8; for
    // tokens that decode to valid UTF-8, the concatenated output equals Tokenizer::decode.
    std::string push(int32_t id);
    // Ends the stream: a held-back incomplete character comes out as U+FFFD.
    std::string finish();
    void reset();

    bool has_pending() const { return !pending_.empty(); }

private:
    std::shared_ptr<const Tokenizer::State> state_;
    DecodeOptions options_;
    DecodeCursor cursor_;
    std::string pending_;  // bytes of an incomplete character
};

}  // namespace rf::tokenizer
