// The KV cache as the engine manages it: backend storage of fixed-size blocks, a free list, and a
// block table per sequence (logical block i of a sequence lives in physical block table[i]).
// Blocks are taken as a sequence grows and returned when it is released or truncated.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "model/hparams.h"

namespace rf::engine {

struct KvCacheOptions {
    int64_t n_ctx = 4096;      // most positions one sequence may hold
    int64_t max_sequences = 1;
    int64_t block_size = 16;   // token slots per block
    KvType type = KvType::F32;
};

class KvCache {
public:
    static Result<KvCache> create(Backend& backend, const model::HParams& hp, const KvCacheOptions& options);

    KvStorage& storage() const { return *storage_; }
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
    // Forgets positions >= n (returning whole blocks beyond them).
    void truncate(int32_t seq, int64_t n);
    // The physical slot of position `pos` of `seq` (reserved beforehand).
    int32_t slot(int32_t seq, int64_t pos) const;
    int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }

private:
    Status check_seq(int32_t seq) const;

    KvCacheOptions options_;
    int64_t max_blocks_per_seq_ = 0;
    std::unique_ptr<KvStorage> storage_;
    std::vector<int32_t> tables_;
    std::vector<int64_t> lengths_;
    std::vector<int32_t> free_;
};

}  // namespace rf::engine
