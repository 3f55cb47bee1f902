#include "bench_weights.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <random>
#include <span>

#include "quant/quantize.h"

namespace rf::bench {

AlignedFloats random_activations(int64_t n) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    AlignedFloats v(static_cast<size_t>(n));
    for (auto& x : v) x = normal(rng);
    return v;
}

OwnedMatrix make_matrix(TensorType type, int64_t rows, int64_t cols) {
    constexpr int64_t kDistinctRows = 16;
    const size_t row_bytes = quant::quantized_size(type, static_cast<size_t>(cols)).value();
    const int64_t seed_rows = std::min(rows, kDistinctRows);
    const auto values = random_activations(seed_rows * cols);
    OwnedMatrix m;
    m.size = row_bytes * static_cast<size_t>(rows);
    m.bytes = allocate_huge_pages(m.size);
    if (!m.bytes) throw std::bad_alloc();
    for (int64_t r = 0; r < seed_rows; ++r) {
        const std::span<const float> src(values.data() + r * cols, static_cast<size_t>(cols));
        (void)quant::quantize_row(type, src, std::span(m.bytes.get() + r * row_bytes, row_bytes));
    }
    for (int64_t r = seed_rows; r < rows; ++r)
        std::memcpy(m.bytes.get() + r * row_bytes, m.bytes.get() + (r % seed_rows) * row_bytes, row_bytes);
    m.view = WeightMatrix{.type = type, .data = m.bytes.get(), .cols = cols, .rows = rows, .row_bytes = row_bytes};
    return m;
}

}  // namespace rf::bench
