#include "backend/cpu/reference_matmul.h"

#include <atomic>
#include <cstring>

#include "backend/cpu/kernels/weight_tiles.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace rf::cpu {

std::optional<TensorType> activation_format(TensorType weight_type) {
    switch (weight_type) {
        case TensorType::F32: return std::nullopt;
        case TensorType::F16: return TensorType::F16;
        case TensorType::BF16: return TensorType::BF16;
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0:
        case TensorType::IQ4_NL: case TensorType::MXFP4:
            return TensorType::Q8_0;
        case TensorType::Q4_1: case TensorType::Q5_1:
            return TensorType::Q8_1;
        case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
        case TensorType::Q6_K: case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ2_S:
        case TensorType::IQ3_XXS: case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M:
        case TensorType::IQ4_XS: case TensorType::TQ1_0: case TensorType::TQ2_0:
            return TensorType::Q8_K;
        default: return std::nullopt;
    }
}

float dot_f32(const float* a, const float* b, int64_t n) {
    float acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
    float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

Status ReferenceMatmul::round_activations(TensorType format, const Act& x) {
    const size_t cols = static_cast<size_t>(x.cols);
    auto row_bytes = quant::quantized_size(format, cols);
    if (!row_bytes.ok()) return row_bytes.error();
    if (rounded_.size() < cols * x.rows) rounded_.resize(cols * x.rows);
    quantized_.resize(pool_.size());
    for (auto& q : quantized_)
        if (q.size() < *row_bytes) q.resize(*row_bytes);

    std::atomic<bool> failed{false};
    pool_.parallel_for(x.rows, [&](int64_t begin, int64_t end, int worker) {
        std::span<uint8_t> q(quantized_[worker].data(), *row_bytes);
        for (int64_t t = begin; t < end; ++t) {
            std::span<const float> src(x.data + t * x.stride, cols);
            std::span<float> dst(rounded_.data() + t * cols, cols);
            if (!quant::quantize_row(format, src, q).ok() || !quant::dequantize_row(format, q, dst).ok())
                failed = true;
        }
    });
    if (failed) return make_error("matmul: activations could not be rounded to {} (non-finite values?)",
                                  tensor_type_name(format));
    return ok_status();
}

Status ReferenceMatmul::run(const WeightMatrix& w, const Act& x, const Act& y) {
    if (x.cols != w.cols || y.cols != w.rows || x.rows != y.rows)
        return make_error("matmul: shapes do not match (weight {}x{}, x {}x{}, y {}x{})", w.rows, w.cols,
                          x.rows, x.cols, y.rows, y.cols);
    if (!quant::can_dequantize(w.type))
        return make_error("matmul: weights of type {} cannot be used", tensor_type_name(w.type));

    const float* xs = x.data;
    int64_t x_stride = x.stride;
    if (auto format = activation_format(w.type)) {
        RF_TRY(round_activations(*format, x));
        xs = rounded_.data();
        x_stride = x.cols;
    }

    const size_t cols = static_cast<size_t>(w.cols);
    weight_rows_.resize(pool_.size());
    for (auto& r : weight_rows_)
        if (r.size() < cols) r.resize(cols);

    std::atomic<bool> failed{false};
    pool_.parallel_for(w.rows, [&](int64_t begin, int64_t end, int worker) {
        float* row = weight_rows_[worker].data();
        thread_local std::vector<uint8_t> scratch;
        scratch.resize(w.row_bytes);
        for (int64_t r = begin; r < end; ++r) {
            const float* weights = row;
            if (w.type == TensorType::F32) {
                weights = reinterpret_cast<const float*>(w.row(r));
            } else if (!quant::dequantize_row(w.type, {file_row(w, r, scratch.data()), w.row_bytes}, {row, cols}).ok()) {
                failed = true;
                return;
            }
            for (int64_t t = 0; t < x.rows; ++t)
                y.data[t * y.stride + r] = dot_f32(weights, xs + t * x_stride, w.cols);
        }
    });
    if (failed) return make_error("matmul: a {} weight row could not be dequantized", tensor_type_name(w.type));
    return ok_status();
}

}  // namespace rf::cpu
