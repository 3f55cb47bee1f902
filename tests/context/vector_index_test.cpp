// The HNSW index: recall against exact search on random unit vectors, removal, saving and loading,
// and detection of stale or damaged files. Also the chunk windows.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include "context/chunker.h"
#include "context/dot_product.h"
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

// Each SIMD version of the similarity against the scalar one, at lengths around the vector widths.
TEST(DotProduct, EveryVersionMatchesTheScalarOne) {
    DotVersion versions[4];
    const size_t count = dot_versions(versions, 4);
    ASSERT_GE(count, 1u);
    EXPECT_STREQ(versions[0].name, "scalar");
    EXPECT_EQ(best_dot(), versions[count - 1].fn);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (size_t n : {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 64, 100, 256, 384, 1000, 4096}) {
        std::vector<float> a(n), b(n);
        double exact = 0.0, magnitude = 0.0;
        for (size_t i = 0; i < n; ++i) {
            a[i] = uniform(rng);
            b[i] = uniform(rng);
            exact += double{a[i]} * b[i];
            magnitude += std::abs(double{a[i]} * b[i]);
        }
        // Float sums in different orders: each within a few ulps of the magnitude of the terms.
        const double tolerance = 4.0 * static_cast<double>(n) * 6e-8 * magnitude + 1e-7;
        for (size_t v = 0; v < count; ++v)
            EXPECT_NEAR(versions[v].fn(a.data(), b.data(), n), exact, tolerance) << versions[v].name << " n=" << n;
    }
}

// Many vectors added at once on several threads make the same index as one by one would: every
// vector finds itself, and replacing and adding more later works.
TEST(VectorIndex, AddManyOnSeveralThreads) {
    constexpr size_t kN = 3000, kDim = 48;
    const auto data = random_unit_vectors(kN, kDim, 3);
    std::vector<int64_t> ids(kN);
    for (size_t i = 0; i < kN; ++i) ids[i] = static_cast<int64_t>(1000 + i);
    auto index = VectorIndex::create(kDim);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->add_many(std::span(ids).first(2000), std::span(data).first(2000 * kDim), 4).ok());
    ASSERT_TRUE((*index)->add_many(std::span(ids).subspan(2000), std::span(data).subspan(2000 * kDim), 3).ok());
    EXPECT_EQ((*index)->size(), static_cast<int64_t>(kN));
    for (size_t i = 0; i < kN; i += 37) {
        auto self = (*index)->search(std::span(data).subspan(i * kDim, kDim), 1);
        ASSERT_TRUE(self.ok() && self->size() == 1);
        EXPECT_EQ((*self)[0].id, ids[i]);
    }
    // Replacing: the same ids with other vectors.
    ASSERT_TRUE((*index)->add_many(std::span(ids).first(10), std::span(data).subspan(100 * kDim, 10 * kDim), 2).ok());
    EXPECT_EQ((*index)->size(), static_cast<int64_t>(kN));
    EXPECT_FALSE((*index)->add_many(std::span(ids).first(2), std::span(data).first(kDim)).ok());  // too few floats
}

// Small indexes are searched by comparing with every vector: the same hits as exact search,
// removed vectors left out, and near-duplicates (which HNSW links poorly) no obstacle.
TEST(VectorIndex, SmallIndexesAreSearchedExactly) {
    constexpr size_t kN = 2000, kDim = 32;
    auto data = random_unit_vectors(kN, kDim, 5);
    for (size_t i = 0; i < kN / 2; ++i)  // half of them copies of one vector
        std::copy_n(data.begin(), kDim, data.begin() + static_cast<ptrdiff_t>(i * kDim));
    auto index = VectorIndex::create(kDim, {.exact_up_to = 5000});
    ASSERT_TRUE(index.ok());
    std::vector<int64_t> ids(kN);
    for (size_t i = 0; i < kN; ++i) ids[i] = static_cast<int64_t>(i);
    ASSERT_TRUE((*index)->add_many(ids, data).ok());
    (*index)->remove(kN - 1);
    const auto queries = random_unit_vectors(20, kDim, 6);
    for (size_t q = 0; q < 20; ++q) {
        const auto query = std::span(queries).subspan(q * kDim, kDim);
        auto hits = (*index)->search(query, 10);
        ASSERT_TRUE(hits.ok());
        auto exact = exact_search(std::span(data).first((kN - 1) * kDim), kDim, query, 10);
        ASSERT_EQ(hits->size(), exact.size());
        for (size_t i = 0; i < exact.size(); ++i) EXPECT_NEAR((*hits)[i].score, exact[i].score, 1e-5f) << i;
        EXPECT_EQ((*hits)[9].id == static_cast<int64_t>(kN - 1), false);
    }
    // Each of the distinct vectors finds itself.
    for (size_t i = kN / 2; i < kN - 1; i += 53) {
        auto self = (*index)->search(std::span(data).subspan(i * kDim, kDim), 1);
        ASSERT_TRUE(self.ok() && self->size() == 1);
        EXPECT_EQ((*self)[0].id, static_cast<int64_t>(i));
    }
}

// The graph itself (exact_up_to 0: never a scan).
TEST(VectorIndex, RecallAtTenAgainstExactSearch) {
    constexpr size_t kN = 5000, kDim = 64, kQueries = 100;
    const auto data = random_unit_vectors(kN, kDim, 1);
    const auto queries = random_unit_vectors(kQueries, kDim, 2);
    auto index = VectorIndex::create(kDim, {.exact_up_to = 0});
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
