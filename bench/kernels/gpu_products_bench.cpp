// The CUDA backend's few-token products on the shapes of a Llama-3-8B layer (n_embd 4096, 8 KV
// heads of 128, n_ff 14336) and its output head (vocab 128256), read against the card's copy
// bandwidth measured in the same run. Each product is launched back to back over rotating copies
// of its weights (more than the L2 holds), captured as one CUDA graph as the engine's steps are,
// so the figure is the GPU time per product including the gaps between launches.
//   gpu_products_bench [--formats Q4_K,Q6_K,...] [--tokens 1,2,8] [--reps N]
// Prints one line per (format, shape, tokens): microseconds per product, weight bytes per second
// and the share of the copy bandwidth; "layer" is the seven products of one layer in order,
// "grouped" the same in four launches (Q, K and V in one, gate and up in one). Where a format's
// few-token products have the int8 tiles (cuda_int8_tiles.cu), the same again with the kernel
// they replaced, marked "untiled"; one token again with each long row shared by four groups of
// lanes (cuda_gemv.cu), marked "split", and with 2, 4 and 8 rows a group of lanes, marked so.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/kernels.h"

namespace {

using rf::TensorType;
namespace gpu = rf::gpu;

#define CHECK(call)                                                                          \
    do {                                                                                     \
        const gpuError_t err_ = (call);                                                      \
        if (err_ != gpuSuccess) {                                                            \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, gpuGetErrorString(err_)); \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

struct Shape {
    const char* name;
    int64_t rows, cols;
};
constexpr Shape kLayer[] = {{"q", 4096, 4096},       {"k", 1024, 4096},    {"v", 1024, 4096}, {"o", 4096, 4096},
                            {"gate", 14336, 4096}, {"up", 14336, 4096}, {"down", 4096, 14336}};
constexpr Shape kOutput{"output", 128256, 4096};
constexpr size_t kRotateBytes = size_t{768} << 20;  // weights cycled through: far more than the 50 MB L2

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at <= s.size()) {
        const size_t comma = std::min(s.find(',', at), s.size());
        if (comma > at) out.push_back(s.substr(at, comma - at));
        at = comma + 1;
    }
    return out;
}

size_t row_bytes(TensorType type, int64_t cols) { return *rf::tensor_bytes(type, static_cast<uint64_t>(cols)); }

// Copy bandwidth (bytes read + written) over 1 GiB, as the device script's ceiling step measures it.
double copy_bandwidth(gpuStream_t stream) {
    const size_t n = size_t{512} << 20;
    void *a = nullptr, *b = nullptr;
    CHECK(gpuMalloc(&a, n));
    CHECK(gpuMalloc(&b, n));
    CHECK(gpuMemsetAsync(a, 1, n, stream));
    gpuEvent_t start, stop;
    CHECK(gpuEventCreate(&start));
    CHECK(gpuEventCreate(&stop));
    CHECK(gpuMemcpyAsync(b, a, n, gpuMemcpyDeviceToDevice, stream));
    CHECK(gpuEventRecord(start, stream));
    constexpr int kReps = 20;
    for (int i = 0; i < kReps; ++i) CHECK(gpuMemcpyAsync(b, a, n, gpuMemcpyDeviceToDevice, stream));
    CHECK(gpuEventRecord(stop, stream));
    CHECK(gpuEventSynchronize(stop));
    float ms = 0;
    CHECK(gpuEventElapsedTime(&ms, start, stop));
    CHECK(gpuFree(a));
    CHECK(gpuFree(b));
    return 2.0 * n * kReps / (ms * 1e-3);
}

struct Bench {
    gpuStream_t stream;
    int* fault;
    void* scratch;
    float* x;
    float* y;
    int reps;
    double copy;
    bool tiles = true;  // the backend's choice of int8 kernel; false: the untiled one
    gpu::GemvOptions gemv;  // the direct products' layout (cuda_gemv.cu)
    std::string variant;    // its name where it is not the default
    gpu::SplitWorkspace split;

    // Microseconds per launch of `launch(copy_index)` over `reps` launches, replayed as one graph.
    template <class Launch>
    double time_graph(int copies, Launch launch) {
        gpuGraph_t graph;
        gpuGraphExec_t exec;
        CHECK(gpuStreamBeginCapture(stream, gpuStreamCaptureModeRelaxed));
        for (int i = 0; i < reps; ++i) launch(i % copies);
        CHECK(gpuStreamEndCapture(stream, &graph));
        CHECK(gpuGraphInstantiate(&exec, graph));
        CHECK(gpuGraphLaunch(exec, stream));  // warm-up
        gpuEvent_t start, stop;
        CHECK(gpuEventCreate(&start));
        CHECK(gpuEventCreate(&stop));
        CHECK(gpuEventRecord(start, stream));
        CHECK(gpuGraphLaunch(exec, stream));
        CHECK(gpuEventRecord(stop, stream));
        CHECK(gpuEventSynchronize(stop));
        float ms = 0;
        CHECK(gpuEventElapsedTime(&ms, start, stop));
        CHECK(gpuGraphExecDestroy(exec));
        CHECK(gpuGraphDestroy(graph));
        return ms * 1e3 / reps;
    }

    gpu::ProductParams params(TensorType type, const uint8_t* w, const Shape& s, int64_t tokens) const {
        const size_t rb = row_bytes(type, s.cols);
        return {.type = type, .w = w, .row_bytes = rb, .matrix_bytes = rb * s.rows, .rows = s.rows, .cols = s.cols,
                .count = 1, .y = y, .y_rows = tokens, .y_stride = s.rows, .ids = nullptr, .k = 1, .fault = fault};
    }

    // The product kernel the backend picks for `tokens` (gemv for one token; int8 tensor cores for
    // a few where the format has them), launched over the quantized input already in scratch.
    gpuError_t launch(const gpu::ProductParams& p) const {
        if (p.y_rows >= 2 && gpu::int8_product_supports(p.type, p.w, p.row_bytes, p.matrix_bytes, p.cols))
            return gpu::launch_int8_product(stream, p.y_rows, scratch, p, tiles, split);
        return gpu::launch_gemv(stream, p.y_rows, scratch, p, gemv);
    }

    void report(const char* format, const char* shape, int64_t tokens, double us, double bytes) const {
        const double gbs = bytes / (us * 1e-6) / 1e9;
        std::printf("%-5s %-7s tokens %3lld  %9.2f us  %7.0f GB/s  %5.1f%% of copy%s\n", format, shape,
                    static_cast<long long>(tokens), us, gbs, 100.0 * gbs * 1e9 / copy,
                    !tiles ? "  untiled" : variant.c_str());
    }

    void run(TensorType type, int64_t tokens) {
        const char* name = rf::tensor_type_name(type).data();
        std::vector<Shape> shapes(std::begin(kLayer), std::end(kLayer));
        if (type == TensorType::Q6_K || type == TensorType::Q8_0) shapes.push_back(kOutput);
        size_t layer_bytes = 0;
        for (const Shape& s : kLayer) layer_bytes += row_bytes(type, s.cols) * s.rows;
        for (const Shape& s : shapes) {
            const size_t bytes = row_bytes(type, s.cols) * s.rows;
            const int copies = static_cast<int>(std::max<size_t>(2, kRotateBytes / bytes));
            uint8_t* w = nullptr;
            CHECK(gpuMalloc(reinterpret_cast<void**>(&w), bytes * copies));
            CHECK(gpuMemsetAsync(w, 0x11, bytes * copies, stream));  // finite scales; values do not change the timing
            CHECK(gpu::launch_gemv_quantize(stream, type, gpu::Mat{x, tokens, s.cols, s.cols}, scratch));
            const double us = time_graph(copies, [&](int c) { CHECK(launch(params(type, w + c * bytes, s, tokens))); });
            report(name, s.name, tokens, us, static_cast<double>(bytes));  // weights are read once per product
            CHECK(gpuFree(w));
        }
        // The seven products of a layer in order, as a step runs them (inputs quantized once per input).
        uint8_t* w = nullptr;
        const int copies = static_cast<int>(std::max<size_t>(2, kRotateBytes / layer_bytes));
        CHECK(gpuMalloc(reinterpret_cast<void**>(&w), layer_bytes * copies));
        CHECK(gpuMemsetAsync(w, 0x11, layer_bytes * copies, stream));
        CHECK(gpu::launch_gemv_quantize(stream, type, gpu::Mat{x, tokens, 14336, 14336}, scratch));
        const double us = time_graph(copies, [&](int c) {
            size_t at = c * layer_bytes;
            for (const Shape& s : kLayer) {
                CHECK(launch(params(type, w + at, s, tokens)));
                at += row_bytes(type, s.cols) * s.rows;
            }
        });
        report(name, "layer", tokens, us, static_cast<double>(layer_bytes));
        if (tokens == 1) {
            // The same with Q, K and V in one launch and gate and up in another (Backend::matmuls).
            const double grouped = time_graph(copies, [&](int c) {
                gpu::ProductParams ps[7];
                size_t at = c * layer_bytes;
                for (int i = 0; i < 7; ++i) {
                    ps[i] = params(type, w + at, kLayer[i], tokens);
                    at += row_bytes(type, kLayer[i].cols) * kLayer[i].rows;
                }
                CHECK(gpu::launch_gemv_group(stream, tokens, scratch, ps, 3, gemv));
                CHECK(gpu::launch_gemv(stream, tokens, scratch, ps[3], gemv));
                CHECK(gpu::launch_gemv_group(stream, tokens, scratch, ps + 4, 2, gemv));
                CHECK(gpu::launch_gemv(stream, tokens, scratch, ps[6], gemv));
            });
            report(name, "grouped", tokens, grouped, static_cast<double>(layer_bytes));
        }
        CHECK(gpuFree(w));
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> formats{"Q4_K", "Q6_K", "Q4_0", "Q8_0", "F16"};
    std::vector<int64_t> tokens{1};
    int reps = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--formats") formats = split(value);
        else if (flag == "--tokens") {
            tokens.clear();
            for (const std::string& t : split(value)) tokens.push_back(std::stoll(t));
        } else if (flag == "--reps") reps = std::stoi(value);
        else {
            std::fprintf(stderr, "usage: gpu_products_bench [--formats Q4_K,...] [--tokens 1,8] [--reps N]\n");
            return 2;
        }
    }
    Bench b{};
    b.reps = reps;
    CHECK(gpuStreamCreate(&b.stream));
    CHECK(gpuMalloc(reinterpret_cast<void**>(&b.fault), sizeof(int)));
    CHECK(gpuMemsetAsync(b.fault, 0, sizeof(int), b.stream));
    const int64_t max_tokens = *std::max_element(tokens.begin(), tokens.end());
    CHECK(gpuMalloc(&b.scratch, gpu::gemv_scratch_bytes(max_tokens, 14336)));
    CHECK(gpuMalloc(reinterpret_cast<void**>(&b.x), sizeof(float) * max_tokens * 14336));
    CHECK(gpuMalloc(reinterpret_cast<void**>(&b.y), sizeof(float) * max_tokens * kOutput.rows));
    CHECK(gpuMemsetAsync(b.x, 0x3c, sizeof(float) * max_tokens * 14336, b.stream));  // about 0.012 each
    // The int8 tiles' split workspace, as the backend keeps one: room for the largest layer product.
    for (const int64_t t : tokens)
        for (const Shape& s : kLayer)
            b.split.partial_floats = std::max(b.split.partial_floats, gpu::int8_tiles_partial_floats(s.rows, t, s.cols));
    b.split.n_counters = gpu::kSplitCounters;
    CHECK(gpuMalloc(reinterpret_cast<void**>(&b.split.partials), sizeof(float) * std::max<size_t>(1, b.split.partial_floats)));
    CHECK(gpuMalloc(reinterpret_cast<void**>(&b.split.counters), sizeof(int) * gpu::kSplitCounters));
    CHECK(gpuMemsetAsync(b.split.counters, 0, sizeof(int) * gpu::kSplitCounters, b.stream));
    b.copy = copy_bandwidth(b.stream);
    std::printf("copy bandwidth %.0f GB/s (read + written)\n", b.copy / 1e9);
    for (const std::string& f : formats) {
        const auto type = rf::tensor_type_from_name(f);
        if (!type) {
            std::fprintf(stderr, "unknown format %s\n", f.c_str());
            return 2;
        }
        for (const int64_t t : tokens) {
            b.run(*type, t);
            if (t == 1) {
                b.gemv.split_long_rows = true;
                b.variant = "  split";
                b.run(*type, t);
                b.gemv.split_long_rows = false;
                for (const int rows : {2, 4, 8}) {
                    b.gemv.rows_per_group = rows;
                    b.variant = "  " + std::to_string(rows) + " rows a group";
                    b.run(*type, t);
                }
                b.gemv = {};
                b.variant.clear();
            }
            if (t < 2 || !gpu::int8_tiles_supports(*type, nullptr, rf::tensor_bytes(*type, 4096).value_or(0), 4096)) continue;
            b.tiles = false;
            b.run(*type, t);
            b.tiles = true;
        }
    }
    int fault = 0;
    CHECK(gpuMemcpy(&fault, b.fault, sizeof(int), gpuMemcpyDeviceToHost));
    return fault == 0 ? 0 : 1;
}
