#include "grammar/token_constraint.h"

#include <algorithm>

#include <fmt/format.h>

namespace rf::grammar {

namespace {

// Masks kept per request; a grammar that visits more distinct states than this starts over.
constexpr size_t kCachedMasks = 64;

}  // namespace

TokenConstraint::TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                                 std::vector<int32_t> end_tokens, uint64_t max_mask_work)
    : matcher_(std::move(grammar)), trie_(std::move(trie)), end_tokens_(std::move(end_tokens)) {
    max_mask_work_ = max_mask_work > 0 ? max_mask_work
                                       : std::max(kMinMaskWork, kMaskWorkPerNode * trie_->nodes().size());
    levels_.resize(trie_->max_depth() + 1);
    level_marks_.resize(trie_->max_depth() + 1);
}

bool TokenConstraint::is_end_token(int32_t token) const {
    return std::find(end_tokens_.begin(), end_tokens_.end(), token) != end_tokens_.end();
}

const std::vector<uint64_t>& TokenConstraint::mask() {
    ++stats_.masks;
    if (!error_.empty()) {
        mask_.assign((static_cast<size_t>(trie_->n_vocab()) + 63) / 64, 0);
        return mask_;
    }
    const auto& heads = matcher_.heads();
    // The state's frames are interned, so equal states have equal heads (Head has padding: copy fields).
    std::string key;
    for (const Head& h : heads) {
        const uint32_t fields[3] = {static_cast<uint32_t>(h.top), h.partial, uint32_t{h.need} << 8 | h.length};
        key.append(reinterpret_cast<const char*>(fields), sizeof(fields));
    }
    if (auto it = cache_.find(key); it != cache_.end()) {
        ++stats_.cache_hits;
        mask_ = it->second;
        return mask_;
    }
    if (!compute_mask(mask_)) {
        mask_.assign(mask_.size(), 0);
        error_ = fmt::format("the grammar is too ambiguous to follow here ({} ways to read the text so far)", heads.size());
        return mask_;
    }
    if (matcher_.complete())
        for (int32_t t : end_tokens_)
            if (t >= 0 && t < trie_->n_vocab()) mask_[static_cast<size_t>(t) / 64] |= uint64_t{1} << (t % 64);
    if (cache_.size() >= kCachedMasks) cache_.clear();
    cache_.emplace(std::move(key), mask_);
    return mask_;
}

bool TokenConstraint::compute_mask(std::vector<uint64_t>& bits) {
    bits.assign((static_cast<size_t>(trie_->n_vocab()) + 63) / 64, 0);
    const size_t start = matcher_.mark();
    const uint64_t work_start = matcher_.work();
    bool within_budget = true;
    levels_[0] = matcher_.heads();
    level_marks_[0] = start;
    const auto& nodes = trie_->nodes();
    const auto& tokens = trie_->tokens();
    for (size_t i = 0; i < nodes.size();) {
        const TokenTrie::Node& n = nodes[i];
        ++stats_.nodes_visited;
        // Frames made below a sibling's subtree are no longer referenced by anything kept.
        matcher_.rewind(level_marks_[n.depth - 1u]);
        std::vector<Head>& here = levels_[n.depth];
        matcher_.step(levels_[n.depth - 1u], n.byte, here);
        if (matcher_.work() - work_start > max_mask_work_) {
            within_budget = false;
            break;
        }
        if (here.empty()) {
            i = n.subtree_end;
            continue;
        }
        for (uint32_t k = n.tokens_begin; k < n.tokens_end; ++k)
            bits[static_cast<size_t>(tokens[k]) / 64] |= uint64_t{1} << (tokens[k] % 64);
        level_marks_[n.depth] = matcher_.mark();
        ++i;
    }
    matcher_.rewind(start);
    stats_.work += static_cast<int64_t>(matcher_.work() - work_start);
    return within_budget;
}

bool TokenConstraint::allows(int32_t token) {
    if (!error_.empty()) return false;
    if (is_end_token(token)) return matcher_.complete();
    if (!trie_->usable(token)) return false;
    const size_t start = matcher_.mark();
    single_in_ = matcher_.heads();
    for (char c : trie_->text(token)) {
        matcher_.step(single_in_, static_cast<uint8_t>(c), single_out_);
        std::swap(single_in_, single_out_);
        if (single_in_.empty()) break;
    }
    matcher_.rewind(start);
    return !single_in_.empty();
}

Status TokenConstraint::accept(int32_t token) {
    if (!error_.empty()) return make_error("{}", error_);
    if (is_end_token(token)) {
        if (matcher_.complete()) return ok_status();
        return make_error("the grammar does not allow the output to end here");
    }
    const uint64_t collections = matcher_.collections();
    if (!trie_->usable(token) || !matcher_.accept(trie_->text(token)))
        return make_error("the grammar does not allow token {} here", token);
    if (matcher_.collections() != collections) cache_.clear();  // its keys are frame numbers
    if (matcher_.live_frames() > kMaxLiveFrames) {  // the token is taken, but nothing more will be
        error_ = fmt::format("the grammar is too ambiguous to follow here ({} ways to read the text so far, {} frames)",
                             matcher_.heads().size(), matcher_.live_frames());
        return make_error("{}", error_);
    }
    return ok_status();
}

}  // namespace rf::grammar
