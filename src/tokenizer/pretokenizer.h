// Splits text into words before byte-level BPE, with the expressions tokenizer.ggml.pre selects.
// Compiled once with PCRE2 (UTF + Unicode properties + JIT); matching is thread-safe.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace rf::tokenizer {

class PreTokenizer {
public:
    // Error when `name` is not a known tokenizer.ggml.pre value (the message lists the known ones).
    static Result<PreTokenizer> create(std::string_view name);
    // Compiles the given expressions (each splits the pieces of the one before).
    static Result<PreTokenizer> from_patterns(const std::vector<std::string_view>& patterns,
                                              bool whole_word_tokens = false);

    // Appends the words of `text` to `words`; they are views into `text` and cover it exactly.
    // Invalid UTF-8 never matches a pattern, so such bytes end up in words of their own.
    void split(std::string_view text, std::vector<std::string_view>& words) const;

    bool whole_word_tokens() const { return whole_word_tokens_; }

private:
    struct Compiled;
    std::vector<std::shared_ptr<const Compiled>> patterns_;
    bool whole_word_tokens_ = false;
};

}  // namespace rf::tokenizer
