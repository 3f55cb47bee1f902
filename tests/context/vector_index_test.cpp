// The HNSW index: recall against exact search on random unit vectors, removal, saving and loading,
// and detection of stale or damaged files. Also the chunk windows.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include "context/chunker.h"
#include "context/vector_index.h"
#include "temp_dir.h"

namespace rf::context {
namespace {

std::vector<float> random_unit_vectors(size_t n, size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(n * dim);
    for (size_t i = 0; i < n; ++i) {
        double norm = 0.0;
        for (size_t j = 0; j < dim; ++j) norm += std::pow(v[i * dim + j] = normal(rng), 2);
        for (size_t j = 0; j < dim; ++j) v[i * dim + j] = static_cast<float>(v[i * dim + j] / std::sqrt(norm));
    }
    return v;
}

TEST(VectorIndex, RecallAtTenAgainstExactSearch) {
    constexpr size_t kN = 5000, kDim = 64, kQueries = 100;
    const auto data = random_unit_vectors(kN, kDim, 1);
    const auto queries = random_unit_vectors(kQueries, kDim, 2);
    auto index = VectorIndex::create(kDim);
    ASSERT_TRUE(index.ok());
    for (size_t i = 0; i < kN; ++i) ASSERT_TRUE((*index)->add(static_cast<int64_t>(i), std::span(data).subspan(i * kDim, kDim)).ok());
    EXPECT_EQ((*index)->size(), static_cast<int64_t>(kN));
    size_t found = 0;
    for (size_t q = 0; q < kQueries; ++q) {
        const auto query = std::span(queries).subspan(q * kDim, kDim);
        auto approx = (*index)->search(query, 10);
        ASSERT_TRUE(approx.ok());
        ASSERT_EQ(approx->size(), 10u);
        EXPECT_GE((*approx)[0].score, (*approx)[9].score);  // best first
        std::set<int64_t> exact;
        for (const Hit& h : exact_search(data, kDim, query, 10)) exact.insert(h.id);
        for (const Hit& h : *approx) found += exact.count(h.id);
    }
    const double recall = static_cast<double>(found) / (kQueries * 10);
    EXPECT_GE(recall, 0.95);
    // A stored vector finds itself with similarity 1.
    auto self = (*index)->search(std::span(data).subspan(42 * kDim, kDim), 1);
    ASSERT_TRUE(self.ok() && !self->empty());
    EXPECT_EQ((*self)[0].id, 42);
    EXPECT_NEAR((*self)[0].score, 1.0f, 1e-5f);
    (*index)->remove(42);
    self = (*index)->search(std::span(data).subspan(42 * kDim, kDim), 1);
    ASSERT_TRUE(self.ok() && !self->empty());
    EXPECT_NE((*self)[0].id, 42);
    EXPECT_FALSE((*index)->search(std::vector<float>(3), 1).ok());  // wrong dimension
    EXPECT_FALSE((*index)->add(1, std::vector<float>(3)).ok());
}

TEST(VectorIndex, SavedFilesLoadOnlyWhenCurrentAndIntact) {
    test::TempDir dir;
    const auto data = random_unit_vectors(300, 16, 3);
    auto index = VectorIndex::create(16);
    ASSERT_TRUE(index.ok());
    for (int64_t i = 0; i < 300; ++i) ASSERT_TRUE((*index)->add(i, std::span(data).subspan(i * 16, 16)).ok());
    const std::string path = dir.str("a.hnsw");
    ASSERT_TRUE((*index)->save(path, 7).ok());
    std::string why;
    auto loaded = VectorIndex::load(path, 16, 7, {}, &why);
    ASSERT_TRUE(loaded.ok() && *loaded) << why;
    EXPECT_EQ((*loaded)->size(), 300);
    auto hit = (*loaded)->search(std::span(data).subspan(5 * 16, 16), 1);
    ASSERT_TRUE(hit.ok());
    EXPECT_EQ((*hit)[0].id, 5);
    auto stale = VectorIndex::load(path, 16, 8, {}, &why);
    ASSERT_TRUE(stale.ok());
    EXPECT_FALSE(*stale);
    EXPECT_EQ(why, "stale");
    EXPECT_FALSE(*VectorIndex::load(path, 32, 7, {}, &why));
    EXPECT_FALSE(*VectorIndex::load(dir.str("none.hnsw"), 16, 7, {}, &why));
    EXPECT_EQ(why, "missing");
    {  // flip a byte in the middle of the graph
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1000);
        f.put('\x5a');
    }
    auto corrupt = VectorIndex::load(path, 16, 7, {}, &why);
    ASSERT_TRUE(corrupt.ok());
    EXPECT_FALSE(*corrupt);
    EXPECT_EQ(why, "corrupt");
}

TEST(Chunker, WindowsOverlapAndCoverEverything) {
    const ChunkOptions o{.tokens = 10, .overlap = 3};
    EXPECT_TRUE(chunk_ranges(0, o).empty());
    ASSERT_EQ(chunk_ranges(10, o).size(), 1u);
    const auto r = chunk_ranges(24, o);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].begin, 0u);
    EXPECT_EQ(r[0].end, 10u);
    EXPECT_EQ(r[1].begin, 7u);
    EXPECT_EQ(r[1].end, 17u);
    EXPECT_EQ(r[2].begin, 14u);
    EXPECT_EQ(r[2].end, 24u);
    const auto last = chunk_ranges(25, o);
    ASSERT_EQ(last.size(), 4u);
    EXPECT_EQ(last.back().begin, 21u);
    EXPECT_EQ(last.back().end, 25u);
    EXPECT_FALSE(check_chunk_options({.tokens = 10, .overlap = 10}).ok());
    EXPECT_FALSE(check_chunk_options({.tokens = 4, .overlap = 0}).ok());
    EXPECT_TRUE(check_chunk_options({}).ok());
}

}  // namespace
}  // namespace rf::context
