#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "engine/kv_cache.h"
#include "engine_fixture.h"

namespace rf::engine {
namespace {


TEST(KvCache, SequencesTakeAndReturnBlocks) {
    cpu::CpuBackend backend({.threads = 1});
    auto cache = KvCache::create(backend, test::tiny_hparams(), {.n_ctx = 10, .max_sequences = 2, .block_size = 4, .type = KvType::F32});
    ASSERT_TRUE(cache.ok());
    EXPECT_EQ(cache->max_blocks_per_seq(), 3);
    EXPECT_EQ(cache->free_blocks(), 6);
    ASSERT_TRUE(cache->reserve(0, 5).ok());
    ASSERT_TRUE(cache->reserve(1, 1).ok());
    EXPECT_EQ(cache->free_blocks(), 3);
    EXPECT_EQ(cache->length(0), 5);
    // Positions of one block are contiguous slots; sequences never share a slot.
    EXPECT_EQ(cache->slot(0, 1), cache->slot(0, 0) + 1);
    EXPECT_NE(cache->slot(0, 4) / 4, cache->slot(0, 0) / 4);
    EXPECT_NE(cache->slot(1, 0) / 4, cache->slot(0, 0) / 4);
    EXPECT_NE(cache->slot(1, 0) / 4, cache->slot(0, 4) / 4);
    cache->truncate(0, 3);
    EXPECT_EQ(cache->length(0), 3);
    EXPECT_EQ(cache->free_blocks(), 4);
    auto full = cache->reserve(0, 11);
    ASSERT_FALSE(full.ok());
    EXPECT_NE(full.error().message.find("context is full"), std::string::npos);
    EXPECT_FALSE(cache->reserve(5, 1).ok());
}

}  // namespace
}  // namespace rf::engine
