// Legacy 32-element blocks: Q4_0, Q4_1, Q5_0, Q5_1 (weights) and Q8_0, Q8_1 (also activations).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "quant/block_formats.h"
#include "quant/codecs.h"
#include "quant/float_convert.h"
#include "quant/scale_search.h"

namespace rf::quant::detail {
namespace {

// ---- dequantization ------------------------------------------------------------------------------
// Element j < 16 sits in the low nibble of qs[j], element j + 16 in the high nibble.

void dequantize_q4_0(const uint8_t* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ4_0), dst += kQK) {
        const auto block = load_block<BlockQ4_0>(src);
        const float d = fp16_to_f32(block.d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = static_cast<float>((block.qs[j] & 0x0f) - 8) * d;
            dst[j + 16] = static_cast<float>((block.qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const uint8_t* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ4_1), dst += kQK) {
        const auto block = load_block<BlockQ4_1>(src);
        const float d = fp16_to_f32(block.d);
        const float m = fp16_to_f32(block.m);
        for (int j = 0; j < 16; ++j) {
            dst[j] = static_cast<float>(block.qs[j] & 0x0f) * d + m;
            dst[j + 16] = static_cast<float>(block.qs[j] >> 4) * d + m;
        }
    }
}

// Bit j of qh (little-endian) is the fifth bit of element j.
inline uint32_t load_qh(const uint8_t (&qh)[4]) {
    uint32_t v;
    std::memcpy(&v, qh, sizeof v);
    return v;
}

void dequantize_q5_0(const uint8_t* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ5_0), dst += kQK) {
        const auto block = load_block<BlockQ5_0>(src);
        const float d = fp16_to_f32(block.d);
        const uint32_t qh = load_qh(block.qh);
        for (int j = 0; j < 16; ++j) {
            const int lo = (block.qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int hi = (block.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            dst[j] = static_cast<float>(lo - 16) * d;
            dst[j + 16] = static_cast<float>(hi - 16) * d;
        }
    }
}

void dequantize_q5_1(const uint8_t* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ5_1), dst += kQK) {
        const auto block = load_block<BlockQ5_1>(src);
        const float d = fp16_to_f32(block.d);
        const float m = fp16_to_f32(block.m);
        const uint32_t qh = load_qh(block.qh);
        for (int j = 0; j < 16; ++j) {
            const int lo = (block.qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int hi = (block.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            dst[j] = static_cast<float>(lo) * d + m;
            dst[j + 16] = static_cast<float>(hi) * d + m;
        }
    }
}

void dequantize_q8_0(const uint8_t* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ8_0), dst += kQK) {
        const auto block = load_block<BlockQ8_0>(src);
        const float d = fp16_to_f32(block.d);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(block.qs[j]) * d;
    }
}

void dequantize_q8_1(const uint8_t* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ8_1), dst += kQK) {
        const auto block = load_block<BlockQ8_1>(src);
        const float d = fp16_to_f32(block.d);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(block.qs[j]) * d;
    }
}

// ---- quantization --------------------------------------------------------------------------------

// Candidate F16 scales: the fitted scale times 1 + kFp16Step * k, |k| <= kFp16Candidates. A few
// F16 steps either way catch the rounding of the levels; wider searches found next to nothing.
constexpr int kFp16Candidates = 2;
constexpr float kFp16Step = 0.004f;

// Symmetric blocks (Q4_0, Q5_0): levels lo..hi, one F16 scale. The fitted scale is rounded to F16
// and its neighbourhood searched for the smallest actual error.
float choose_symmetric_scale(const float* x, int lo, int hi) {
    std::array<int8_t, kQK> L{};
    const float s = fit_symmetric(x, nullptr, kQK, lo, hi, L.data());
    float best_d = 0;  // stays 0 for an all-zero block, or when every candidate underflows F16
    double best_error = std::numeric_limits<double>::infinity();
    for (int k = -kFp16Candidates; k <= kFp16Candidates && s != 0; ++k) {
        const float d = round_to_fp16(s * (1.0f + kFp16Step * static_cast<float>(k)));
        if (d == 0) continue;
        const double error = symmetric_error(x, kQK, d, lo, hi);
        if (error < best_error) {
            best_error = error;
            best_d = d;
        }
    }
    return best_d;
}

// Levels as symmetric_error chose them.
inline int symmetric_level(float x, float d, int lo, int hi) {
    return d != 0 ? round_clamp(x * (1.0f / d), lo, hi) : 0;
}

void quantize_q4_0(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockQ4_0)) {
        const float d = choose_symmetric_scale(x, -8, 7);
        BlockQ4_0 block{};
        block.d = f32_to_fp16(d);
        for (int j = 0; j < 16; ++j) {
            const int lo = symmetric_level(x[j], d, -8, 7) + 8;
            const int hi = symmetric_level(x[j + 16], d, -8, 7) + 8;
            block.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
        }
        store_block(dst, block);
    }
}

void quantize_q5_0(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockQ5_0)) {
        const float d = choose_symmetric_scale(x, -16, 15);
        BlockQ5_0 block{};
        block.d = f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = symmetric_level(x[j], d, -16, 15) + 16;
            const int hi = symmetric_level(x[j + 16], d, -16, 15) + 16;
            block.qs[j] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= static_cast<uint32_t>(lo >> 4) << j;
            qh |= static_cast<uint32_t>(hi >> 4) << (j + 16);
        }
        std::memcpy(block.qh, &qh, sizeof qh);
        store_block(dst, block);
    }
}

// Affine blocks (Q4_1, Q5_1): x = d * q + m with q in 0..nmax, both d and m F16.
struct AffineBlock {
    float d = 0, m = 0;
    std::array<uint8_t, kQK> q{};
};

inline int affine_level(float x, float d, float m, int nmax) {
    return d != 0 ? round_clamp((x - m) / d, 0, nmax) : 0;
}

double affine_block_error(const float* x, const AffineBlock& a) {
    double error = 0;
    for (int j = 0; j < kQK; ++j) {
        const double diff = static_cast<double>(static_cast<float>(a.q[j]) * a.d + a.m) - x[j];
        error += diff * diff;
    }
    return error;
}

AffineBlock choose_affine(const float* x, int nmax) {
    std::array<uint8_t, kQK> L{};
    const AffineFit fit = fit_affine(x, nullptr, kQK, nmax, false, L.data());
    AffineBlock best;  // d = 0: a constant block, kept if every candidate scale underflows F16
    best.m = round_to_fp16(fit.min);
    if (fit.scale == 0) return best;
    double best_error = std::numeric_limits<double>::infinity();
    for (int k = -kFp16Candidates; k <= kFp16Candidates; ++k) {
        AffineBlock a;
        a.d = round_to_fp16(fit.scale * (1.0f + kFp16Step * static_cast<float>(k)));
        if (a.d == 0) continue;
        // Levels for the fitted min, then the min that best fits them, then the levels again.
        double mean = 0;
        for (int j = 0; j < kQK; ++j) {
            a.q[j] = static_cast<uint8_t>(affine_level(x[j], a.d, fit.min, nmax));
            mean += x[j] - static_cast<double>(a.q[j]) * a.d;
        }
        a.m = round_to_fp16(static_cast<float>(mean / kQK));
        for (int j = 0; j < kQK; ++j) a.q[j] = static_cast<uint8_t>(affine_level(x[j], a.d, a.m, nmax));
        const double error = affine_block_error(x, a);
        if (error < best_error) {
            best_error = error;
            best = a;
        }
    }
    return best;
}

void quantize_q4_1(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockQ4_1)) {
        const AffineBlock a = choose_affine(x, 15);
        BlockQ4_1 block{};
        block.d = f32_to_fp16(a.d);
        block.m = f32_to_fp16(a.m);
        for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(a.q[j] | (a.q[j + 16] << 4));
        store_block(dst, block);
    }
}

void quantize_q5_1(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockQ5_1)) {
        const AffineBlock a = choose_affine(x, 31);
        BlockQ5_1 block{};
        block.d = f32_to_fp16(a.d);
        block.m = f32_to_fp16(a.m);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            block.qs[j] = static_cast<uint8_t>((a.q[j] & 0x0f) | ((a.q[j + 16] & 0x0f) << 4));
            qh |= static_cast<uint32_t>(a.q[j] >> 4) << j;
            qh |= static_cast<uint32_t>(a.q[j + 16] >> 4) << (j + 16);
        }
        std::memcpy(block.qh, &qh, sizeof qh);
        store_block(dst, block);
    }
}

// Q8_0 / Q8_1 round as ggml's reference does (activations are quantized with them):
// d = max|x| / 127, q = round-half-away(x / d) computed as x * (1 / d) in f32.
// (A scale beyond the F16 range, where the reference would store Inf, saturates instead.)
inline float q8_scale(const float* x, float& inverse) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    float d = amax / 127.0f;
    if (std::isinf(fp16_to_f32(f32_to_fp16(d)))) d = 65504.0f;
    inverse = d != 0 ? 1.0f / d : 0.0f;
    return d;
}

inline int8_t q8_level(float x, float inverse) {
    return static_cast<int8_t>(std::clamp(std::round(x * inverse), -127.0f, 127.0f));
}

void quantize_q8_0(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockQ8_0)) {
        BlockQ8_0 block{};
        float inverse;
        block.d = f32_to_fp16(q8_scale(x, inverse));
        for (int j = 0; j < kQK; ++j) block.qs[j] = q8_level(x[j], inverse);
        store_block(dst, block);
    }
}

void quantize_q8_1(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockQ8_1)) {
        BlockQ8_1 block{};
        float inverse;
        const float d = q8_scale(x, inverse);
        block.d = f32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < kQK; ++j) {
            block.qs[j] = q8_level(x[j], inverse);
            sum += block.qs[j];
        }
        block.s = f32_to_fp16(static_cast<float>(sum) * d);
        store_block(dst, block);
    }
}

constexpr std::array kCodecs = {
    Codec{TensorType::Q4_0, dequantize_q4_0, quantize_q4_0},
    Codec{TensorType::Q4_1, dequantize_q4_1, quantize_q4_1},
    Codec{TensorType::Q5_0, dequantize_q5_0, quantize_q5_0},
    Codec{TensorType::Q5_1, dequantize_q5_1, quantize_q5_1},
    Codec{TensorType::Q8_0, dequantize_q8_0, quantize_q8_0},
    Codec{TensorType::Q8_1, dequantize_q8_1, quantize_q8_1},
};

}  // namespace

std::span<const Codec> legacy_codecs() { return kCodecs; }

}  // namespace rf::quant::detail
