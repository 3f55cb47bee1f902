// Natural text repeats its words, so each thread remembers the tokens of recent short words.
// Used by the encoders that merge word by word.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace rf::tokenizer {

class WordCache {
public:
    const std::vector<int32_t>* find(const Vocab& vocab, std::string_view word) {
        if (serial_ != vocab.serial) {
            entries_.clear();
            serial_ = vocab.serial;
        }
        auto it = entries_.find(word);
        return it == entries_.end() ? nullptr : &it->second;
    }
    void add(std::string_view word, std::span<const int32_t> ids) {
        if (entries_.size() >= kMaxEntries) entries_.clear();  // crude, but keeps memory bounded
        entries_.emplace(std::string(word), std::vector<int32_t>(ids.begin(), ids.end()));
    }

    static constexpr size_t kMaxWordBytes = 32;

private:
    static constexpr size_t kMaxEntries = 1 << 16;
    uint64_t serial_ = 0;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> entries_;
};

}  // namespace rf::tokenizer
