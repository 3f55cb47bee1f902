// Test helper: the reference value of one output of a matrix product, computed with the quant
// library's double-precision dot_row on the activations rounded the way the kernels round them,
// and an error bound for a correct kernel.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/kernels/row_kernels.h"
#include "quant/block_formats.h"
#include "quant/dequantize.h"
#include "quant/float_convert.h"
#include "quant/quantize.h"

namespace rf::cpu::test {

// A correct kernel's error: float rounding of per-block partial sums (relative to sum |w * x|),
// plus, for Q8_1 activations, the F16 rounding of each block's stored d * sum(q) times the
// weight block's min.
inline constexpr double kRelativeTolerance = 2e-5;

// One token's activations as the kernel sees them, dequantized back to f32, plus the stored
// Q8_1 block sums (empty for other formats).
struct RoundedActivations {
    std::vector<float> values;
    std::vector<float> q8_1_sums;
};

inline RoundedActivations round_activations(TensorType weight_type, std::span<const float> x) {
    RoundedActivations out;
    const detail::ActFormat format = detail::activation_format(weight_type);
    if (format == detail::ActFormat::F32) {
        out.values.assign(x.begin(), x.end());
        return out;
    }
    const TensorType type = detail::activation_tensor_type(format);
    std::vector<uint8_t> q(quant::quantized_size(type, x.size()).value());
    EXPECT_TRUE(quant::quantize_row(type, x, q).ok());
    out.values.resize(x.size());
    EXPECT_TRUE(quant::dequantize_row(type, q, out.values).ok());
    if (type == TensorType::Q8_1) {
        for (size_t b = 0; b < x.size() / 32; ++b) {
            const auto block = quant::load_block<quant::BlockQ8_1>(q.data() + b * sizeof(quant::BlockQ8_1));
            out.q8_1_sums.push_back(quant::fp16_to_f32(block.s));
        }
    }
    return out;
}

struct Expected {
    double value = 0;
    double tolerance = 0;
};

inline Expected expected_dot(TensorType type, std::span<const uint8_t> row, const RoundedActivations& x) {
    Expected e;
    e.value = quant::dot_row(type, row, x.values).value();
    std::vector<float> w(x.values.size());
    EXPECT_TRUE(quant::dequantize_row(type, row, w).ok());
    double magnitude = 0;
    for (size_t i = 0; i < w.size(); ++i) magnitude += std::fabs(static_cast<double>(w[i]) * x.values[i]);
    e.tolerance = kRelativeTolerance * magnitude + 1e-30;
    // Q4_1 / Q5_1 keep their F16 min at byte offset 2 of every block.
    const size_t block_bytes = x.q8_1_sums.empty() ? 0 : row.size() / x.q8_1_sums.size();
    for (size_t b = 0; b < x.q8_1_sums.size(); ++b) {
        uint16_t m_bits;
        std::memcpy(&m_bits, row.data() + b * block_bytes + 2, 2);
        e.tolerance += std::fabs(quant::fp16_to_f32(m_bits) * static_cast<double>(x.q8_1_sums[b])) * std::ldexp(1.0, -10);
    }
    return e;
}

}  // namespace rf::cpu::test
