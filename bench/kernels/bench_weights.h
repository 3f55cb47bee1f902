// Benchmark weights: matrices of any type filled quickly (a few quantized rows repeated), so
// that model-sized buffers (hundreds of MB) can be made in seconds.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/weight_matrix.h"

namespace rf::bench {

struct OwnedMatrix {
    std::vector<uint8_t> bytes;
    WeightMatrix view;
};

// rows x cols of `type`: 16 distinct rows of random values, quantized, repeated down the matrix.
OwnedMatrix make_matrix(TensorType type, int64_t rows, int64_t cols);

std::vector<float> random_activations(int64_t n);

}  // namespace rf::bench
