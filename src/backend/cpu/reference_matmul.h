// The portable matrix product: each weight row dequantized with the reference dequantizer, then
// dotted with activations rounded the way an 8-bit kernel rounds them (Q8_0/Q8_1/Q8_K blocks,
// F16, BF16 by weight type), so results track a quantized-kernel implementation closely.
// Used for every format until a faster kernel exists, and always as the fallback.
#pragma once

#include <optional>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/worker_pool.h"

namespace rf::cpu {

// The format activations are rounded to before a product with weights of `weight_type`
// (nullopt: kept in f32).
std::optional<TensorType> activation_format(TensorType weight_type);

class ReferenceMatmul {
public:
    explicit ReferenceMatmul(WorkerPool& pool) : pool_(pool) {}

    Status run(const WeightMatrix& w, const Act& x, const Act& y);

private:
    Status round_activations(TensorType format, const Act& x);

    WorkerPool& pool_;
    std::vector<float> rounded_;                   // x rounded, rows packed
    std::vector<std::vector<uint8_t>> quantized_;  // per worker: one quantized row
    std::vector<std::vector<float>> weight_rows_;  // per worker: one dequantized row
};

// Dot product of two f32 rows with several partial sums, so the compiler can vectorise it.
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace rf::cpu
