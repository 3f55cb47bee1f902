// Scalar kernels for the 256-value super-block types against Q8_K activations. A super-block is
// decoded to signed integer values and integer sub-block scales; the dot product is
//   d * dx * sum_j scale_j * (q . x over sub-block j)  -  dmin * dx * sum_j min_j * (sum of x over j).
#include <cstddef>
#include <cstring>

#include "backend/cpu/kernels/scalar_kernels.h"
#include "quant/block_formats.h"
#include "quant/float_convert.h"
#include "quant/iq_tables.h"

namespace rf::cpu::detail {
namespace {

using namespace rf::quant;

struct DecodedK {
    float d = 0, dmin = 0;
    int sub_size = 16;      // values per sub-block: 16 or 32
    int8_t q[kQK_K];
    int scale[16] = {};
    int min[16] = {};       // zero for the types without mins
};

// Q4_K / Q5_K: 8 six-bit scales and mins packed in 12 bytes.
void unpack_scale_min(const uint8_t* s, int j, int& scale, int& min) {
    if (j < 4) {
        scale = s[j] & 63;
        min = s[j + 4] & 63;
    } else {
        scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q2_K / Q3_K: value 128h + 32s + l (l < 32) is bits 2s of qs[32h + l].
int two_bits(const uint8_t* qs, int i) { return (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3; }

void decode_q2_k(const uint8_t* src, DecodedK& out) {
    const auto b = load_block<BlockQ2_K>(src);
    out.d = fp16_to_f32(b.d);
    out.dmin = fp16_to_f32(b.dmin);
    for (int i = 0; i < kQK_K; ++i) out.q[i] = static_cast<int8_t>(two_bits(b.qs, i));
    for (int j = 0; j < 16; ++j) {
        out.scale[j] = b.scales[j] & 0x0f;
        out.min[j] = b.scales[j] >> 4;
    }
}

void decode_q3_k(const uint8_t* src, DecodedK& out) {
    const auto b = load_block<BlockQ3_K>(src);
    out.d = fp16_to_f32(b.d);
    for (int i = 0; i < kQK_K; ++i) {
        const bool high = (b.hmask[i % 32] >> (i / 32)) & 1;
        out.q[i] = static_cast<int8_t>(two_bits(b.qs, i) - (high ? 0 : 4));
    }
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? (b.scales[j] & 0x0f) : (b.scales[j - 8] >> 4);
        const int high = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
        out.scale[j] = (low | (high << 4)) - 32;
    }
}

// Q4_K / Q5_K: each 64 values share 32 bytes; low nibbles are sub-block 2k, high ones 2k + 1.
void decode_q4_k(const uint8_t* src, DecodedK& out) {
    const auto b = load_block<BlockQ4_K>(src);
    out.d = fp16_to_f32(b.d);
    out.dmin = fp16_to_f32(b.dmin);
    out.sub_size = 32;
    for (int i = 0; i < kQK_K; ++i) {
        const uint8_t byte = b.qs[32 * (i / 64) + i % 32];
        out.q[i] = static_cast<int8_t>((i % 64) < 32 ? (byte & 0x0f) : (byte >> 4));
    }
    for (int j = 0; j < 8; ++j) unpack_scale_min(b.scales, j, out.scale[j], out.min[j]);
}

void decode_q5_k(const uint8_t* src, DecodedK& out) {
    const auto b = load_block<BlockQ5_K>(src);
    out.d = fp16_to_f32(b.d);
    out.dmin = fp16_to_f32(b.dmin);
    out.sub_size = 32;
    for (int i = 0; i < kQK_K; ++i) {
        const uint8_t byte = b.qs[32 * (i / 64) + i % 32];
        const int low = (i % 64) < 32 ? (byte & 0x0f) : (byte >> 4);
        const int high = (b.qh[i % 32] >> (i / 32)) & 1;
        out.q[i] = static_cast<int8_t>(low | (high << 4));
    }
    for (int j = 0; j < 8; ++j) unpack_scale_min(b.scales, j, out.scale[j], out.min[j]);
}

void decode_q6_k(const uint8_t* src, DecodedK& out) {
    const auto b = load_block<BlockQ6_K>(src);
    out.d = fp16_to_f32(b.d);
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, s = (i % 128) / 32, l = i % 32;
        const uint8_t byte = b.ql[64 * h + 32 * (s & 1) + l];
        const int low = s < 2 ? (byte & 0x0f) : (byte >> 4);
        const int high = (b.qh[32 * h + l] >> (2 * s)) & 3;
        out.q[i] = static_cast<int8_t>((low | (high << 4)) - 32);
    }
    for (int j = 0; j < 16; ++j) out.scale[j] = b.scales[j];
}

void decode_iq4_xs(const uint8_t* src, DecodedK& out) {
    const auto b = load_block<BlockIQ4_XS>(src);
    out.d = fp16_to_f32(b.d);
    out.sub_size = 32;
    for (int j = 0; j < 8; ++j) {
        const uint8_t* qs = b.qs + 16 * j;
        for (int l = 0; l < 16; ++l) {
            out.q[32 * j + l] = kValuesIq4nl[qs[l] & 0x0f];
            out.q[32 * j + l + 16] = kValuesIq4nl[qs[l] >> 4];
        }
        const int low = (b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
        const int high = (b.scales_h >> (2 * j)) & 3;
        out.scale[j] = (low | (high << 4)) - 32;
    }
}

template <typename Block, void (*kDecode)(const uint8_t*, DecodedK&)>
void dot_superblocks(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, int n_tok,
                     float* out, size_t out_stride) {
    const int64_t n_blocks = cols / kQK_K;
    float sums[kMaxTileTokens] = {};
    DecodedK wb;
    for (int64_t b = 0; b < n_blocks; ++b) {
        kDecode(w + b * sizeof(Block), wb);
        const int n_sub = kQK_K / wb.sub_size;
        for (int t = 0; t < n_tok; ++t) {
            const auto xb = load_block<BlockQ8_K>(act + t * act_stride + b * sizeof(BlockQ8_K));
            int isum = 0, minsum = 0;
            for (int j = 0; j < n_sub; ++j) {
                int sub = 0, xsum = 0;
                for (int i = j * wb.sub_size; i < (j + 1) * wb.sub_size; ++i) {
                    sub += wb.q[i] * xb.qs[i];
                    xsum += xb.qs[i];
                }
                isum += wb.scale[j] * sub;
                minsum += wb.min[j] * xsum;
            }
            sums[t] += wb.d * xb.d * static_cast<float>(isum) - wb.dmin * xb.d * static_cast<float>(minsum);
        }
    }
    for (int t = 0; t < n_tok; ++t) out[t * out_stride] = sums[t];
}

}  // namespace

RowDotFn scalar_kquant_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q2_K: return dot_superblocks<BlockQ2_K, decode_q2_k>;
        case TensorType::Q3_K: return dot_superblocks<BlockQ3_K, decode_q3_k>;
        case TensorType::Q4_K: return dot_superblocks<BlockQ4_K, decode_q4_k>;
        case TensorType::Q5_K: return dot_superblocks<BlockQ5_K, decode_q5_k>;
        case TensorType::Q6_K: return dot_superblocks<BlockQ6_K, decode_q6_k>;
        case TensorType::IQ4_XS: return dot_superblocks<BlockIQ4_XS, decode_iq4_xs>;
        default: return nullptr;
    }
}

}  // namespace rf::cpu::detail
