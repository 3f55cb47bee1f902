// Matrix-product speed on the shapes of TinyLlama-1.1B (n_embd 2048, 22 layers, 4 KV heads of 64,
// n_ff 5632, vocab 32000) with 2 threads, read against the memory roofline:
//   StreamRead     -- bytes/s a parallel read of 1 GiB on huge pages reaches (the bandwidth ceiling);
//   Matmul         -- one product per ISA variant (isa 1 = AVX2, 2 = AVX-512): GB/s of weights read and GFLOP/s, for n_tokens 1 (generation,
//                     memory-bound; the weights rotate through copies larger than the L3) and 128
//                     (prompt processing, compute-bound);
//   MatmulHot      -- one core, weights in L2: how fast the kernels decode when memory is not the limit;
//   TinyLlama      -- every product of the whole model (22 layers + output) per step, for 1, 2,
//                     4, 8, 16, 32 (batched decoding) and 128 tokens: the tok/s
//                     counter is the model's speed if everything but the products were free;
//   TinyLlamaRead  -- the same bytes as one token's products, only read: their ceiling.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <benchmark/benchmark.h>

#include "backend/cpu/kernels/matmul.h"
#include "backend/cpu/kernels/weight_tiles.h"
#include "bench_weights.h"
#include "quant/quantize.h"

namespace rf::bench {
namespace {

constexpr int kThreads = 2;
constexpr size_t kColdBytes = size_t{768} << 20;  // more than this machine's 260 MiB L3

cpu::ThreadPool& pool() {
    static cpu::ThreadPool p(kThreads);
    return p;
}

// Sums 32-byte (or 64-byte) words into four independent accumulators: a loop that the memory, not the adds,
// limits (a scalar 8-byte sum reached only 22 of the dev VM's 30 GB/s).
#if defined(__x86_64__)
__attribute__((target("avx2"))) float sum_bytes(const uint8_t* p, size_t n) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (size_t i = 0; i + 128 <= n; i += 128)
        for (int k = 0; k < 4; ++k)
            acc[k] = _mm256_add_ps(acc[k], _mm256_load_ps(reinterpret_cast<const float*>(p + i + 32 * k)));
    const __m256 total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, total);
    return std::accumulate(lanes, lanes + 8, 0.0f);
}
__attribute__((target("avx512f"))) float sum_bytes_512(const uint8_t* p, size_t n) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (size_t i = 0; i + 256 <= n; i += 256)
        for (int k = 0; k < 4; ++k)
            acc[k] = _mm512_add_ps(acc[k], _mm512_load_ps(reinterpret_cast<const float*>(p + i + 64 * k)));
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
    return std::accumulate(lanes, lanes + 16, 0.0f);
}
bool has_avx512() { return __builtin_cpu_supports("avx512f"); }
#else
float sum_bytes(const uint8_t* p, size_t n) { return static_cast<float>(std::accumulate(p, p + n, uint64_t{0})); }
float sum_bytes_512(const uint8_t* p, size_t n) { return sum_bytes(p, n); }
bool has_avx512() { return false; }
#endif

void StreamRead(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    const bool wide = state.range(1) != 0;  // 512-bit loads: 10-15% more on the dev VM
    if (wide && !has_avx512()) {
        state.SkipWithError("this CPU lacks AVX-512");
        return;
    }
    cpu::ThreadPool local(threads);
    constexpr size_t kBytes = size_t{1} << 30;
    const HugePageBytes data = allocate_huge_pages(kBytes);
    if (!data) {
        state.SkipWithError("no memory");
        return;
    }
    std::memset(data.get(), 1, kBytes);
    constexpr int64_t kChunks = 64;
    constexpr size_t kChunkBytes = kBytes / kChunks;
    for (auto _ : state) {
        std::vector<float> partial(kChunks, 0);
        local.parallel_for(kChunks, [&](int64_t begin, int64_t end) {
            for (int64_t c = begin; c < end; ++c)
                partial[static_cast<size_t>(c)] = (wide ? sum_bytes_512 : sum_bytes)(data.get() + static_cast<size_t>(c) * kChunkBytes, kChunkBytes);
        });
        benchmark::DoNotOptimize(std::accumulate(partial.begin(), partial.end(), 0.0f));
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(kBytes) * 1e-9 * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(StreamRead)->ArgsProduct({{1, 2}, {0, 1}})->ArgNames({"threads", "wide"})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

struct Shape {
    int64_t rows, cols;
};
// q/o, k/v, gate/up, down, output
constexpr Shape kShapes[] = {{2048, 2048}, {256, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};
constexpr TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::Q8_0, TensorType::F16};

void Matmul(benchmark::State& state) {
    const TensorType type = kTypes[state.range(0)];
    const Shape shape = kShapes[state.range(1)];
    const int64_t n_tokens = state.range(2);
    const cpu::Isa isa = static_cast<cpu::Isa>(state.range(3));
    if (!cpu::isa_supported(isa)) {
        state.SkipWithError("this CPU lacks the variant");
        return;
    }
    const size_t row_bytes = quant::quantized_size(type, static_cast<size_t>(shape.cols)).value();
    const size_t matrix_bytes = row_bytes * static_cast<size_t>(shape.rows);
    // Generation reads each matrix once per token, from memory; so the benchmark rotates through
    // copies that together exceed the caches. Prompt processing reuses one copy.
    const int64_t copies = n_tokens == 1 ? static_cast<int64_t>(std::max<size_t>(1, kColdBytes / matrix_bytes + 1)) : 1;
    OwnedMatrix all = make_matrix(type, shape.rows * copies, shape.cols);
    const bool tiled = state.range(4) != 0;
    if (tiled) cpu::tile_in_place(all.view, all.bytes.get(), pool());
    const auto x = random_activations(n_tokens * shape.cols);
    std::vector<float> y(static_cast<size_t>(n_tokens * shape.rows));
    int64_t copy = 0;
    for (auto _ : state) {
        WeightMatrix w = all.view;
        w.rows = shape.rows;
        w.data = all.view.data + static_cast<size_t>(copy) * matrix_bytes;  // whole tiles: rows % 16 == 0
        copy = (copy + 1) % copies;
        if (!cpu::matmul_with_isa(isa, w, x.data(), n_tokens, y.data(), pool()).ok())
            state.SkipWithError("matmul failed");
    }
    const double iters = static_cast<double>(state.iterations());
    state.SetLabel(std::string(tensor_type_name(type)) + " " + std::string(cpu::isa_name(isa)) + (tiled ? " tiled" : ""));
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(matrix_bytes) * 1e-9 * iters, benchmark::Counter::kIsRate);
    state.counters["GFLOP/s"] = benchmark::Counter(
        2e-9 * static_cast<double>(shape.rows * shape.cols * n_tokens) * iters, benchmark::Counter::kIsRate);
}

void MatmulArgs(benchmark::internal::Benchmark* b) {
    for (int t = 0; t < 5; ++t)
        for (int s = 0; s < 5; ++s)
            for (int n : {1, 128})
                for (cpu::Isa isa : {cpu::Isa::Avx2, cpu::Isa::Avx512})
                    for (int tiled = 0; tiled < (cpu::can_tile(kTypes[t]) ? 2 : 1); ++tiled)
                        b->Args({t, s, n, static_cast<int>(isa), tiled});
    b->ArgNames({"type", "shape", "tokens", "isa", "tiled"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(Matmul)->Apply(MatmulArgs);

// One thread, one 512 x 2048 matrix that stays in the L2 cache (2 MB here), one token: how fast a core decodes and
// dots weights when memory is not the limit (rates per CPU second, so a busy machine matters less).
void MatmulHot(benchmark::State& state) {
    const TensorType type = kTypes[state.range(0)];
    const cpu::Isa isa = static_cast<cpu::Isa>(state.range(1));
    if (!cpu::isa_supported(isa)) {
        state.SkipWithError("this CPU lacks the variant");
        return;
    }
    static cpu::ThreadPool single(1);
    OwnedMatrix m = make_matrix(type, 512, 2048);
    const bool tiled = state.range(2) != 0;
    if (tiled) {
        if (!cpu::can_tile(type)) {
            state.SkipWithError("no interleaved layout for this type");
            return;
        }
        cpu::tile_in_place(m.view, m.bytes.get(), single);
    }
    const auto x = random_activations(2048);
    std::vector<float> y(2048);
    for (auto _ : state)
        if (!cpu::matmul_with_isa(isa, m.view, x.data(), 1, y.data(), single).ok()) state.SkipWithError("matmul failed");
    state.SetLabel(std::string(tensor_type_name(type)) + " " + std::string(cpu::isa_name(isa)) + (tiled ? " tiled" : ""));
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(m.size) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(MatmulHot)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {static_cast<int>(cpu::Isa::Avx2), static_cast<int>(cpu::Isa::Avx512)}, {0, 1}})
    ->ArgNames({"type", "isa", "tiled"})
    ->Unit(benchmark::kMicrosecond);

// ---- the whole model's products ------------------------------------------------------------------

struct ModelMix {
    const char* name;
    TensorType main, more_bits, output;  // more_bits: attn_v and ffn_down on the layers that get them
};
// Q4_K_M gives attn_v and ffn_down 6 bits on the first and last eighth of the layers and every
// third one between; the output matrix is Q6_K in the 4-bit files.
constexpr ModelMix kMixes[] = {
    {"Q4_0", TensorType::Q4_0, TensorType::Q4_0, TensorType::Q6_K},
    {"Q4_K_M", TensorType::Q4_K, TensorType::Q6_K, TensorType::Q6_K},
    {"Q8_0", TensorType::Q8_0, TensorType::Q8_0, TensorType::Q8_0},
    {"F16", TensorType::F16, TensorType::F16, TensorType::F16},
};
constexpr int kLayers = 22;
// Per layer: q, k, v, o, gate, up, down.
constexpr Shape kLayerShapes[] = {{2048, 2048}, {256, 2048}, {256, 2048}, {2048, 2048},
                                  {5632, 2048}, {5632, 2048}, {2048, 5632}};

bool more_bits(int layer) {
    return layer < kLayers / 8 || layer >= 7 * kLayers / 8 || (layer - kLayers / 8) % 3 == 2;
}

void TinyLlama(benchmark::State& state) {
    const ModelMix& mix = kMixes[state.range(0)];
    const int64_t n_tokens = state.range(1);
    const bool tiled = state.range(2) != 0;
    std::vector<OwnedMatrix> weights;
    size_t model_bytes = 0;
    for (int l = 0; l < kLayers; ++l) {
        for (int m = 0; m < 7; ++m) {
            const TensorType type = (m == 2 || m == 6) && more_bits(l) ? mix.more_bits : mix.main;
            weights.push_back(make_matrix(type, kLayerShapes[m].rows, kLayerShapes[m].cols));
            model_bytes += weights.back().size;
            if (tiled) cpu::tile_in_place(weights.back().view, weights.back().bytes.get(), pool());
        }
    }
    weights.push_back(make_matrix(mix.output, 32000, 2048));
    model_bytes += weights.back().size;
    if (tiled) cpu::tile_in_place(weights.back().view, weights.back().bytes.get(), pool());

    const auto x = random_activations(n_tokens * 5632);
    std::vector<float> y(static_cast<size_t>(n_tokens * 32000));
    for (auto _ : state) {
        for (const OwnedMatrix& w : weights)
            if (!cpu::matmul(w.view, x.data(), n_tokens, y.data(), pool()).ok()) state.SkipWithError("matmul failed");
    }
    const double iters = static_cast<double>(state.iterations());
    state.SetLabel(std::string(mix.name) + (tiled ? " tiled" : ""));
    state.counters["tok/s"] = benchmark::Counter(static_cast<double>(n_tokens) * iters, benchmark::Counter::kIsRate);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(model_bytes) * 1e-9 * iters, benchmark::Counter::kIsRate);
    state.counters["model_MB"] = static_cast<double>(model_bytes) * 1e-6;
}
BENCHMARK(TinyLlama)
    ->ArgsProduct({{0, 1, 2, 3}, {1, 2, 4, 8, 16, 32, 128}, {0, 1}})
    ->ArgNames({"mix", "tokens", "tiled"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

// The bytes of TinyLlama's one-token step, only summed (512-bit loads, the fastest plain read
// here): the read ceiling for the products, with the step's structure. `waits`: 0 = one parallel
// range per thread per matrix, as the products split them (155 matrices, a wait after each);
// 1 = each thread sums its half of every matrix with no wait between them; 2 = q/k/v and gate/up
// as one range each (89 waits). Dev VM: 30.8 GB/s with 0, 0-3% more with 1 or 2.
void TinyLlamaRead(benchmark::State& state) {
    if (!has_avx512()) {
        state.SkipWithError("this CPU lacks AVX-512");
        return;
    }
    const ModelMix& mix = kMixes[state.range(0)];
    const int64_t waits = state.range(1);
    std::vector<size_t> sizes;  // page-aligned, one per product
    const auto page_aligned = [](size_t bytes) { return (bytes + 4095) / 4096 * 4096; };
    for (int l = 0; l < kLayers; ++l) {
        size_t layer[7];
        for (int m = 0; m < 7; ++m) {
            const TensorType type = (m == 2 || m == 6) && more_bits(l) ? mix.more_bits : mix.main;
            layer[m] = page_aligned(quant::quantized_size(type, static_cast<size_t>(kLayerShapes[m].cols)).value() *
                                    static_cast<size_t>(kLayerShapes[m].rows));
        }
        if (waits == 2)
            sizes.insert(sizes.end(), {layer[0] + layer[1] + layer[2], layer[3], layer[4] + layer[5], layer[6]});
        else
            sizes.insert(sizes.end(), layer, layer + 7);
    }
    sizes.push_back(page_aligned(quant::quantized_size(mix.output, 2048).value() * 32000));
    const size_t model_bytes = std::accumulate(sizes.begin(), sizes.end(), size_t{0});
    const HugePageBytes data = allocate_huge_pages(model_bytes);
    if (!data) {
        state.SkipWithError("no memory");
        return;
    }
    std::memset(data.get(), 1, model_bytes);
    // Thread t's share of the product at `offset`: its half of the 256-byte lines.
    const auto sum_share = [&](size_t offset, size_t bytes, int64_t t) {
        const int64_t lines = static_cast<int64_t>(bytes / 256);
        const int64_t first = lines * t / kThreads, last = lines * (t + 1) / kThreads;
        return sum_bytes_512(data.get() + offset + static_cast<size_t>(first) * 256, static_cast<size_t>(last - first) * 256);
    };
    float partial[kThreads] = {};
    for (auto _ : state) {
        if (waits == 1) {
            pool().parallel_for(kThreads, [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t)
                    for (size_t i = 0, offset = 0; i < sizes.size(); offset += sizes[i++]) partial[t] += sum_share(offset, sizes[i], t);
            }, 1);
            continue;
        }
        for (size_t i = 0, offset = 0; i < sizes.size(); offset += sizes[i++])
            pool().parallel_for(kThreads, [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t) partial[t] += sum_share(offset, sizes[i], t);
            }, 1);
    }
    benchmark::DoNotOptimize(partial);
    state.SetLabel(mix.name);
    state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(model_bytes) * 1e-9 * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(TinyLlamaRead)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->ArgNames({"mix", "waits"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace
}  // namespace rf::bench

BENCHMARK_MAIN();
