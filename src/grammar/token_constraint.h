// A grammar applied to a model's tokens: which tokens may come next (a bitmask over the
// vocabulary), whether one sampled token fits, and the state advanced by the token chosen.
// The end-of-generation tokens are allowed exactly when the text so far is complete.
//
// The mask walks the token trie together with the grammar state (see token_trie.h), and is kept
// per distinct state: JSON returns to the same state again and again (inside a string, between
// values), and those steps cost one lookup.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"

namespace rf::grammar {

class TokenConstraint {
public:
    // `max_mask_work`: the budget of one mask in matcher steps (Matcher::work); 0 for the default,
    // kMaskWorkPerNode per node of the trie and at least kMinMaskWork.
    TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                    std::vector<int32_t> end_tokens, uint64_t max_mask_work = 0);

    // Bit t of word t / 64 is set when token t may come next. No bit is set once error() says why
    // the grammar cannot be followed any further.
    const std::vector<uint64_t>& mask();
    bool allows(int32_t token);
    // Advances past `token`; an Error when the grammar does not allow it.
    Status accept(int32_t token);

    bool complete() const { return matcher_.complete(); }
    // Complete, and nothing more may follow: generation is over.
    bool finished() const { return matcher_.complete() && !matcher_.can_continue(); }
    bool is_end_token(int32_t token) const;
    // Why the grammar cannot be followed any further (empty while it can): so ambiguous here that
    // one mask would cost more than its budget, or its state hold more than kMaxLiveFrames frames.
    // From then on no token is allowed or accepted.
    const std::string& error() const { return error_; }

    struct Stats {
        int64_t masks = 0;        // mask() calls
        int64_t cache_hits = 0;   // of those, answered from the cache
        int64_t nodes_visited = 0;
        int64_t work = 0;  // the matcher's work in masks (Matcher::work)
    };
    const Stats& stats() const { return stats_; }

private:
    // False when the mask would cost more than its budget.
    bool compute_mask(std::vector<uint64_t>& bits);

    Matcher matcher_;
    std::shared_ptr<const TokenTrie> trie_;
    std::vector<int32_t> end_tokens_;
    uint64_t max_mask_work_;
    std::unordered_map<std::string, std::vector<uint64_t>> cache_;  // by the state's heads, as bytes
    std::vector<uint64_t> mask_;
    std::vector<std::vector<Head>> levels_;  // grammar heads per trie depth
    std::vector<size_t> level_marks_;        // the matcher's frame count after each level
    std::vector<Head> single_in_, single_out_;
    Stats stats_;
    std::string error_;
};

// By default a mask may cost this many matcher steps per node of the token trie (and at least
// kMinMaskWork), so that an ambiguous grammar fails its request instead of stalling every
// sequence in the batch: ~25 ms a mask for a 32,000-token vocabulary on the development VM's CPU.
// JSON Schema grammars measured under 4 per node (docs/server.md).
inline constexpr uint64_t kMaskWorkPerNode = 64;
inline constexpr uint64_t kMinMaskWork = uint64_t{1} << 18;
// Frames the grammar state may hold (stacks times their depth, shared parts once): 2 MiB of
// frames, ~30 MiB with the frames between collections and their index.
inline constexpr size_t kMaxLiveFrames = size_t{1} << 18;

}  // namespace rf::grammar
