#include "engine/kv_cache.h"

#include <algorithm>

namespace rf::engine {

namespace {
uint64_t mix(uint64_t x) {  // splitmix64's finalizer
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
}  // namespace

KvCacheShape KvCache::shape(const model::HParams& hp, int64_t block_size, KvType type, int64_t n_blocks,
                            int64_t n_layers) {
    return {.n_layers = n_layers < 0 ? hp.n_layer : n_layers,
            .n_kv_heads = hp.local_kv_heads(),  // (a tensor-parallel rank caches its own heads)
            .head_dim_k = hp.head_dim_k,
            .head_dim_v = hp.head_dim_v,
            .block_size = block_size,
            .n_blocks = n_blocks,
            .type = type};
}

int64_t KvCache::block_bytes(const Backend& backend, const model::HParams& hp, int64_t block_size, KvType type) {
    return backend.kv_block_bytes(shape(hp, block_size, type, 0));
}

int64_t KvCache::part_block_bytes(const model::Placement& placement, int part, const model::HParams& hp,
                                  int64_t block_size, KvType type) {
    const int64_t layers = placement.layers_on(part);
    if (layers == 0) return 0;
    return placement.backend(part).kv_block_bytes(shape(hp, block_size, type, 0, layers));
}

Result<KvCache> KvCache::create(Backend& backend, const model::HParams& hp, const KvCacheOptions& o) {
    return create(model::Placement::single(backend, hp.n_layer), hp, o);
}

Result<KvCache> KvCache::create(const model::Placement& placement, const model::HParams& hp, const KvCacheOptions& o) {
    if (o.n_ctx <= 0 || o.block_size <= 0 || o.max_sequences <= 0 || o.n_blocks < 0)
        return make_error("kv cache: context {}, block size {}, sequences {} and blocks {} must be positive", o.n_ctx,
                          o.block_size, o.max_sequences, o.n_blocks);
    if (o.n_ctx > (int64_t{1} << 24)) return make_error("kv cache: context of {} tokens is too large", o.n_ctx);
    if (o.max_sequences > 4096) return make_error("kv cache: {} sequences are too many", o.max_sequences);
    KvCache c;
    c.options_ = o;
    c.max_blocks_per_seq_ = (o.n_ctx + o.block_size - 1) / o.block_size;
    const int64_t n_blocks = o.n_blocks > 0 ? o.n_blocks : c.max_blocks_per_seq_ * o.max_sequences;
    if (n_blocks > (int64_t{1} << 24)) return make_error("kv cache: {} blocks are too many", n_blocks);
    for (int part = 0; part < placement.parts(); ++part) {
        std::unique_ptr<KvStorage> storage;
        if (const int64_t layers = placement.layers_on(part); layers > 0) {
            RF_ASSIGN_OR_RETURN(storage, placement.backend(part).create_kv_storage(
                                             shape(hp, o.block_size, o.type, n_blocks, layers)));
        }
        c.storages_.push_back(std::move(storage));
    }
    const auto blocks = static_cast<size_t>(n_blocks);
    c.tables_.assign(static_cast<size_t>(c.max_blocks_per_seq_ * o.max_sequences), -1);
    c.lengths_.assign(static_cast<size_t>(o.max_sequences), 0);
    c.held_.assign(static_cast<size_t>(o.max_sequences), 0);
    c.seq_hashes_.resize(static_cast<size_t>(o.max_sequences));
    c.refs_.assign(blocks, 0);
    c.hash_.assign(blocks, kNoHash);
    c.parent_.assign(blocks, kNoHash);
    c.block_tokens_.assign(blocks * static_cast<size_t>(o.block_size), -1);
    c.lru_pos_.resize(blocks);
    for (int64_t b = n_blocks - 1; b >= 0; --b) c.free_.push_back(static_cast<int32_t>(b));
    return c;
}

Status KvCache::check_seq(int32_t seq) const {
    if (seq < 0 || seq >= options_.max_sequences) return make_error("kv cache: no sequence {}", seq);
    return ok_status();
}

Result<int32_t> KvCache::take_block() {
    int32_t b = -1;
    if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
    } else if (!lru_.empty()) {  // evict the least recently used cached block
        b = lru_.front();
        lru_.pop_front();
        unpublish(b);
        ++evictions_;
    } else {
        return make_error("kv cache: out of blocks ({} in use)", total_blocks());
    }
    refs_[b] = 1;
    return b;
}

void KvCache::unpublish(int32_t b) {
    if (hash_[b] == kNoHash) return;
    auto it = by_hash_.find(hash_[b]);
    if (it != by_hash_.end() && it->second == b) by_hash_.erase(it);
    hash_[b] = parent_[b] = kNoHash;
}

void KvCache::drop_ref(int32_t b) {
    if (--refs_[b] > 0) return;
    if (hash_[b] != kNoHash) {
        lru_pos_[b] = lru_.insert(lru_.end(), b);
    } else {
        free_.push_back(b);
    }
}

Status KvCache::reserve(int32_t seq, int64_t n) {
    RF_TRY(check_seq(seq));
    if (n > options_.n_ctx) return make_error("context is full: {} positions requested, the context holds {}", n, options_.n_ctx);
    const int64_t needed = (n + options_.block_size - 1) / options_.block_size;
    int32_t* table = tables_.data() + seq * max_blocks_per_seq_;
    for (int64_t i = 0; i < needed; ++i) {
        if (table[i] >= 0) continue;
        RF_ASSIGN_OR_RETURN(table[i], take_block());
        ++held_[seq];
    }
    if (n > lengths_[seq]) lengths_[seq] = n;
    return ok_status();
}

void KvCache::truncate(int32_t seq, int64_t n) {
    if (!check_seq(seq).ok() || n < 0) return;
    const int64_t bs = options_.block_size;
    int32_t* table = tables_.data() + seq * max_blocks_per_seq_;
    // The block that would keep a part of its positions must be private and unpublished: its
    // tail is going to be overwritten.
    if (n % bs != 0 && n < lengths_[seq]) {
        const int32_t last = table[n / bs];
        if (last >= 0 && refs_[last] > 1) {
            n -= n % bs;
        } else if (last >= 0) {
            unpublish(last);
        }
    }
    const int64_t keep = (n + bs - 1) / bs;
    for (int64_t i = keep; i < max_blocks_per_seq_; ++i) {
        if (table[i] < 0) continue;
        drop_ref(table[i]);
        table[i] = -1;
        --held_[seq];
    }
    auto& hashes = seq_hashes_[seq];
    if (static_cast<int64_t>(hashes.size()) > n / bs) hashes.resize(static_cast<size_t>(n / bs));
    if (n < lengths_[seq]) lengths_[seq] = n;
}

int32_t KvCache::slot(int32_t seq, int64_t pos) const {
    const int32_t block = tables_[seq * max_blocks_per_seq_ + pos / options_.block_size];
    return static_cast<int32_t>(block * options_.block_size + pos % options_.block_size);
}

bool KvCache::writable(int32_t seq, int64_t pos) const {
    const int32_t block = tables_[seq * max_blocks_per_seq_ + pos / options_.block_size];
    return block >= 0 && refs_[block] == 1 && hash_[block] == kNoHash;
}

uint64_t KvCache::hash_block(uint64_t parent, std::span<const int32_t> tokens) const {
    uint64_t h = mix(parent ^ 0x6b76636163686521ull);
    for (int32_t t : tokens) h = mix(h ^ static_cast<uint32_t>(t));
    return h == kNoHash ? 1 : h;
}

int32_t KvCache::find(uint64_t parent, std::span<const int32_t> tokens, uint64_t& hash) const {
    hash = hash_block(parent, tokens);
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end()) return -1;
    const int32_t b = it->second;
    const int32_t* stored = block_tokens_.data() + static_cast<size_t>(b) * static_cast<size_t>(options_.block_size);
    if (parent_[b] != parent || !std::equal(tokens.begin(), tokens.end(), stored)) return -1;  // a collision
    return b;
}

PrefixMatch KvCache::probe_prefix(std::span<const int32_t> tokens) const {
    PrefixMatch m;
    if (tokens.empty()) return m;
    const auto bs = static_cast<size_t>(options_.block_size);
    const size_t limit = std::min((tokens.size() - 1) / bs, static_cast<size_t>(max_blocks_per_seq_));
    uint64_t parent = kNoHash, hash = kNoHash;
    for (size_t i = 0; i < limit; ++i) {
        const int32_t b = find(parent, tokens.subspan(i * bs, bs), hash);
        if (b < 0) break;
        ++m.blocks;
        if (refs_[b] == 0) ++m.evictable;
        parent = hash;
    }
    return m;
}

int64_t KvCache::adopt_prefix(int32_t seq, std::span<const int32_t> tokens) {
    if (!check_seq(seq).ok() || lengths_[seq] != 0 || held_[seq] != 0 || tokens.empty()) return 0;
    const auto bs = static_cast<size_t>(options_.block_size);
    const size_t limit = std::min((tokens.size() - 1) / bs, static_cast<size_t>(max_blocks_per_seq_));
    int32_t* table = tables_.data() + seq * max_blocks_per_seq_;
    auto& hashes = seq_hashes_[seq];
    hashes.clear();
    uint64_t parent = kNoHash, hash = kNoHash;
    for (size_t i = 0; i < limit; ++i) {
        const int32_t b = find(parent, tokens.subspan(i * bs, bs), hash);
        if (b < 0) break;
        if (refs_[b]++ == 0) lru_.erase(lru_pos_[b]);
        table[i] = b;
        ++held_[seq];
        hashes.push_back(hash);
        parent = hash;
    }
    lengths_[seq] = static_cast<int64_t>(hashes.size() * bs);
    return lengths_[seq];
}

void KvCache::publish(int32_t seq, std::span<const int32_t> tokens) {
    if (!check_seq(seq).ok()) return;
    const auto bs = static_cast<size_t>(options_.block_size);
    const size_t full = std::min(static_cast<size_t>(lengths_[seq]), tokens.size()) / bs;
    const int32_t* table = tables_.data() + seq * max_blocks_per_seq_;
    auto& hashes = seq_hashes_[seq];
    for (size_t i = hashes.size(); i < full; ++i) {
        const uint64_t parent = i == 0 ? kNoHash : hashes[i - 1];
        const auto block_tokens = tokens.subspan(i * bs, bs);
        uint64_t hash = kNoHash;
        const int32_t b = table[i];
        if (find(parent, block_tokens, hash) < 0 && hash_[b] == kNoHash && !by_hash_.contains(hash)) {
            hash_[b] = hash;
            parent_[b] = parent;
            std::copy(block_tokens.begin(), block_tokens.end(), block_tokens_.begin() + static_cast<ptrdiff_t>(b * bs));
            by_hash_[hash] = b;
        }
        hashes.push_back(hash);
    }
}

void KvCache::clear_prefix_cache() {
    while (!lru_.empty()) {
        const int32_t b = lru_.front();
        lru_.pop_front();
        unpublish(b);
        free_.push_back(b);
    }
}

}  // namespace rf::engine
