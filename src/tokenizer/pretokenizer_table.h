// Which split expressions each tokenizer.ggml.pre value stands for (byte-level BPE vocabularies).
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace rf::tokenizer {

struct PreTokenizerSpec {
    // Applied in order: each expression splits every piece the previous ones produced, keeping both
    // the matches and the text between them.
    std::vector<std::string_view> patterns;
    // Words that are whole tokens skip the merges (vocabularies trained that way).
    bool whole_word_tokens = false;
};

// The spec for a tokenizer.ggml.pre value, or nullptr when the value is unknown.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view name);

// Every accepted name, for error messages.
std::vector<std::string_view> pre_tokenizer_names();

}  // namespace rf::tokenizer
