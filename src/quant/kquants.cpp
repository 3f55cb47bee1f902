// K-quants: 256-element super-blocks whose 16 or 32-element sub-blocks each have a small integer
// scale (and min) relative to the super-block's F16 scale(s). Q2_K..Q6_K hold weights; Q8_K holds
// activations for the K-quant dot products.
//
// Quantization runs in three steps per super-block:
//   1. each sub-block's own best scale (and min) by weighted least squares (scale_search.h);
//   2. the super-block F16 scale(s): candidates around "largest sub-block scale / largest integer
//      scale" are tried with each sub-block at the integer scale nearest to its own, scored from
//      each sub-block's sums against its fitted levels (the error is a quadratic in the sub-block
//      scale while the levels stay put, so a candidate costs O(1) per sub-block, not a pass);
//   3. each sub-block moves to the best neighbouring integer scale (and min) while that lowers
//      its error, and its values are rounded to the nearest level of the final scale.
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

// ---- scale packing -------------------------------------------------------------------------------

// Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes. Sub-blocks 0..3 use the low 6 bits
// of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 keep their low 4 bits in bytes 8..11 and
// their top 2 bits in the top bits of bytes 0..3 (scale) and 4..7 (min).
inline void unpack_scale_min_k4(int j, const uint8_t* q, int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

inline void pack_scale_min_k4(const int* scales, const int* mins, uint8_t* q) {
    std::memset(q, 0, 12);
    for (int j = 0; j < 8; ++j) {
        const int s = scales[j], m = mins[j];
        if (j < 4) {
            q[j] = static_cast<uint8_t>(s);
            q[j + 4] = static_cast<uint8_t>(m);
        } else {
            q[j + 4] = static_cast<uint8_t>((s & 0x0f) | ((m & 0x0f) << 4));
            q[j - 4] |= static_cast<uint8_t>((s >> 4) << 6);
            q[j] |= static_cast<uint8_t>((m >> 4) << 6);
        }
    }
}

// Q3_K: 16 six-bit scales (stored + 32) in 12 bytes: low 4 bits in the nibbles of bytes 0..7
// (sub-blocks 0..7 low nibble, 8..15 high nibble), top 2 bits in bytes 8..11, 2 bits per
// sub-block: sub-block j uses bits 2*(j/4) of byte 8 + j%4.
inline int unpack_scale_q3k(int j, const uint8_t* q) {
    const int low = j < 8 ? (q[j] & 0x0f) : (q[j - 8] >> 4);
    const int high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

inline void pack_scales_q3k(const int* scales, uint8_t* q) {
    std::memset(q, 0, 12);
    for (int j = 0; j < 16; ++j) {
        const int l = scales[j] + 32;
        if (j < 8) {
            q[j] |= static_cast<uint8_t>(l & 0x0f);
        } else {
            q[j - 8] |= static_cast<uint8_t>((l & 0x0f) << 4);
        }
        q[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
    }
}

// ---- dequantization ------------------------------------------------------------------------------
// Q2_K/Q3_K/Q6_K pack 128 values per 32 bytes of 2-bit fields: value 128*h + 32*s + 16*g + l
// (h half, s shift, g group, l 0..15) is bits 2s of byte 32*h + 16*g + l.

void dequantize_q2_k(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ2_K)) {
        const auto block = load_block<BlockQ2_K>(src);
        const float d = fp16_to_f32(block.d);
        const float min = fp16_to_f32(block.dmin);
        int is = 0;
        for (int half = 0; half < 2; ++half) {
            const uint8_t* q = block.qs + 32 * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int g = 0; g < 2; ++g) {
                    const uint8_t sc = block.scales[is++];
                    const float dl = d * static_cast<float>(sc & 0x0f);
                    const float ml = min * static_cast<float>(sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[16 * g + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void dequantize_q3_k(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ3_K)) {
        const auto block = load_block<BlockQ3_K>(src);
        const float d_all = fp16_to_f32(block.d);
        int is = 0;
        uint8_t mask = 1;  // hmask bit for values 32*k .. 32*k+31 is bit k
        for (int half = 0; half < 2; ++half) {
            const uint8_t* q = block.qs + 32 * half;
            for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
                for (int g = 0; g < 2; ++g) {
                    const float dl = d_all * static_cast<float>(unpack_scale_q3k(is++, block.scales));
                    for (int l = 0; l < 16; ++l) {
                        const int low = (q[16 * g + l] >> shift) & 3;
                        const int value = low - ((block.hmask[16 * g + l] & mask) ? 0 : 4);
                        *y++ = dl * static_cast<float>(value);
                    }
                }
            }
        }
    }
}

// Q4_K/Q5_K: each 64 values share 32 bytes of nibbles: low nibbles are sub-block 2k, high 2k+1.
void dequantize_q4_k(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ4_K)) {
        const auto block = load_block<BlockQ4_K>(src);
        const float d = fp16_to_f32(block.d);
        const float min = fp16_to_f32(block.dmin);
        const uint8_t* q = block.qs;
        for (int k = 0; k < 4; ++k, q += 32) {
            int sc, m;
            unpack_scale_min_k4(2 * k, block.scales, sc, m);
            const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
            unpack_scale_min_k4(2 * k + 1, block.scales, sc, m);
            const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

// Q5_K adds bit 2k (sub-block 2k) or 2k+1 (sub-block 2k+1) of qh[l] as the value's fifth bit.
void dequantize_q5_k(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ5_K)) {
        const auto block = load_block<BlockQ5_K>(src);
        const float d = fp16_to_f32(block.d);
        const float min = fp16_to_f32(block.dmin);
        const uint8_t* ql = block.qs;
        for (int k = 0; k < 4; ++k, ql += 32) {
            int sc, m;
            unpack_scale_min_k4(2 * k, block.scales, sc, m);
            const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
            unpack_scale_min_k4(2 * k + 1, block.scales, sc, m);
            const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
            const uint8_t u1 = static_cast<uint8_t>(1u << (2 * k)), u2 = static_cast<uint8_t>(2u << (2 * k));
            for (int l = 0; l < 32; ++l) {
                const int value = (ql[l] & 0x0f) + ((block.qh[l] & u1) ? 16 : 0);
                *y++ = d1 * static_cast<float>(value) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                const int value = (ql[l] >> 4) + ((block.qh[l] & u2) ? 16 : 0);
                *y++ = d2 * static_cast<float>(value) - m2;
            }
        }
    }
}

// Q6_K: per 128 values, 64 bytes of low nibbles and 32 bytes of 2-bit high parts; value
// 128*h + 32*s + l takes the low (s even) or high (s odd) nibble of ql[64*h + 32*(s&1) + l] and
// bits 2s of qh[32*h + l]; x = d * scale * (q - 32).
void dequantize_q6_k(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ6_K)) {
        const auto block = load_block<BlockQ6_K>(src);
        const float d = fp16_to_f32(block.d);
        for (int half = 0; half < 2; ++half, y += 128) {
            const uint8_t* ql = block.ql + 64 * half;
            const uint8_t* qh = block.qh + 32 * half;
            const int8_t* sc = block.scales + 8 * half;
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

void dequantize_q8_k(const uint8_t* src, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += sizeof(BlockQ8_K)) {
        const auto block = load_block<BlockQ8_K>(src);
        for (int j = 0; j < kQK_K; ++j) *y++ = block.d * static_cast<float>(block.qs[j]);
    }
}

// ---- super-block scale search --------------------------------------------------------------------

// Fits scale and min of each sub-block of an affine K-quant (Q2_K, Q4_K, Q5_K), then the super-block
// scales and the sub-blocks' integer scales; leaves the final levels (0..nmax) of all 256 values in L.
template <int kSub>
void quantize_affine_superblock(const float* x, int nmax, int top, float& d, float& dmin, int* ls, int* lm,
                                uint8_t* L) {
    constexpr int n_sub = kQK_K / kSub;
    std::array<float, n_sub> scales{}, mins{};
    std::array<AffineSums, n_sub> sums{};
    for (int j = 0; j < n_sub; ++j) {
        const float* xj = x + kSub * j;
        uint8_t* Lj = L + kSub * j;
        const AffineFit fit = fit_affine(xj, nullptr, kSub, nmax, true, Lj);
        scales[j] = fit.scale;
        mins[j] = -fit.min;
        for (int i = 0; i < kSub; ++i) sums[j].add(xj[i], Lj[i]);
    }
    const ScaleMin chosen = choose_scale_min(scales.data(), mins.data(), sums.data(), n_sub, top);
    d = chosen.d;
    dmin = chosen.dmin;
    for (int j = 0; j < n_sub; ++j) {
        const IntegerScaleMin sub = settle_affine_subblock(x + kSub * j, kSub, nmax, top, chosen, scales[j], mins[j], L + kSub * j);
        ls[j] = sub.scale;
        lm[j] = sub.min;
    }
}

// The symmetric K-quants (Q3_K, Q6_K): 16 sub-blocks of 16, values q in [qlo, qhi] and signed
// sub-block scales in [slo, shi]. Leaves q - qlo (0..qhi-qlo) in L.
float quantize_signed_superblock(const float* x, int qlo, int qhi, int slo, int shi, int* ls, uint8_t* L) {
    std::array<float, 16> scales{};
    std::array<LevelSums, 16> sums{};
    std::array<int8_t, 16> levels{};
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_symmetric(x + 16 * j, nullptr, 16, qlo, qhi, levels.data());
        for (int i = 0; i < 16; ++i) sums[j].add(x[16 * j + i], levels[i]);
    }
    auto error = [&](int j, float dl) { return symmetric_error(x + 16 * j, 16, dl, qlo, qhi); };
    const float d = choose_signed_scales(scales.data(), sums.data(), 16, slo, shi, error, ls);
    for (int j = 0; j < 16; ++j) {
        const float dl = d * static_cast<float>(ls[j]);
        const float inv = dl != 0 ? 1.0f / dl : 0.0f;
        for (int i = 0; i < 16; ++i) {
            const int q = dl != 0 ? round_clamp(x[16 * j + i] * inv, qlo, qhi) : 0;
            L[16 * j + i] = static_cast<uint8_t>(q - qlo);
        }
    }
    return d;
}

// 2-bit fields of 4 values into one byte: value 128*h + 32*s + l at bits 2s of byte 32*h + l.
inline void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int half = 0; half < 2; ++half) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t* v = L + 128 * half + l;
            qs[32 * half + l] = static_cast<uint8_t>((v[0] & 3) | ((v[32] & 3) << 2) | ((v[64] & 3) << 4) | ((v[96] & 3) << 6));
        }
    }
}

// ---- quantizers ----------------------------------------------------------------------------------

void quantize_q2_k(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockQ2_K)) {
        std::array<uint8_t, kQK_K> L{};
        std::array<int, 16> ls{}, lm{};
        float d, dmin;
        quantize_affine_superblock<16>(x, 3, 15, d, dmin, ls.data(), lm.data(), L.data());
        BlockQ2_K block{};
        block.d = f32_to_fp16(d);
        block.dmin = f32_to_fp16(dmin);
        for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
        pack_2bit(L.data(), block.qs);
        store_block(dst, block);
    }
}

void quantize_q3_k(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockQ3_K)) {
        std::array<uint8_t, kQK_K> L{};
        std::array<int, 16> ls{};
        const float d = quantize_signed_superblock(x, -4, 3, -32, 31, ls.data(), L.data());
        BlockQ3_K block{};
        block.d = f32_to_fp16(d);
        pack_scales_q3k(ls.data(), block.scales);
        // L = q + 4 in 0..7: bit 2 goes to hmask (value 32*k + i: bit k of hmask[i]), the rest to qs.
        for (int e = 0; e < kQK_K; ++e) {
            if (L[e] & 4) block.hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
            L[e] &= 3;
        }
        pack_2bit(L.data(), block.qs);
        store_block(dst, block);
    }
}

void quantize_q4_k(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockQ4_K)) {
        std::array<uint8_t, kQK_K> L{};
        std::array<int, 8> ls{}, lm{};
        float d, dmin;
        quantize_affine_superblock<32>(x, 15, 63, d, dmin, ls.data(), lm.data(), L.data());
        BlockQ4_K block{};
        block.d = f32_to_fp16(d);
        block.dmin = f32_to_fp16(dmin);
        pack_scale_min_k4(ls.data(), lm.data(), block.scales);
        for (int k = 0; k < 4; ++k) {
            for (int l = 0; l < 32; ++l) block.qs[32 * k + l] = static_cast<uint8_t>(L[64 * k + l] | (L[64 * k + 32 + l] << 4));
        }
        store_block(dst, block);
    }
}

void quantize_q5_k(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockQ5_K)) {
        std::array<uint8_t, kQK_K> L{};
        std::array<int, 8> ls{}, lm{};
        float d, dmin;
        quantize_affine_superblock<32>(x, 31, 63, d, dmin, ls.data(), lm.data(), L.data());
        BlockQ5_K block{};
        block.d = f32_to_fp16(d);
        block.dmin = f32_to_fp16(dmin);
        pack_scale_min_k4(ls.data(), lm.data(), block.scales);
        for (int k = 0; k < 4; ++k) {
            for (int l = 0; l < 32; ++l) {
                const int lo = L[64 * k + l], hi = L[64 * k + 32 + l];
                block.qs[32 * k + l] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
                block.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * k)) | ((hi >> 4) << (2 * k + 1)));
            }
        }
        store_block(dst, block);
    }
}

void quantize_q6_k(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockQ6_K)) {
        std::array<uint8_t, kQK_K> L{};
        std::array<int, 16> ls{};
        const float d = quantize_signed_superblock(x, -32, 31, -128, 127, ls.data(), L.data());
        BlockQ6_K block{};
        block.d = f32_to_fp16(d);
        for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<int8_t>(ls[j]);
        for (int half = 0; half < 2; ++half) {
            const uint8_t* v = L.data() + 128 * half;
            uint8_t* ql = block.ql + 64 * half;
            uint8_t* qh = block.qh + 32 * half;
            for (int l = 0; l < 32; ++l) {
                ql[l] = static_cast<uint8_t>((v[l] & 0x0f) | ((v[l + 64] & 0x0f) << 4));
                ql[l + 32] = static_cast<uint8_t>((v[l + 32] & 0x0f) | ((v[l + 96] & 0x0f) << 4));
                qh[l] = static_cast<uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) | ((v[l + 96] >> 4) << 6));
            }
        }
        store_block(dst, block);
    }
}

// Q8_K rounds as ggml's reference does: the largest |x| maps to -127 (so x = d * q with
// d = max / -127 in f32), q = round-half-even(x * (-127 / max)), clamped to 127.
void quantize_q8_k(const float* x, uint8_t* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kQK_K, dst += sizeof(BlockQ8_K)) {
        BlockQ8_K block{};
        float amax = 0, max = 0;
        for (int j = 0; j < kQK_K; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        if (amax != 0) {
            const float iscale = -127.0f / max;
            for (int j = 0; j < kQK_K; ++j) block.qs[j] = static_cast<int8_t>(round_clamp(iscale * x[j], -128, 127));
            block.d = 1.0f / iscale;
        }
        for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += block.qs[16 * g + i];
            block.bsums[g] = static_cast<int16_t>(sum);
        }
        store_block(dst, block);
    }
}

constexpr std::array kCodecs = {
    Codec{TensorType::Q2_K, dequantize_q2_k, quantize_q2_k},
    Codec{TensorType::Q3_K, dequantize_q3_k, quantize_q3_k},
    Codec{TensorType::Q4_K, dequantize_q4_k, quantize_q4_k},
    Codec{TensorType::Q5_K, dequantize_q5_k, quantize_q5_k},
    Codec{TensorType::Q6_K, dequantize_q6_k, quantize_q6_k},
    Codec{TensorType::Q8_K, dequantize_q8_k, quantize_q8_k},
};

}  // namespace

std::span<const Codec> kquant_codecs() { return kCodecs; }

}  // namespace rf::quant::detail
