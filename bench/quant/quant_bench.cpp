// Throughput of quantize_row per weight type, one thread, reported as values/s (items_per_second).
// The input looks like a weight matrix: Gaussian values with a few large outliers, fixed seed.
//   quant_bench [--benchmark_filter=Q4_K]
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "quant/quantize.h"

namespace {

using rf::TensorType;

constexpr size_t kValues = 64 * 1024;  // a multiple of every block size; fits in L2 with its output

const std::vector<float>& weights() {
    static const std::vector<float> values = [] {
        std::mt19937 rng(12345);
        std::normal_distribution<float> normal(0.0f, 0.02f);
        std::uniform_real_distribution<float> unit(0.0f, 1.0f);
        std::vector<float> v(kValues);
        for (float& x : v) x = unit(rng) < 0.002f ? normal(rng) * 10.0f : normal(rng);
        return v;
    }();
    return values;
}

void quantize_throughput(benchmark::State& state, TensorType type) {
    const std::vector<float>& src = weights();
    const auto bytes = rf::quant::quantized_size(type, src.size());
    if (!bytes.ok()) {
        state.SkipWithError(bytes.error().message.c_str());
        return;
    }
    std::vector<uint8_t> dst(bytes.value());
    for (auto _ : state) {
        const rf::Status status = rf::quant::quantize_row(type, src, dst);
        if (!status.ok()) {
            state.SkipWithError(status.error().message.c_str());
            return;
        }
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(src.size()));
}

#define RF_QUANT_BENCH(TYPE) BENCHMARK_CAPTURE(quantize_throughput, TYPE, TensorType::TYPE)->Unit(benchmark::kMillisecond)

RF_QUANT_BENCH(Q4_0);
RF_QUANT_BENCH(Q4_1);
RF_QUANT_BENCH(Q5_0);
RF_QUANT_BENCH(Q5_1);
RF_QUANT_BENCH(Q8_0);
RF_QUANT_BENCH(Q2_K);
RF_QUANT_BENCH(Q3_K);
RF_QUANT_BENCH(Q4_K);
RF_QUANT_BENCH(Q5_K);
RF_QUANT_BENCH(Q6_K);
RF_QUANT_BENCH(IQ4_NL);
RF_QUANT_BENCH(IQ4_XS);
RF_QUANT_BENCH(TQ1_0);
RF_QUANT_BENCH(TQ2_0);
RF_QUANT_BENCH(MXFP4);

}  // namespace

BENCHMARK_MAIN();
