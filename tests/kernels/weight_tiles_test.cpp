// Interleaved weight tiles (weight_tiles.h): the rearrangement loses nothing, and every product
// over a tiled matrix is bit-identical to the product over the same matrix as stored in the file.
#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels/matmul.h"
#include "backend/cpu/kernels/weight_tiles.h"
#include "quant/quantize.h"

namespace rf::cpu {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    return v;
}

struct Matrix {
    std::vector<uint8_t> bytes;
    WeightMatrix view;
};

Matrix quantized(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
    const auto values = random_values(static_cast<size_t>(rows * cols), seed);
    const size_t row_bytes = quant::quantized_size(type, static_cast<size_t>(cols)).value();
    Matrix m;
    m.bytes.resize(row_bytes * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r)
        EXPECT_TRUE(quant::quantize_row(type, std::span(values.data() + r * cols, static_cast<size_t>(cols)),
                                        std::span(m.bytes.data() + r * row_bytes, row_bytes))
                        .ok());
    m.view = WeightMatrix{.type = type, .data = m.bytes.data(), .cols = cols, .rows = rows, .row_bytes = row_bytes};
    return m;
}

// 37 rows: two whole tiles and 5 rows that stay as stored.
constexpr int64_t kRows = 37;

const TensorType kTiledTypes[] = {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K};

// Row lengths with whole groups of blocks and with a leftover block.
std::vector<int64_t> lengths(TensorType type) {
    return tensor_type_info(type).block_size == 256 ? std::vector<int64_t>{512, 768} : std::vector<int64_t>{512, 544};
}

TEST(WeightTiles, EveryRowComesBackAsStored) {
    ThreadPool pool(2);
    for (TensorType type : kTiledTypes) {
        SCOPED_TRACE(tensor_type_name(type));
        const Matrix original = quantized(type, kRows, 768, 3);
        Matrix tiled = quantized(type, kRows, 768, 3);
        tile_in_place(tiled.view, tiled.bytes.data(), pool);
        ASSERT_EQ(tiled.view.layout, kTiles16);
        EXPECT_NE(std::memcmp(tiled.bytes.data(), original.bytes.data(), original.bytes.size()), 0);
        const size_t row_bytes = original.view.row_bytes;
        std::vector<uint8_t> row(row_bytes);
        for (int64_t r = 0; r < kRows; ++r)
            EXPECT_EQ(std::memcmp(file_row(tiled.view, r, row.data()), original.view.row(r), row_bytes), 0) << "row " << r;
        std::vector<uint8_t> tile(kTileRows * row_bytes);
        for (int64_t r0 = 0; r0 + kTileRows <= kRows; r0 += kTileRows) {
            untile(tiled.view, r0, tile.data());
            EXPECT_EQ(std::memcmp(tile.data(), original.view.row(r0), tile.size()), 0) << "tile at row " << r0;
        }
    }
}

TEST(WeightTiles, TypesWithoutALayoutStayAsStored) {
    ThreadPool pool(1);
    Matrix m = quantized(TensorType::Q5_K, kRows, 512, 5);
    const std::vector<uint8_t> before = m.bytes;
    tile_in_place(m.view, m.bytes.data(), pool);
    EXPECT_EQ(m.view.layout, WeightLayout::Rows);
    EXPECT_EQ(m.bytes, before);
}

// Counts the products over the tiled copy of a matrix that differ in any bit from the stored
// matrix's, for every ISA and for token counts that take every path.
void expect_same_products(TensorType type, int64_t cols, ThreadPool& pool) {
    const Matrix stored = quantized(type, kRows, cols, 11);
    Matrix tiled = quantized(type, kRows, cols, 11);
    tile_in_place(tiled.view, tiled.bytes.data(), pool);
    for (int64_t n_tokens : {1, 3, 8, 9, 17, 24, 33}) {
        const auto x = random_values(static_cast<size_t>(cols * n_tokens), 13);
        for (Isa isa : supported_isas()) {
            SCOPED_TRACE(fmt::format("{} {} cols, {} tokens, {}", tensor_type_name(type), cols, n_tokens, isa_name(isa)));
            std::vector<float> expected(static_cast<size_t>(kRows * n_tokens)), got(expected.size());
            ASSERT_TRUE(matmul_with_isa(isa, stored.view, x.data(), n_tokens, expected.data(), pool).ok());
            ASSERT_TRUE(matmul_with_isa(isa, tiled.view, x.data(), n_tokens, got.data(), pool).ok());
            int differing = 0;
            for (size_t i = 0; i < got.size(); ++i)
                if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(expected[i]) && ++differing <= 3)
                    ADD_FAILURE() << "token " << i / kRows << " row " << i % kRows << ": " << got[i] << " vs "
                                  << expected[i];
            EXPECT_EQ(differing, 0);
        }
    }
}

TEST(WeightTiles, ProductsAreBitIdenticalToTheStoredLayout) {
    ThreadPool pool(2);
    for (TensorType type : kTiledTypes)
        for (int64_t cols : lengths(type)) expect_same_products(type, cols, pool);
}

}  // namespace
}  // namespace rf::cpu
