// IQ formats. IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S store groups of 8 (or 4)
// values as an index into a lattice codebook (iq_tables.h) plus sign bits; only dequantization is
// implemented for them. IQ4_NL and IQ4_XS map each value to one of 16 non-uniform levels; both
// directions are implemented.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "quant/block_formats.h"
#include "quant/codecs.h"
#include "quant/float_convert.h"
#include "quant/iq_tables.h"
#include "quant/scale_search.h"

namespace rf::quant::detail {
namespace {

// Coordinate j (byte j) of a grid point.
inline uint8_t grid_byte(uint64_t point, int j) { return static_cast<uint8_t>(point >> (8 * j)); }
inline int8_t grid_int8(uint64_t point, int j) { return static_cast<int8_t>(grid_byte(point, j)); }

inline float sign_of(uint8_t signs, int j) { return (signs >> j) & 1 ? -1.0f : 1.0f; }

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// 8 values: db * grid coordinate * sign.
inline void emit_signed_grid8(float db, uint64_t point, uint8_t signs, float* y) {
    for (int j = 0; j < 8; ++j) y[j] = db * static_cast<float>(grid_byte(point, j)) * sign_of(signs, j);
}

// IQ2_XXS: per 32 values, two uint32: the first holds 4 grid indices (bytes), the second four
// 7-bit sign indices (bits 0..27) and a 4-bit scale (bits 28..31): db = d * (0.5 + s) / 4.
void dequantize_iq2_xxs(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ2_XXS)) {
        const auto block = load_block<BlockIQ2_XXS>(src);
        const float d = fp16_to_f32(block.d);
        const auto* qs = reinterpret_cast<const uint8_t*>(block.qs);
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t indices = load_u32(qs + 8 * ib);
            const uint32_t meta = load_u32(qs + 8 * ib + 4);
            const float db = d * (0.5f + static_cast<float>(meta >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint8_t signs = kSignsIq2xs[(meta >> (7 * l)) & 127];
                emit_signed_grid8(db, kIq2xxsGrid[(indices >> (8 * l)) & 255], signs, y);
            }
        }
    }
}

// IQ2_XS: per 8 values a uint16 (9-bit grid index, 7-bit sign index); a 4-bit scale per 16 values.
void dequantize_iq2_xs(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ2_XS)) {
        const auto block = load_block<BlockIQ2_XS>(src);
        const float d = fp16_to_f32(block.d);
        for (int ib = 0; ib < 8; ++ib) {
            const float db[2] = {d * (0.5f + static_cast<float>(block.scales[ib] & 0x0f)) * 0.25f,
                                 d * (0.5f + static_cast<float>(block.scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint16_t q = block.qs[4 * ib + l];
                emit_signed_grid8(db[l / 2], kIq2xsGrid[q & 511], kSignsIq2xs[q >> 9], y);
            }
        }
    }
}

// IQ2_S: 10-bit grid indices (8 bits in qs, 2 in qh), 8 explicit sign bits per 8 values.
void dequantize_iq2_s(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ2_S)) {
        const auto block = load_block<BlockIQ2_S>(src);
        const float d = fp16_to_f32(block.d);
        const uint8_t* qs = block.qs;
        const uint8_t* signs = block.qs + kQK_K / 8;
        for (int ib = 0; ib < 8; ++ib, qs += 4, signs += 4) {
            const float db[2] = {d * (0.5f + static_cast<float>(block.scales[ib] & 0x0f)) * 0.25f,
                                 d * (0.5f + static_cast<float>(block.scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l, y += 8) {
                const int index = qs[l] | ((block.qh[ib] << (8 - 2 * l)) & 0x300);
                emit_signed_grid8(db[l / 2], kIq2sGrid[index], signs[l], y);
            }
        }
    }
}

// IQ3_XXS: 64 byte-sized indices into a 4-value grid, then per 32 values a uint32 of four 7-bit
// sign indices and a 4-bit scale: db = d * (0.5 + s) / 2.
void dequantize_iq3_xxs(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ3_XXS)) {
        const auto block = load_block<BlockIQ3_XXS>(src);
        const float d = fp16_to_f32(block.d);
        const uint8_t* qs = block.qs;
        const uint8_t* scales_and_signs = block.qs + kQK_K / 4;
        for (int ib = 0; ib < 8; ++ib, qs += 8) {
            const uint32_t meta = load_u32(scales_and_signs + 4 * ib);
            const float db = d * (0.5f + static_cast<float>(meta >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint8_t signs = kSignsIq2xs[(meta >> (7 * l)) & 127];
                const uint32_t g1 = kIq3xxsGrid[qs[2 * l]], g2 = kIq3xxsGrid[qs[2 * l + 1]];
                for (int j = 0; j < 4; ++j) {
                    y[j] = db * static_cast<float>(grid_byte(g1, j)) * sign_of(signs, j);
                    y[j + 4] = db * static_cast<float>(grid_byte(g2, j)) * sign_of(signs, j + 4);
                }
            }
        }
    }
}

// IQ3_S: 9-bit indices (8 in qs, 1 in qh) into a 4-value grid, explicit signs, a 4-bit odd scale
// per 32 values: db = d * (1 + 2 s).
void dequantize_iq3_s(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ3_S)) {
        const auto block = load_block<BlockIQ3_S>(src);
        const float d = fp16_to_f32(block.d);
        const uint8_t* qs = block.qs;
        const uint8_t* signs = block.signs;
        for (int ib = 0; ib < 8; ++ib, qs += 8, signs += 4) {
            const int s = ib % 2 == 0 ? (block.scales[ib / 2] & 0x0f) : (block.scales[ib / 2] >> 4);
            const float db = d * static_cast<float>(1 + 2 * s);
            const uint8_t qh = block.qh[ib];
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint32_t g1 = kIq3sGrid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)];
                const uint32_t g2 = kIq3sGrid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)];
                for (int j = 0; j < 4; ++j) {
                    y[j] = db * static_cast<float>(grid_byte(g1, j)) * sign_of(signs[l], j);
                    y[j + 4] = db * static_cast<float>(grid_byte(g2, j)) * sign_of(signs[l], j + 4);
                }
            }
        }
    }
}

// IQ1_S: per 32 values a uint16 qh: four 3-bit index extensions, a 3-bit odd scale (bits 12..14)
// and the sign of the shift delta (bit 15). x = dl * (grid + delta).
void dequantize_iq1_s(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ1_S)) {
        const auto block = load_block<BlockIQ1_S>(src);
        const float d = fp16_to_f32(block.d);
        const uint8_t* qs = block.qs;
        for (int ib = 0; ib < 8; ++ib, qs += 4) {
            const uint16_t qh = block.qh[ib];
            const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
            const float delta = (qh & 0x8000) ? -kIq1Delta : kIq1Delta;
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint64_t point = kIq1sGrid[qs[l] | (((qh >> (3 * l)) & 7) << 8)];
                for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(grid_int8(point, j)) + delta);
            }
        }
    }
}

// IQ1_M: no separate scale field: the F16 super-block scale is the top nibbles of the four uint16
// in `scales`; their low 12 bits are 3-bit odd scales, one per 16 values. qh holds per 8 values a
// 3-bit index extension and the delta's sign.
void dequantize_iq1_m(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ1_M)) {
        const auto block = load_block<BlockIQ1_M>(src);
        uint16_t sc[4];
        std::memcpy(sc, block.scales, sizeof sc);
        const uint16_t d_bits = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                                      (sc[3] & 0xf000));
        const float d = fp16_to_f32(d_bits);
        const uint8_t* qs = block.qs;
        const uint8_t* qh = block.qh;
        for (int ib = 0; ib < 8; ++ib, qs += 4, qh += 2) {
            const int shift = 6 * (ib % 2);
            const float dl1 = d * static_cast<float>(2 * ((sc[ib / 2] >> shift) & 7) + 1);
            const float dl2 = d * static_cast<float>(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1);
            const int index[4] = {qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700),
                                  qs[2] | ((qh[1] << 8) & 0x700), qs[3] | ((qh[1] << 4) & 0x700)};
            const float delta[4] = {(qh[0] & 0x08) ? -kIq1Delta : kIq1Delta, (qh[0] & 0x80) ? -kIq1Delta : kIq1Delta,
                                    (qh[1] & 0x08) ? -kIq1Delta : kIq1Delta, (qh[1] & 0x80) ? -kIq1Delta : kIq1Delta};
            for (int l = 0; l < 4; ++l, y += 8) {
                const float dl = l < 2 ? dl1 : dl2;
                const uint64_t point = kIq1sGrid[index[l]];
                for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(grid_int8(point, j)) + delta[l]);
            }
        }
    }
}

// IQ4_NL: 32 values, one F16 scale, nibbles index kValuesIq4nl (same nibble order as Q4_0).
void dequantize_iq4_nl(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ4_NL), y += kQK) {
        const auto block = load_block<BlockIQ4_NL>(src);
        const float d = fp16_to_f32(block.d);
        for (int j = 0; j < 16; ++j) {
            y[j] = d * static_cast<float>(kValuesIq4nl[block.qs[j] & 0x0f]);
            y[j + 16] = d * static_cast<float>(kValuesIq4nl[block.qs[j] >> 4]);
        }
    }
}

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales (stored + 32): low 4 bits in scales_l nibbles,
// top 2 bits in scales_h (2 bits per sub-block).
inline int iq4xs_scale(const BlockIQ4_XS& block, int ib) {
    const int low = (block.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    const int high = (block.scales_h >> (2 * ib)) & 3;
    return (low | (high << 4)) - 32;
}

void dequantize_iq4_xs(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockIQ4_XS)) {
        const auto block = load_block<BlockIQ4_XS>(src);
        const float d = fp16_to_f32(block.d);
        const uint8_t* qs = block.qs;
        for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
            const float dl = d * static_cast<float>(iq4xs_scale(block, ib));
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * static_cast<float>(kValuesIq4nl[qs[j] & 0x0f]);
                y[j + 16] = dl * static_cast<float>(kValuesIq4nl[qs[j] >> 4]);
            }
        }
    }
}

// ---- IQ4 quantization ----------------------------------------------------------------------------

const Codebook& iq4_book() {
    static const Codebook book(kValuesIq4nl.data());
    return book;
}

inline uint8_t iq4_level(float x, float d) {
    return static_cast<uint8_t>(iq4_book().nearest(d != 0 ? x * (1.0f / d) : 0.0f));
}

inline void pack_nibbles(const float* x, float d, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(iq4_level(x[j], d) | (iq4_level(x[j + 16], d) << 4));
}

// Candidate F16 scales: the fitted scale times 1 + kFp16Step * k, |k| <= kFp16Candidates.
constexpr int kFp16Candidates = 2;
constexpr float kFp16Step = 0.004f;

void quantize_iq4_nl(const float* x, uint8_t* dst, size_t n_blocks) {
    const Codebook& levels = iq4_book();
    for (size_t b = 0; b < n_blocks; ++b, x += kQK, dst += sizeof(BlockIQ4_NL)) {
        std::array<uint8_t, kQK> L{};
        const float s = fit_codebook(x, nullptr, kQK, levels, L.data());
        float best_d = 0;  // stays 0 for an all-zero block, or when every candidate underflows F16
        double best_error = std::numeric_limits<double>::infinity();
        for (int k = -kFp16Candidates; k <= kFp16Candidates && s != 0; ++k) {
            const float d = round_to_fp16(s * (1.0f + kFp16Step * static_cast<float>(k)));
            if (d == 0) continue;
            const double error = codebook_error(x, kQK, d, levels);
            if (error < best_error) {
                best_error = error;
                best_d = d;
            }
        }
        BlockIQ4_NL block{};
        block.d = f32_to_fp16(best_d);
        pack_nibbles(x, best_d, block.qs);
        store_block(dst, block);
    }
}

// Per sub-block fit, then the F16 scale and 6-bit sub-block scales by the error of the result
// (as for Q3_K / Q6_K).
void quantize_iq4_xs(const float* x, uint8_t* dst, size_t n_blocks) {
    const Codebook& levels = iq4_book();
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockIQ4_XS)) {
        std::array<float, 8> scales{};
        std::array<LevelSums, 8> sums{};
        std::array<uint8_t, 32> L{};
        for (int ib = 0; ib < 8; ++ib) {
            scales[ib] = fit_codebook(x + 32 * ib, nullptr, 32, levels, L.data());
            for (int i = 0; i < 32; ++i) sums[ib].add(x[32 * ib + i], levels.level(L[i]));
        }
        auto error = [&](int ib, float dl) { return codebook_error(x + 32 * ib, 32, dl, levels); };
        std::array<int, 8> ls{};
        const float d = choose_signed_scales(scales.data(), sums.data(), 8, -32, 31, error, ls.data());
        BlockIQ4_XS block{};
        block.d = f32_to_fp16(d);
        for (int ib = 0; ib < 8; ++ib) {
            const int l = ls[ib] + 32;
            block.scales_l[ib / 2] |= static_cast<uint8_t>((l & 0x0f) << (4 * (ib % 2)));
            block.scales_h |= static_cast<uint16_t>((l >> 4) << (2 * ib));
            pack_nibbles(x + 32 * ib, d * static_cast<float>(ls[ib]), block.qs + 16 * ib);
        }
        store_block(dst, block);
    }
}

constexpr std::array kCodecs = {
    Codec{TensorType::IQ2_XXS, dequantize_iq2_xxs, nullptr},
    Codec{TensorType::IQ2_XS, dequantize_iq2_xs, nullptr},
    Codec{TensorType::IQ2_S, dequantize_iq2_s, nullptr},
    Codec{TensorType::IQ3_XXS, dequantize_iq3_xxs, nullptr},
    Codec{TensorType::IQ3_S, dequantize_iq3_s, nullptr},
    Codec{TensorType::IQ1_S, dequantize_iq1_s, nullptr},
    Codec{TensorType::IQ1_M, dequantize_iq1_m, nullptr},
    Codec{TensorType::IQ4_NL, dequantize_iq4_nl, quantize_iq4_nl},
    Codec{TensorType::IQ4_XS, dequantize_iq4_xs, quantize_iq4_xs},
};

}  // namespace

std::span<const Codec> iquant_codecs() { return kCodecs; }

}  // namespace rf::quant::detail
