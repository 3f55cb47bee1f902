// Scalar kernels for the 32-value block types: each weight block is decoded to small integers,
// multiplied with the 8-bit activations in integer arithmetic, and scaled once per block.
#include <cstddef>
#include <cstring>

#include "backend/cpu/kernels/scalar_kernels.h"
#include "quant/block_formats.h"
#include "quant/float_convert.h"
#include "quant/iq_tables.h"

namespace rf::cpu::detail {
namespace {

using namespace rf::quant;

struct Decoded32 {
    float d = 0;   // weight = d * q (+ m)
    float m = 0;
    int8_t q[kQK];
};

// Element j < 16 is the low nibble of qs[j], element j + 16 the high nibble.
void split_nibbles(const uint8_t* qs, int8_t* q, int offset) {
    for (int j = 0; j < 16; ++j) {
        q[j] = static_cast<int8_t>((qs[j] & 0x0f) - offset);
        q[j + 16] = static_cast<int8_t>((qs[j] >> 4) - offset);
    }
}

void add_fifth_bits(const uint8_t* qh_bytes, int8_t* q) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, 4);
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<int8_t>(q[j] + (((qh >> j) & 1u) << 4));
}

void decode_q4_0(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockQ4_0>(src);
    out.d = fp16_to_f32(b.d);
    split_nibbles(b.qs, out.q, 8);
}
void decode_q4_1(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockQ4_1>(src);
    out.d = fp16_to_f32(b.d);
    out.m = fp16_to_f32(b.m);
    split_nibbles(b.qs, out.q, 0);
}
void decode_q5_0(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockQ5_0>(src);
    out.d = fp16_to_f32(b.d);
    split_nibbles(b.qs, out.q, 0);
    add_fifth_bits(b.qh, out.q);
    for (auto& v : out.q) v = static_cast<int8_t>(v - 16);
}
void decode_q5_1(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockQ5_1>(src);
    out.d = fp16_to_f32(b.d);
    out.m = fp16_to_f32(b.m);
    split_nibbles(b.qs, out.q, 0);
    add_fifth_bits(b.qh, out.q);
}
void decode_q8_0(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockQ8_0>(src);
    out.d = fp16_to_f32(b.d);
    std::memcpy(out.q, b.qs, kQK);
}
void decode_iq4_nl(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockIQ4_NL>(src);
    out.d = fp16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
        out.q[j] = kValuesIq4nl[b.qs[j] & 0x0f];
        out.q[j + 16] = kValuesIq4nl[b.qs[j] >> 4];
    }
}
void decode_mxfp4(const uint8_t* src, Decoded32& out) {
    const auto b = load_block<BlockMXFP4>(src);
    out.d = e8m0_to_f32_half(b.e);
    for (int j = 0; j < 16; ++j) {
        out.q[j] = kValuesMxfp4[b.qs[j] & 0x0f];
        out.q[j + 16] = kValuesMxfp4[b.qs[j] >> 4];
    }
}

// Symmetric weights against Q8_0 activations, or (kHasMin) weights with a min against Q8_1,
// whose stored s = d * sum(q) supplies the min's share: m * sum(x).
template <typename Block, void (*kDecode)(const uint8_t*, Decoded32&), bool kHasMin>
void dot_blocks32(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, int n_tok,
                  float* out, size_t out_stride) {
    constexpr size_t kActBytes = kHasMin ? sizeof(ActBlockQ8_1) : sizeof(ActBlockQ8_0);
    const int64_t n_blocks = cols / kQK;
    float sums[kMaxTileTokens] = {};
    Decoded32 wb;
    for (int64_t b = 0; b < n_blocks; ++b) {
        kDecode(w + b * sizeof(Block), wb);
        for (int t = 0; t < n_tok; ++t) {
            const uint8_t* a = act + t * act_stride + b * kActBytes;
            float dx, sx = 0;
            int8_t qs[kQK];
            if constexpr (kHasMin) {
                ActBlockQ8_1 xb;
                std::memcpy(&xb, a, sizeof xb);
                dx = xb.d;
                sx = xb.s;
                std::memcpy(qs, xb.qs, kQK);
            } else {
                ActBlockQ8_0 xb;
                std::memcpy(&xb, a, sizeof xb);
                dx = xb.d;
                std::memcpy(qs, xb.qs, kQK);
            }
            int isum = 0;
            for (int j = 0; j < kQK; ++j) isum += wb.q[j] * qs[j];
            sums[t] += wb.d * dx * static_cast<float>(isum);
            if constexpr (kHasMin) sums[t] += wb.m * sx;
        }
    }
    for (int t = 0; t < n_tok; ++t) out[t * out_stride] = sums[t];
}

}  // namespace

RowDotFn scalar_legacy_kernel(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return dot_blocks32<BlockQ4_0, decode_q4_0, false>;
        case TensorType::Q4_1: return dot_blocks32<BlockQ4_1, decode_q4_1, true>;
        case TensorType::Q5_0: return dot_blocks32<BlockQ5_0, decode_q5_0, false>;
        case TensorType::Q5_1: return dot_blocks32<BlockQ5_1, decode_q5_1, true>;
        case TensorType::Q8_0: return dot_blocks32<BlockQ8_0, decode_q8_0, false>;
        case TensorType::IQ4_NL: return dot_blocks32<BlockIQ4_NL, decode_iq4_nl, false>;
        case TensorType::MXFP4: return dot_blocks32<BlockMXFP4, decode_mxfp4, false>;
        default: return nullptr;
    }
}

}  // namespace rf::cpu::detail
