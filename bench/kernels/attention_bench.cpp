// Attention speed on TinyLlama-1.1B's shape (32 query heads, 4 KV heads of 64), through the CPU
// backend with 2 threads, per layer, with the KV cache in F32 or F16: the last `tokens` positions
// of a context of `context` as one batch (1: a generated token; more: a prompt chunk at depth,
// each token seeing the positions up to its own). Counters: the bytes of keys and values one
// token reads per second, the multiply-adds' GFLOP/s, and the ms the 22 layers' attention adds
// per token.
#include <cmath>
#include <vector>

#include <benchmark/benchmark.h>

#include "backend/cpu/cpu_backend.h"

namespace rf::bench {
namespace {

constexpr int64_t kHeads = 32, kKvHeads = 4, kHeadDim = 64, kLayers = 22, kBlock = 16;

void Attention(benchmark::State& state) {
    const int64_t context = state.range(0), tokens = state.range(2);
    const KvType type = state.range(1) != 0 ? KvType::F16 : KvType::F32;
    cpu::CpuBackend backend({.threads = 2});
    const int64_t n_blocks = context / kBlock;
    auto cache = backend.create_kv_storage({.n_layers = 1, .n_kv_heads = kKvHeads, .head_dim_k = kHeadDim,
                                            .head_dim_v = kHeadDim, .block_size = kBlock, .n_blocks = n_blocks,
                                            .type = type});
    if (!cache.ok()) {
        state.SkipWithError("no cache");
        return;
    }
    // Fill every position (blocks in reverse order, as a long-running cache would hand them out).
    std::vector<int32_t> table(static_cast<size_t>(n_blocks)), positions(context), seqs(context, 0), slots(context);
    for (int64_t b = 0; b < n_blocks; ++b) table[b] = static_cast<int32_t>(n_blocks - 1 - b);
    for (int64_t p = 0; p < context; ++p) {
        positions[p] = static_cast<int32_t>(p);
        slots[p] = static_cast<int32_t>(table[p / kBlock] * kBlock + p % kBlock);
    }
    const int64_t kv_cols = kKvHeads * kHeadDim, q_cols = kHeads * kHeadDim;
    std::vector<float> kv(static_cast<size_t>(context * kv_cols));
    for (size_t i = 0; i < kv.size(); ++i) kv[i] = std::sin(0.01f * static_cast<float>(i));
    const BatchLayout all{.n_tokens = context, .n_seq_rows = 1, .positions = positions.data(), .seq_slots = seqs.data(),
                          .kv_slots = slots.data(), .block_tables = table.data(), .max_blocks_per_seq = n_blocks};
    if (!backend.store_kv(**cache, 0, Act{kv.data(), context, kv_cols, kv_cols}, Act{kv.data(), context, kv_cols, kv_cols}, all).ok()) {
        state.SkipWithError("store failed");
        return;
    }
    std::vector<float> q(static_cast<size_t>(tokens * q_cols)), out(q.size());
    for (size_t i = 0; i < q.size(); ++i) q[i] = std::cos(0.1f * static_cast<float>(i));
    const int64_t first = context - tokens;
    const BatchLayout batch{.n_tokens = tokens, .n_seq_rows = 1, .positions = &positions[first],
                            .seq_slots = seqs.data(), .kv_slots = &slots[first], .block_tables = table.data(),
                            .max_blocks_per_seq = n_blocks};
    const AttentionConfig config{.n_heads = kHeads, .n_kv_heads = kKvHeads, .head_dim_k = kHeadDim,
                                 .head_dim_v = kHeadDim, .scale = 0.125f};
    for (auto _ : state) {
        if (!backend.attention(**cache, 0, Act{q.data(), tokens, q_cols, q_cols}, config, batch,
                               Act{out.data(), tokens, q_cols, q_cols}).ok())
            state.SkipWithError("attention failed");
        benchmark::DoNotOptimize(out.data());
    }
    // Token t sees first + t + 1 positions; each position costs 2 multiply-adds per element and head.
    const double visible = static_cast<double>(tokens * first + tokens * (tokens + 1) / 2);
    const double per_token = visible / static_cast<double>(tokens);
    const double kv_bytes = 2.0 * per_token * static_cast<double>(kv_cols) * (type == KvType::F16 ? 2 : 4);
    const double flops = 4.0 * visible * static_cast<double>(kHeads * kHeadDim);
    const double iters = static_cast<double>(state.iterations()), per_iter = static_cast<double>(tokens);
    state.counters["GB/s"] = benchmark::Counter(kv_bytes * 1e-9 * iters * per_iter, benchmark::Counter::kIsRate);
    state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * iters, benchmark::Counter::kIsRate);
    state.counters["ms/token"] = benchmark::Counter(iters * per_iter / (1e3 * kLayers),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.SetLabel(type == KvType::F16 ? "f16" : "f32");
}
BENCHMARK(Attention)
    ->ArgsProduct({{512, 2048, 8192}, {0, 1}, {1, 128}})
    ->ArgNames({"context", "f16", "tokens"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace rf::bench

BENCHMARK_MAIN();
