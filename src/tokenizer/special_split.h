// Finds special tokens written out in text (e.g. "<|im_start|>") before the text is tokenized.
// User-defined tokens are always matched; control and unknown tokens only when the caller asks
// for special parsing. At each position the longest matching token wins.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace rf::tokenizer {

struct Fragment {
    std::string_view text;    // the raw text, when token == kNoToken
    int32_t token = kNoToken;  // a special token found in the text
};

class SpecialTokenMatcher {
public:
    SpecialTokenMatcher() = default;
    explicit SpecialTokenMatcher(const Vocab& vocab);

    // Splits `text` into raw-text fragments (never empty) and special tokens, in order.
    void split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

private:
    struct Candidate {
        std::string_view text;  // points into the Vocab's token strings
        int32_t id;
        bool always;  // user-defined: matched even without special parsing
    };
    // Candidates by first byte, longest first.
    std::array<std::vector<Candidate>, 256> by_first_byte_;
};

}  // namespace rf::tokenizer
