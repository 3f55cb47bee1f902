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
    TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                    std::vector<int32_t> end_tokens);

    // Bit t of word t / 64 is set when token t may come next.
    const std::vector<uint64_t>& mask();
    bool allows(int32_t token);
    // Advances past `token`; an Error when the grammar does not allow it.
    Status accept(int32_t token);

    bool complete() const { return matcher_.complete(); }
    // Complete, and nothing more may follow: generation is over.
    bool finished() const { return matcher_.complete() && !matcher_.can_continue(); }
    bool is_end_token(int32_t token) const;

    struct Stats {
        int64_t masks = 0;        // mask() calls
        int64_t cache_hits = 0;   // of those, answered from the cache
        int64_t nodes_visited = 0;
    };
    const Stats& stats() const { return stats_; }

private:
    void compute_mask(std::vector<uint64_t>& bits);

    Matcher matcher_;
    std::shared_ptr<const TokenTrie> trie_;
    std::vector<int32_t> end_tokens_;
    std::unordered_map<std::string, std::vector<uint64_t>> cache_;  // by the state's heads, as bytes
    std::vector<uint64_t> mask_;
    std::vector<std::vector<Head>> levels_;  // grammar heads per trie depth
    std::vector<size_t> level_marks_;        // the matcher's frame count after each level
    std::vector<Head> single_in_, single_out_;
    Stats stats_;
};

}  // namespace rf::grammar
