// The vocabulary's token texts (the bytes each token decodes to) in a trie laid out in depth-first
// order: a node's children follow it, and `subtree_end` is where its subtree stops. A token mask
// walks it once per step, advancing the grammar by one byte per node and skipping the whole subtree
// of a byte the grammar refuses, so most of the vocabulary is never looked at.
//
// Built once per tokenizer (for_tokenizer caches it) from the tokens whose text the output can
// show: normal, user-defined and byte tokens. Control tokens are never in it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace rf::grammar {

class TokenTrie {
public:
    struct Node {
        uint32_t subtree_end = 0;  // index one past this node's last descendant
        uint32_t tokens_begin = 0, tokens_end = 0;  // into tokens(): the tokens whose text ends here
        uint16_t depth = 0;        // bytes from the root (1 for the first byte)
        uint8_t byte = 0;
    };

    // `texts[id]` is token id's text; tokens with `usable[id]` false are left out.
    TokenTrie(std::vector<std::string> texts, const std::vector<bool>& usable);
    // The trie of a tokenizer's vocabulary, built on first use and shared afterwards.
    static std::shared_ptr<const TokenTrie> for_tokenizer(const tokenizer::Tokenizer& tokenizer);

    const std::vector<Node>& nodes() const { return nodes_; }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int32_t n_vocab() const { return static_cast<int32_t>(texts_.size()); }
    bool usable(int32_t id) const { return id >= 0 && id < n_vocab() && usable_[static_cast<size_t>(id)]; }
    std::string_view text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
    size_t max_depth() const { return max_depth_; }

private:
    std::vector<std::string> texts_;
    std::vector<bool> usable_;
    std::vector<Node> nodes_;
    std::vector<int32_t> tokens_;
    size_t max_depth_ = 0;
};

}  // namespace rf::grammar
