// TQ1_0 and TQ2_0 (ternary weights, values d * {-1, 0, +1}) and MXFP4 (OCP microscaling FP4:
// E2M1 values with a shared power-of-two scale per 32 values).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "quant/block_formats.h"
#include "quant/codecs.h"
#include "quant/float_convert.h"
#include "quant/iq_tables.h"
#include "quant/scale_search.h"

namespace rf::quant::detail {
namespace {

// ---- ternary -------------------------------------------------------------------------------------
// TQ1_0 packs 5 base-3 digits per byte as a fixed-point fraction: byte = ceil(v * 256 / 243) for
// v = sum digit_n * 3^(4-n); digit n is recovered as ((byte * 3^n mod 256) * 3) >> 8. Bytes
// qs[0..31] hold values m + 32 n (n = 0..4) of the first 160, qs[32..47] values 160 + m + 16 n,
// and qh[0..3] (4 digits each) values 240 + j + 4 n.

inline float ternary_value(uint8_t byte, int n, float d) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
    const int digit = (static_cast<uint16_t>(q) * 3) >> 8;
    return static_cast<float>(digit - 1) * d;
}

void dequantize_tq1_0(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockTQ1_0)) {
        const auto block = load_block<BlockTQ1_0>(src);
        const float d = fp16_to_f32(block.d);
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 32; ++m) *y++ = ternary_value(block.qs[m], n, d);
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 16; ++m) *y++ = ternary_value(block.qs[32 + m], n, d);
        for (int n = 0; n < 4; ++n)
            for (int j = 0; j < 4; ++j) *y++ = ternary_value(block.qh[j], n, d);
    }
}

// TQ2_0: value 128 h + 32 l + m is bits 2l of qs[32 h + m], stored as q + 1.
void dequantize_tq2_0(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockTQ2_0)) {
        const auto block = load_block<BlockTQ2_0>(src);
        const float d = fp16_to_f32(block.d);
        for (int h = 0; h < 2; ++h)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((block.qs[32 * h + m] >> (2 * l)) & 3) - 1) * d;
    }
}

// Scale of a ternary super-block: least squares over thresholds, rounded to F16 by actual error.
float ternary_scale(const float* x) {
    std::array<int8_t, kQK_K> L{};
    const float s = std::fabs(fit_symmetric(x, nullptr, kQK_K, -1, 1, L.data()));
    float best_d = 0;  // stays 0 for an all-zero block, or when every candidate underflows F16
    double best_error = std::numeric_limits<double>::infinity();
    for (int k = -2; k <= 2 && s != 0; ++k) {  // a few F16 steps either way
        const float d = round_to_fp16(s * (1.0f + 0.004f * static_cast<float>(k)));
        if (d == 0) continue;
        const double error = symmetric_error(x, kQK_K, d, -1, 1);
        if (error < best_error) {
            best_error = error;
            best_d = d;
        }
    }
    return best_d;
}

// Digit 0..2 of x (-1, 0, +1 plus one), chosen as symmetric_error does.
inline int ternary_digit(float x, float d) { return (d != 0 ? round_clamp(x * (1.0f / d), -1, 1) : 0) + 1; }

inline uint8_t pack_digits(const int* digits, int count) {
    int v = 0;
    for (int n = 0; n < count; ++n) v = v * 3 + digits[n];
    for (int n = count; n < 5; ++n) v *= 3;  // fewer than 5 digits: leading digits first
    return static_cast<uint8_t>((v * 256 + 242) / 243);
}

void quantize_tq1_0(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockTQ1_0)) {
        const float d = ternary_scale(x);
        BlockTQ1_0 block{};
        block.d = f32_to_fp16(d);
        int digits[5];
        for (int m = 0; m < 32; ++m) {
            for (int n = 0; n < 5; ++n) digits[n] = ternary_digit(x[m + 32 * n], d);
            block.qs[m] = pack_digits(digits, 5);
        }
        for (int m = 0; m < 16; ++m) {
            for (int n = 0; n < 5; ++n) digits[n] = ternary_digit(x[160 + m + 16 * n], d);
            block.qs[32 + m] = pack_digits(digits, 5);
        }
        for (int j = 0; j < 4; ++j) {
            for (int n = 0; n < 4; ++n) digits[n] = ternary_digit(x[240 + j + 4 * n], d);
            block.qh[j] = pack_digits(digits, 4);
        }
        store_block(dst, block);
    }
}

void quantize_tq2_0(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockTQ2_0)) {
        const float d = ternary_scale(x);
        BlockTQ2_0 block{};
        block.d = f32_to_fp16(d);
        for (int h = 0; h < 2; ++h)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m)
                    block.qs[32 * h + m] |= static_cast<uint8_t>(ternary_digit(x[128 * h + 32 * l + m], d) << (2 * l));
        store_block(dst, block);
    }
}

// ---- MXFP4 ---------------------------------------------------------------------------------------
// Nibble j < 16 (low) / j + 16 (high) of qs[j] indexes kValuesMxfp4; x = value * 2^(e - 128).

void dequantize_mxfp4(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockMXFP4), y += kQK) {
        const auto block = load_block<BlockMXFP4>(src);
        const float d = e8m0_to_f32_half(block.e);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(kValuesMxfp4[block.qs[j] & 0x0f]) * d;
            y[j + 16] = static_cast<float>(kValuesMxfp4[block.qs[j] >> 4]) * d;
        }
    }
}

// Index of the E2M1 value nearest to x at scale d (the first of equals).
inline uint8_t mxfp4_index(float x, float d) {
    int best = 0;
    float best_error = std::fabs(static_cast<float>(kValuesMxfp4[0]) * d - x);
    for (int i = 1; i < 16; ++i) {
        const float error = std::fabs(static_cast<float>(kValuesMxfp4[i]) * d - x);
        if (error < best_error) {
            best_error = error;
            best = i;
        }
    }
    return static_cast<uint8_t>(best);
}

double mxfp4_error(const float* x, float d) {
    double error = 0;
    for (int j = 0; j < kQK; ++j) {
        const double diff = static_cast<double>(static_cast<float>(kValuesMxfp4[mxfp4_index(x[j], d)]) * d) - x[j];
        error += diff * diff;
    }
    return error;
}

// The exponent that puts the largest |x| near the top value (6 = 12 / 2), and its neighbours,
// judged by the actual error.
void quantize_mxfp4(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockMXFP4)) {
        float amax = 0;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        int e = 0;
        if (amax > 0) {
            const int center = std::clamp(static_cast<int>(std::floor(std::log2(amax))) - 2 + 127, 0, 254);
            double best_error = std::numeric_limits<double>::infinity();
            for (int c = std::max(0, center - 1); c <= std::min(254, center + 1); ++c) {
                const double error = mxfp4_error(x, e8m0_to_f32_half(static_cast<uint8_t>(c)));
                if (error < best_error) {
                    best_error = error;
                    e = c;
                }
            }
        }
        BlockMXFP4 block{};
        block.e = static_cast<uint8_t>(e);
        const float d = e8m0_to_f32_half(block.e);
        for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(mxfp4_index(x[j], d) | (mxfp4_index(x[j + 16], d) << 4));
        store_block(dst, block);
    }
}

constexpr std::array kCodecs = {
    Codec{TensorType::TQ1_0, dequantize_tq1_0, quantize_tq1_0},
    Codec{TensorType::TQ2_0, dequantize_tq2_0, quantize_tq2_0},
    Codec{TensorType::MXFP4, dequantize_mxfp4, quantize_mxfp4},
};

}  // namespace

std::span<const Codec> ternary_mxfp4_codecs() { return kCodecs; }

}  // namespace rf::quant::detail
