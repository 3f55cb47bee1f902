// The KV cache as the engine manages it: a pool of fixed-size blocks in backend storage and a
// block table per sequence (logical block i of a sequence lives in physical block table[i]).
//
// Blocks are reference-counted so that sequences can share them. Prefix caching: once a full
// block's keys and values are computed, `publish` files it under a hash of (the hash of the
// previous block, this block's token ids); `adopt_prefix` maps such blocks into a new sequence's
// table instead of recomputing them. Only full blocks are shared, and a shared or published
// block is never written again (a sequence's partially filled last block is always private).
// A published block that no sequence holds stays cached until the free list runs dry, then
// the least recently used one is evicted.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "model/hparams.h"
#include "model/placement.h"

namespace rf::engine {

struct KvCacheOptions {
    int64_t n_ctx = 4096;      // most positions one sequence may hold
    int64_t max_sequences = 1;
    int64_t block_size = 16;   // token slots per block
    KvType type = KvType::F32;
    int64_t n_blocks = 0;      // blocks in the pool; 0: enough for every sequence's full context
};

// What adopt_prefix would reuse: `blocks` full blocks, of which `evictable` are cached but held
// by no sequence (adopting them takes them out of the evictable pool).
struct PrefixMatch {
    int64_t blocks = 0;
    int64_t evictable = 0;
};

class KvCache {
public:
    static Result<KvCache> create(Backend& backend, const model::HParams& hp, const KvCacheOptions& options);
    // Storage for each layer on its backend: one storage per backend of the placement that has
    // layers, holding those layers only. Blocks and tables are shared by all of them.
    static Result<KvCache> create(const model::Placement& placement, const model::HParams& hp,
                                  const KvCacheOptions& options);
    // The storage shape of a pool of `n_blocks` blocks for `n_layers` layers of the model (-1: all).
    static KvCacheShape shape(const model::HParams& hp, int64_t block_size, KvType type, int64_t n_blocks,
                              int64_t n_layers = -1);
    // Bytes of backend memory one block takes (keys and values of every layer, as the backend
    // lays them out).
    static int64_t block_bytes(const Backend& backend, const model::HParams& hp, int64_t block_size, KvType type);
    // The same for the layers the placement puts on the backend of `part` (0 when it has none).
    static int64_t part_block_bytes(const model::Placement& placement, int part, const model::HParams& hp,
                                    int64_t block_size, KvType type);

    // The storage of the backend of `part`, or null when the placement puts no layer there.
    KvStorage* storage(int part) const { return storages_[static_cast<size_t>(part)].get(); }
    int64_t n_ctx() const { return options_.n_ctx; }
    int64_t block_size() const { return options_.block_size; }
    int64_t max_blocks_per_seq() const { return max_blocks_per_seq_; }
    int64_t max_sequences() const { return options_.max_sequences; }

    // Every sequence's block table, row = sequence id; unused entries are -1.
    std::span<const int32_t> block_tables() const { return tables_; }
    // Positions currently held by `seq`.
    int64_t length(int32_t seq) const { return lengths_[seq]; }

    // Makes room for positions [0, n) of `seq`; an Error when the context or the cache is full.
    Status reserve(int32_t seq, int64_t n);
    // Forgets positions >= n (returning whole blocks beyond them). When the block holding
    // position n - 1 is shared with another sequence it cannot be written again, so it is let go
    // too and the sequence keeps fewer positions (a multiple of the block size).
    void truncate(int32_t seq, int64_t n);
    // Forgets the whole sequence.
    void release(int32_t seq) { truncate(seq, 0); }
    // The physical slot of position `pos` of `seq` (reserved beforehand).
    int32_t slot(int32_t seq, int64_t pos) const;
    // False when position `pos` lies in a block that is shared or published (immutable).
    bool writable(int32_t seq, int64_t pos) const;

    // Prefix caching. `tokens` are the sequence's tokens from position 0.
    // How many leading full blocks of `tokens` are cached, leaving at least one token to compute.
    PrefixMatch probe_prefix(std::span<const int32_t> tokens) const;
    // Maps those blocks into the table of the empty sequence `seq`; returns the positions reused.
    int64_t adopt_prefix(int32_t seq, std::span<const int32_t> tokens);
    // Files the full blocks of `seq` among its first min(length(), tokens.size()) positions under
    // their hashes; `tokens` must be exactly the tokens whose keys and values are computed (from
    // position 0). A block whose content is already cached elsewhere stays private.
    void publish(int32_t seq, std::span<const int32_t> tokens);

    int64_t total_blocks() const { return static_cast<int64_t>(refs_.size()); }
    int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }   // hold nothing
    int64_t cached_blocks() const { return static_cast<int64_t>(lru_.size()); }  // published, unheld
    int64_t used_blocks() const { return total_blocks() - free_blocks() - cached_blocks(); }
    // Blocks a sequence may still take: free ones and evictable cached ones.
    int64_t available_blocks() const { return free_blocks() + cached_blocks(); }
    int64_t held_blocks(int32_t seq) const { return held_[seq]; }
    int64_t evictions() const { return evictions_; }
    // Drops every cached block that no sequence holds.
    void clear_prefix_cache();

private:
    static constexpr uint64_t kNoHash = 0;

    Status check_seq(int32_t seq) const;
    Result<int32_t> take_block();
    void drop_ref(int32_t block);
    void unpublish(int32_t block);
    uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens) const;
    // The cached block holding `tokens` after the prefix hashed to `parent`, or -1.
    int32_t find(uint64_t parent, std::span<const int32_t> tokens, uint64_t& hash) const;

    KvCacheOptions options_;
    int64_t max_blocks_per_seq_ = 0;
    std::vector<std::unique_ptr<KvStorage>> storages_;  // per backend of the placement
    std::vector<int32_t> tables_;
    std::vector<int64_t> lengths_;
    std::vector<int64_t> held_;                       // blocks in each sequence's table
    std::vector<std::vector<uint64_t>> seq_hashes_;   // chain hash of each hashed leading block
    std::vector<int32_t> free_;
    // Per block: sequences holding it, its hash (kNoHash: not published), its parent's hash and
    // tokens (to verify a lookup), its place in the LRU list when cached and unheld.
    std::vector<int32_t> refs_;
    std::vector<uint64_t> hash_, parent_;
    std::vector<int32_t> block_tokens_;
    std::list<int32_t> lru_;  // front: least recently released
    std::vector<std::list<int32_t>::iterator> lru_pos_;
    std::unordered_map<uint64_t, int32_t> by_hash_;
    int64_t evictions_ = 0;
};

}  // namespace rf::engine
