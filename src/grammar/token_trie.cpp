#include "grammar/token_trie.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <utility>

namespace rf::grammar {

TokenTrie::TokenTrie(std::vector<std::string> texts, const std::vector<bool>& usable) : texts_(std::move(texts)) {
    usable_.assign(texts_.size(), false);
    std::vector<int32_t> order;
    for (size_t id = 0; id < texts_.size(); ++id)
        if (id < usable.size() && usable[id] && !texts_[id].empty()) {
            usable_[id] = true;
            order.push_back(static_cast<int32_t>(id));
        }
    // Sorted texts: a prefix comes before its extensions and equal texts are adjacent, so one pass
    // builds the trie in depth-first order.
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return texts_[a] < texts_[b]; });
    std::vector<uint32_t> path;  // node index per depth of the current path
    const std::string* previous = nullptr;
    for (int32_t id : order) {
        const std::string& t = texts_[static_cast<size_t>(id)];
        size_t common = 0;
        if (previous)
            while (common < previous->size() && common < t.size() && (*previous)[common] == t[common]) ++common;
        while (path.size() > common) {  // leave the nodes this text does not share
            nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
            path.pop_back();
        }
        for (size_t d = common; d < t.size(); ++d) {
            path.push_back(static_cast<uint32_t>(nodes_.size()));
            const auto tokens_at = static_cast<uint32_t>(tokens_.size());
            nodes_.push_back({.tokens_begin = tokens_at, .tokens_end = tokens_at, .depth = static_cast<uint16_t>(d + 1),
                              .byte = static_cast<uint8_t>(t[d])});
        }
        // A node's tokens are added while it ends the path, so they stay contiguous.
        tokens_.push_back(id);
        nodes_[path.back()].tokens_end = static_cast<uint32_t>(tokens_.size());
        max_depth_ = std::max(max_depth_, t.size());
        previous = &t;
    }
    while (!path.empty()) {
        nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
        path.pop_back();
    }
}

std::shared_ptr<const TokenTrie> TokenTrie::for_tokenizer(const tokenizer::Tokenizer& tok) {
    // A few vocabularies at most are alive in one process; keep the latest ones.
    static std::mutex mutex;
    static std::vector<std::pair<uint64_t, std::shared_ptr<const TokenTrie>>> cache;
    constexpr size_t kKept = 4;
    const uint64_t serial = tok.vocab().serial;
    std::lock_guard lock(mutex);
    for (const auto& [s, trie] : cache)
        if (s == serial) return trie;
    std::vector<std::string> texts;
    std::vector<bool> usable;
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        texts.push_back(tok.token_bytes(id));
        const tokenizer::TokenKind k = tok.token_kind(id);
        usable.push_back(k == tokenizer::TokenKind::Normal || k == tokenizer::TokenKind::UserDefined ||
                         k == tokenizer::TokenKind::Byte);
    }
    auto trie = std::make_shared<const TokenTrie>(std::move(texts), usable);
    if (cache.size() >= kKept) cache.erase(cache.begin());
    cache.emplace_back(serial, trie);
    return trie;
}

}  // namespace rf::grammar
