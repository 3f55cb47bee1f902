// CPU backend ops against direct formulas: RoPE pairing (normal and NEOX), sliding-window and
// soft-capped attention over a block-table cache, expert routing and stacked expert products,
// and the KV block size the engine plans with.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels/weight_tiles.h"
#include "quant/quantize.h"

namespace rf {
namespace {

TEST(CpuOps, RopeRotatesTheRightPairs) {
    cpu::CpuBackend be({.threads = 1});
    const int64_t head = 8;
    for (RopeStyle style : {RopeStyle::Normal, RopeStyle::Neox}) {
        std::vector<float> x(2 * head);
        std::iota(x.begin(), x.end(), 1.0f);
        const std::vector<float> original = x;
        const int32_t pos[] = {3};
        RopeConfig c{.style = style, .n_dims = 6, .freq_base = 100.0f};  // last 2 dims not rotated
        ASSERT_TRUE(be.rope(Act{x.data(), 1, 2 * head, 2 * head}, head, pos, c).ok());
        for (int64_t h = 0; h < 2; ++h) {
            for (int64_t i = 0; i < 3; ++i) {
                const double theta = 3.0 * std::pow(100.0, -2.0 * i / 6.0);
                const int64_t a = h * head + (style == RopeStyle::Normal ? 2 * i : i);
                const int64_t b = h * head + (style == RopeStyle::Normal ? 2 * i + 1 : i + 3);
                EXPECT_NEAR(x[a], original[a] * std::cos(theta) - original[b] * std::sin(theta), 1e-4);
                EXPECT_NEAR(x[b], original[a] * std::sin(theta) + original[b] * std::cos(theta), 1e-4);
            }
            EXPECT_EQ(x[h * head + 6], original[h * head + 6]);
            EXPECT_EQ(x[h * head + 7], original[h * head + 7]);
        }
    }
}

TEST(CpuOps, AKvCacheBeyondMemoryIsAnErrorNotACrash) {
    cpu::CpuBackend be({.threads = 2});
    // 2^20 blocks of 16 slots, 64 heads of 128, F32, 64 layers: 4 TiB of keys alone.
    auto cache = be.create_kv_storage({.n_layers = 64, .n_kv_heads = 64, .head_dim_k = 128, .head_dim_v = 128,
                                       .block_size = 16, .n_blocks = int64_t{1} << 20, .type = KvType::F32});
    ASSERT_FALSE(cache.ok());
    EXPECT_NE(cache.error().message.find("kv cache"), std::string::npos) << cache.error().message;
    // The backend still works afterwards.
    EXPECT_TRUE(be.create_kv_storage({.n_layers = 1, .n_kv_heads = 1, .head_dim_k = 4, .head_dim_v = 4,
                                      .block_size = 2, .n_blocks = 4, .type = KvType::F16})
                    .ok());
}

TEST(CpuOps, AttentionMasksAndCapsLikeTheFormula) {
    cpu::CpuBackend be({.threads = 2});
    const int64_t hd = 4, n = 6, window = 3;
    const float cap = 2.0f, scale = 0.7f;
    auto cache = be.create_kv_storage({.n_layers = 1, .n_kv_heads = 1, .head_dim_k = hd, .head_dim_v = hd,
                                       .block_size = 2, .n_blocks = 4, .type = KvType::F32});
    ASSERT_TRUE(cache.ok());
    // Positions 0..5 in blocks 3, 0, 2 (a scrambled table).
    const std::vector<int32_t> table = {3, 0, 2, -1};
    std::vector<int32_t> positions(n), seq(n, 0), slots(n);
    for (int32_t p = 0; p < n; ++p) {
        positions[p] = p;
        slots[p] = table[p / 2] * 2 + p % 2;
    }
    std::vector<float> q(n * 2 * hd), k(n * hd), v(n * hd), out(n * 2 * hd);
    for (size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.3f * i);
    for (size_t i = 0; i < k.size(); ++i) k[i] = std::cos(0.7f * i);
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * i;
    const BatchLayout batch{.n_tokens = n,
                            .n_seq_rows = 1,
                            .positions = positions.data(),
                            .seq_slots = seq.data(),
                            .kv_slots = slots.data(),
                            .block_tables = table.data(),
                            .max_blocks_per_seq = 4};
    ASSERT_TRUE(be.store_kv(**cache, 0, Act{k.data(), n, hd, hd}, Act{v.data(), n, hd, hd}, batch).ok());
    const AttentionConfig config{.n_heads = 2, .n_kv_heads = 1, .head_dim_k = hd, .head_dim_v = hd,
                                 .scale = scale, .softcap = cap, .sliding_window = window};
    ASSERT_TRUE(be.attention(**cache, 0, Act{q.data(), n, 2 * hd, 2 * hd}, config, batch, Act{out.data(), n, 2 * hd, 2 * hd}).ok());
    for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < 2; ++h) {
            std::vector<double> w;
            for (int64_t p = std::max<int64_t>(0, t - window + 1); p <= t; ++p) {
                double dot = 0;
                for (int64_t i = 0; i < hd; ++i) dot += q[t * 2 * hd + h * hd + i] * k[p * hd + i];
                w.push_back(std::exp(cap * std::tanh(dot * scale / cap)));
            }
            const double sum = std::accumulate(w.begin(), w.end(), 0.0);
            for (int64_t i = 0; i < hd; ++i) {
                double expected = 0;
                int64_t j = 0;
                for (int64_t p = std::max<int64_t>(0, t - window + 1); p <= t; ++p, ++j) expected += w[j] / sum * v[p * hd + i];
                EXPECT_NEAR(out[t * 2 * hd + h * hd + i], expected, 1e-5) << "token " << t << " head " << h;
            }
        }
}

TEST(CpuOps, RoutingPicksTheTopExpertsAndNormalises) {
    cpu::CpuBackend be({.threads = 1});
    std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f};
    int32_t ids[2];
    float weights[2];
    ASSERT_TRUE(be.route_top_k(Act{logits.data(), 1, 4, 4}, 2, true, ids, weights).ok());
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(ids[1], 3);
    EXPECT_NEAR(weights[0] + weights[1], 1.0f, 1e-6);
    EXPECT_NEAR(weights[0] / weights[1], std::exp(0.5f), 1e-4);
    EXPECT_FALSE(be.route_top_k(Act{logits.data(), 1, 4, 4}, 5, true, ids, weights).ok());
}

// A stack of experts imported whole is interleaved expert by expert, byte for byte as each expert
// imported alone, and matmul_experts gives each (token, slot) its expert's product.
TEST(CpuOps, StackedExpertsImportAndMultiplyAsSeparateMatrices) {
    const int64_t cols = 256, rows = 48, n_expert = 3;  // three whole tiles of 16 rows per expert
    const size_t row_bytes = quant::quantized_size(TensorType::Q8_0, cols).value();
    std::vector<uint8_t> stacked(static_cast<size_t>(n_expert * rows) * row_bytes);
    std::vector<float> values(cols);
    for (int64_t r = 0; r < n_expert * rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) values[c] = std::sin(0.013f * static_cast<float>(r * cols + c));
        const std::span<uint8_t> row(stacked.data() + r * row_bytes, row_bytes);
        ASSERT_TRUE(quant::quantize_row(TensorType::Q8_0, values, row).ok());
    }
    std::vector<uint8_t> separate_bytes = stacked;
    cpu::CpuBackend be({.threads = 2});
    const WeightMatrix host{.type = TensorType::Q8_0, .data = stacked.data(), .cols = cols, .rows = rows,
                            .row_bytes = row_bytes, .count = n_expert};
    auto stack = be.import_weight(host, true);
    ASSERT_TRUE(stack.ok()) << stack.error().message;
    EXPECT_EQ(stack->count, n_expert);
    std::vector<WeightMatrix> separate;
    for (int64_t e = 0; e < n_expert; ++e) {
        WeightMatrix one = host;
        one.data = separate_bytes.data() + e * rows * row_bytes;
        one.count = 1;
        separate.push_back(be.import_weight(one, true).value());
        EXPECT_EQ(stack->matrix(e).layout, separate.back().layout);
    }
    EXPECT_EQ(stacked, separate_bytes);
    EXPECT_EQ(stack->layout == cpu::kTiles16, cpu::can_tile(TensorType::Q8_0));

    const int64_t n_tokens = 4, k = 2;
    const int32_t ids[n_tokens * k] = {0, 2, 1, 0, 2, 1, 0, 1};
    std::vector<float> x(n_tokens * cols), y(n_tokens * k * rows), expected(rows);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i));
    ASSERT_TRUE(be.matmul_experts(*stack, ids, k, Act{x.data(), n_tokens, cols, cols},
                                  Act{y.data(), n_tokens * k, rows, rows}).ok());
    for (int64_t i = 0; i < n_tokens * k; ++i) {
        ASSERT_TRUE(be.matmul(separate[ids[i]], Act{x.data() + i / k * cols, 1, cols, cols},
                              Act{expected.data(), 1, rows, rows}).ok());
        for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(y[i * rows + r], expected[r]) << "slot " << i << " row " << r;
    }
    const int32_t bad[n_tokens * k] = {0, 3, 1, 0, 2, 1, 0, 1};
    EXPECT_FALSE(be.matmul_experts(*stack, bad, k, Act{x.data(), n_tokens, cols, cols},
                                   Act{y.data(), n_tokens * k, rows, rows}).ok());
}

// The engine sizes pools with kv_block_bytes: a block's keys and values of every layer, each
// part rounded up to 64 bytes as the storage lays them out.
TEST(CpuOps, KvBlockBytesFollowTheStorageLayout) {
    cpu::CpuBackend be({.threads = 1});
    const KvCacheShape f32{.n_layers = 3, .n_kv_heads = 2, .head_dim_k = 64, .head_dim_v = 32, .block_size = 16};
    EXPECT_EQ(be.kv_block_bytes(f32), 3 * 16 * 2 * (64 + 32) * 4);
    KvCacheShape odd = f32;  // 3 slots x 1 head x 5 values x 2 bytes = 30 bytes, stored in 64
    odd.n_kv_heads = 1;
    odd.head_dim_k = odd.head_dim_v = 5;
    odd.block_size = 3;
    odd.type = KvType::F16;
    EXPECT_EQ(be.kv_block_bytes(odd), 3 * (64 + 64));
}

}  // namespace
}  // namespace rf
