// Internal: what a loaded Tokenizer shares between its copies and its stream decoders.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_split.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace rf::tokenizer {

struct Tokenizer::State {
    Vocab vocab;
    std::optional<PreTokenizer> pre_tokenizer;  // byte-level BPE only
    SpecialTokenMatcher specials;
    std::vector<std::string> token_bytes;  // what each token decodes to
    bool strips_leading_space = false;      // decoding drops the space the encoder put in front
};

// Renders tokens one at a time, remembering whether the next text starts a run (after the start
// or a special token), where the encoder may have added a leading space.
class DecodeCursor {
public:
    void append(const Tokenizer::State& state, int32_t id, const DecodeOptions& options, std::string& out);
    void reset() { at_text_start_ = true; }

private:
    bool at_text_start_ = true;
};

}  // namespace rf::tokenizer
