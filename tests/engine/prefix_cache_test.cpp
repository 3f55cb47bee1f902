// The paged KV cache's sharing rules: reference counts, prefix lookup by chained block hashes,
// private partial blocks, LRU eviction of unheld cached blocks, and the pool size options.
#include <gtest/gtest.h>

#include <numeric>

#include "backend/cpu/cpu_backend.h"
#include "engine/kv_cache.h"
#include "engine_fixture.h"

namespace rf::engine {
namespace {


std::vector<int32_t> iota(int32_t first, size_t n) {
    std::vector<int32_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

struct Cache {
    cpu::CpuBackend backend{{.threads = 1}};
    KvCache cache;
    explicit Cache(KvCacheOptions o) : cache(KvCache::create(backend, test::tiny_hparams(), o).value()) {}
    // Computes (reserves and publishes) `tokens` as sequence `seq`.
    void compute(int32_t seq, const std::vector<int32_t>& tokens) {
        ASSERT_TRUE(cache.reserve(seq, static_cast<int64_t>(tokens.size())).ok());
        cache.publish(seq, tokens);
    }
};

TEST(PrefixCache, FullBlocksAreSharedAndAtLeastOneTokenIsLeftToCompute) {
    Cache c({.n_ctx = 32, .max_sequences = 3, .block_size = 4, .type = KvType::F32});
    const auto prompt = iota(10, 10);  // two full blocks and a partial one
    c.compute(0, prompt);
    EXPECT_EQ(c.cache.used_blocks(), 3);

    // The same prompt: both full blocks are reused.
    EXPECT_EQ(c.cache.probe_prefix(prompt).blocks, 2);
    EXPECT_EQ(c.cache.adopt_prefix(1, prompt), 8);
    EXPECT_EQ(c.cache.length(1), 8);
    EXPECT_EQ(c.cache.slot(1, 5), c.cache.slot(0, 5));
    EXPECT_FALSE(c.cache.writable(1, 7));  // shared
    EXPECT_EQ(c.cache.used_blocks(), 3);
    ASSERT_TRUE(c.cache.reserve(1, 10).ok());
    EXPECT_TRUE(c.cache.writable(1, 8));   // its own partial block
    EXPECT_NE(c.cache.slot(1, 8), c.cache.slot(0, 8));

    // A prompt of exactly two blocks reuses only the first: its last token must be computed.
    EXPECT_EQ(c.cache.adopt_prefix(2, iota(10, 8)), 4);
    c.cache.release(2);

    // A different first block breaks the chain even where later tokens match.
    auto other = prompt;
    other[0] = 99;
    EXPECT_EQ(c.cache.probe_prefix(other).blocks, 0);

    c.cache.release(0);
    c.cache.release(1);
    EXPECT_EQ(c.cache.used_blocks(), 0);
    EXPECT_EQ(c.cache.cached_blocks(), 2);  // the published full blocks stay, unheld
    EXPECT_EQ(c.cache.cached_blocks() + c.cache.free_blocks(), c.cache.total_blocks());
    const PrefixMatch m = c.cache.probe_prefix(prompt);
    EXPECT_EQ(m.blocks, 2);
    EXPECT_EQ(m.evictable, 2);
    EXPECT_EQ(c.cache.adopt_prefix(0, prompt), 8);
    EXPECT_EQ(c.cache.cached_blocks(), 0);
    EXPECT_EQ(c.cache.used_blocks(), 2);
}

TEST(PrefixCache, DuplicateContentStaysPrivateAndTruncationRespectsSharing) {
    Cache c({.n_ctx = 32, .max_sequences = 2, .block_size = 4, .type = KvType::F32});
    const auto prompt = iota(1, 9);
    c.compute(0, prompt);
    c.compute(1, prompt);  // computed concurrently, before it could reuse: its copies stay private
    EXPECT_TRUE(c.cache.writable(1, 0));
    EXPECT_FALSE(c.cache.writable(0, 0));
    c.cache.release(1);
    EXPECT_EQ(c.cache.cached_blocks(), 0);
    EXPECT_EQ(c.cache.free_blocks(), c.cache.total_blocks() - 3);

    // Truncating into a published block held only by this sequence unpublishes it.
    c.cache.truncate(0, 6);
    EXPECT_EQ(c.cache.length(0), 6);
    EXPECT_TRUE(c.cache.writable(0, 6));
    EXPECT_EQ(c.cache.probe_prefix(prompt).blocks, 1);
    // Truncating into a block another sequence shares lets the whole block go.
    EXPECT_EQ(c.cache.adopt_prefix(1, prompt), 4);
    c.cache.truncate(0, 2);
    EXPECT_EQ(c.cache.length(0), 0);
    EXPECT_EQ(c.cache.held_blocks(0), 0);
    EXPECT_EQ(c.cache.held_blocks(1), 1);
}

TEST(PrefixCache, UnheldCachedBlocksAreEvictedLeastRecentlyUsedFirst) {
    Cache c({.n_ctx = 16, .max_sequences = 2, .block_size = 4, .type = KvType::F32, .n_blocks = 4});
    EXPECT_EQ(c.cache.total_blocks(), 4);
    const auto a = iota(100, 5), b = iota(200, 5), d = iota(300, 5);
    for (const auto* p : {&a, &b}) {  // each leaves one published block and frees its partial one
        c.compute(0, *p);
        c.cache.release(0);
    }
    EXPECT_EQ(c.cache.cached_blocks(), 2);
    EXPECT_EQ(c.cache.free_blocks(), 2);
    // Three blocks needed, two free: the oldest cached block (a's) goes.
    c.compute(0, iota(400, 12));
    EXPECT_EQ(c.cache.evictions(), 1);
    EXPECT_EQ(c.cache.probe_prefix(a).blocks, 0);
    EXPECT_EQ(c.cache.probe_prefix(b).blocks, 1);
    // Reusing b makes it the most recently used: the next evictions take 400.. first.
    c.cache.release(0);
    EXPECT_EQ(c.cache.adopt_prefix(1, b), 4);
    c.cache.release(1);
    c.compute(0, d);  // two blocks, both evicted from the cache
    EXPECT_EQ(c.cache.evictions(), 3);
    EXPECT_EQ(c.cache.probe_prefix(iota(400, 12)).blocks, 0);  // its first block is gone
    EXPECT_EQ(c.cache.probe_prefix(b).blocks, 1);
    EXPECT_EQ(c.cache.used_blocks() + c.cache.cached_blocks() + c.cache.free_blocks(), c.cache.total_blocks());
    // Out of blocks once every block is held.
    EXPECT_FALSE(c.cache.reserve(1, 16).ok());
    c.cache.release(0);
    c.cache.release(1);
    c.cache.clear_prefix_cache();
    EXPECT_EQ(c.cache.free_blocks(), 4);
}

TEST(PrefixCache, EngineSizesThePoolFromAMemoryBudget) {
    test::TinyModel m;
    const int64_t per_block = KvCache::block_bytes(*m.backend, m.model->hparams(), 16, KvType::F32);
    ASSERT_GT(per_block, 0);
    auto e = m.engine({.n_ctx = 256, .n_batch = 32, .max_sequences = 32, .block_size = 16, .kv_type = KvType::F32,
                       .kv_memory_bytes = per_block * 40 + 5});
    EXPECT_EQ(e->cache().total_blocks(), 40);
    auto whole = m.engine({.n_ctx = 256, .n_batch = 32, .max_sequences = 4, .block_size = 16, .kv_type = KvType::F32});
    EXPECT_EQ(whole->cache().total_blocks(), 64);
    auto none = Engine::create(*m.model,
                               {.n_ctx = 64, .n_batch = 8, .max_sequences = 1, .block_size = 16, .kv_memory_bytes = 10});
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find("holds no block"), std::string::npos);
}

// Without a KV memory size the pool takes every full context when the free memory's share allows,
// else what fits there, and names the bytes when one context does not fit.
TEST(PrefixCache, PoolWithoutASizeFollowsTheFreeMemory) {
    const EngineOptions o{.n_ctx = 64, .max_sequences = 4, .block_size = 16};  // 4 blocks a context
    const int64_t block = 1000, state = 500;
    EXPECT_EQ(kv_blocks_for_memory({.free_bytes = 100000}, o, block, state, "dev").value(), 16);
    EXPECT_EQ(kv_blocks_for_memory({}, o, block, state, "dev").value(), 16) << "unknown free memory";
    // 90% of 10000, less the state: 8500 bytes, two contexts.
    EXPECT_EQ(kv_blocks_for_memory({.free_bytes = 10000}, o, block, state, "dev").value(), 8);
    EngineOptions half = o;
    half.memory_fraction = 0.5;
    EXPECT_EQ(kv_blocks_for_memory({.free_bytes = 10000}, half, block, state, "dev").value(), 4);
    auto none = kv_blocks_for_memory({.free_bytes = 4400}, o, block, state, "dev");
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find("needs 4000 bytes"), std::string::npos) << none.error().message;
    EXPECT_NE(none.error().message.find("dev has 4400 bytes"), std::string::npos) << none.error().message;
}

TEST(PrefixCache, EngineRefusesToWriteIntoASharedBlock) {
    test::TinyModel m;
    auto e = m.engine({.n_ctx = 32, .n_batch = 16, .max_sequences = 2, .block_size = 4, .kv_type = KvType::F32});
    const auto prompt = iota(20, 9);
    std::vector<float> logits;
    ASSERT_TRUE(e->feed(0, prompt, false, logits).ok());
    e->cache().publish(0, prompt);
    ASSERT_EQ(e->cache().adopt_prefix(1, prompt), 8);
    const BatchToken overwrite[] = {{5, 1, 3, true}};
    auto refused = e->step(overwrite, logits);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("shared"), std::string::npos);
}

}  // namespace
}  // namespace rf::engine
