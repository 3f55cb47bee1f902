// A token's product must not depend on how tokens are batched: for every weight type and every
// ISA variant, each (row, token) value of a batch of 3 to 33 tokens must be bit-identical to the
// value computed for that token alone (different batch sizes take different kernels and tiles).
#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels/matmul.h"
#include "quant/quantize.h"

namespace rf::cpu {
namespace {

const std::vector<TensorType> kTypes = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,   TensorType::Q4_0,   TensorType::Q4_1,
    TensorType::Q5_0, TensorType::Q5_1, TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K,   TensorType::Q5_K,
    TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::MXFP4, TensorType::TQ2_0,
};

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    return v;
}

std::vector<uint8_t> quantized_rows(TensorType type, int64_t rows, int64_t cols, size_t row_bytes, uint32_t seed) {
    const auto values = random_values(static_cast<size_t>(rows * cols), seed);
    std::vector<uint8_t> bytes(row_bytes * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        const std::span<const float> src(values.data() + r * cols, static_cast<size_t>(cols));
        EXPECT_TRUE(quant::quantize_row(type, src, std::span(bytes.data() + r * row_bytes, row_bytes)).ok());
    }
    return bytes;
}

// Counts the (row, token) values of batches of 3 to 33 tokens that differ in any bit from the
// same token's product computed alone.
void expect_batch_invariant(TensorType type, int64_t cols, uint32_t seed, ThreadPool& pool) {
    // 19 rows: full tiles of 8 and 16 rows and a partial one.
    constexpr int64_t kRows = 19, kMaxTokens = 33;
    const size_t row_bytes = quant::quantized_size(type, static_cast<size_t>(cols)).value();
    const auto bytes = quantized_rows(type, kRows, cols, row_bytes, seed);
    const WeightMatrix w{.type = type, .data = bytes.data(), .cols = cols, .rows = kRows, .row_bytes = row_bytes};
    const auto x = random_values(static_cast<size_t>(cols * kMaxTokens), seed + 1);
    for (Isa isa : supported_isas()) {
        std::vector<float> alone(static_cast<size_t>(kRows * kMaxTokens));
        for (int64_t t = 0; t < kMaxTokens; ++t)
            ASSERT_TRUE(matmul_with_isa(isa, w, x.data() + t * cols, 1, alone.data() + t * kRows, pool).ok());
        for (int64_t n_tokens : {3, 7, 12, 17, 33}) {
            SCOPED_TRACE(fmt::format("{} {} {} cols, batch of {}", tensor_type_name(type), isa_name(isa), cols, n_tokens));
            std::vector<float> batch(static_cast<size_t>(kRows * n_tokens));
            ASSERT_TRUE(matmul_with_isa(isa, w, x.data(), n_tokens, batch.data(), pool).ok());
            int differing = 0;
            for (size_t i = 0; i < batch.size(); ++i) {
                if (std::bit_cast<uint32_t>(batch[i]) == std::bit_cast<uint32_t>(alone[i])) continue;
                if (++differing <= 3)
                    ADD_FAILURE() << "token " << i / kRows << " row " << i % kRows << ": batch " << batch[i]
                                  << ", alone " << alone[i];
            }
            EXPECT_EQ(differing, 0);
        }
    }
}

TEST(MatmulBatchInvariance, EveryTokenIsBitIdenticalAloneAndInABatch) {
    ThreadPool pool(2);
    uint32_t seed = 7;
    for (TensorType type : kTypes) {
        // Whole groups of blocks, a leftover 32-block, an odd float length: the kernels' tails.
        for (int64_t cols : {512, 544, 37}) {
            if (!quant::quantized_size(type, static_cast<size_t>(cols)).ok()) continue;  // not whole blocks
            expect_batch_invariant(type, cols, seed, pool);
            seed += 2;
        }
    }
}

}  // namespace
}  // namespace rf::cpu
