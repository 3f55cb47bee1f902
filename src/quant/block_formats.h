// Byte layouts of ggml's quantized blocks, as stored in GGUF files (little-endian, no padding).
// Scales named `d`/`dmin`/`m`/`s` are F16 bit patterns unless the comment says otherwise.
// A row of n values of a quantized type is n / kBlockSize consecutive blocks.
//
// Blocks are read and written with std::memcpy (load_block/store_block), never through a cast
// pointer, since tensor data in a file need not be aligned for these structs.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "gguf/tensor_type.h"

namespace rf::quant {

static_assert(std::endian::native == std::endian::little, "GGUF block layouts assume a little-endian host");

inline constexpr int kQK = 32;    // legacy block size
inline constexpr int kQK_K = 256; // K-quant / IQ super-block size

// ---- legacy 32-element blocks: x = d * q (+ m) --------------------------------------------------
struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };                    // q = nibble - 8
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };                 // x = d * nibble + m
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };     // q = (nibble | high bit << 4) - 16
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };
struct BlockQ8_1 { uint16_t d, s; int8_t qs[32]; };                  // s = d * sum(qs)
// Element j < 16 is in the low nibble of qs[j], element j + 16 in its high nibble; for the 5-bit
// types bit j of the little-endian uint32 qh is element j's fifth bit.

// ---- K-quants: 256-element super-blocks of 16 or 32-element sub-blocks --------------------------
struct BlockQ2_K {            // 16 x 16: x = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d, dmin;
};
struct BlockQ3_K {            // 16 x 16: x = d * (sc - 32) * q, q in -4..3, sc 6-bit
    uint8_t hmask[32];        // bit set: q = low bits; clear: q = low bits - 4
    uint8_t qs[64];           // low 2 bits of q
    uint8_t scales[12];       // 16 x 6 bits
    uint16_t d;
};
struct BlockQ4_K {            // 8 x 32: x = d * sc * q - dmin * m, q in 0..15, sc/m 6-bit
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
struct BlockQ5_K {            // 8 x 32, like Q4_K with q in 0..31
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
struct BlockQ6_K {            // 16 x 16: x = d * sc * q, q in -32..31, sc int8
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
struct BlockQ8_K {            // activations: x = d * q
    float d;                  // f32, not F16
    int8_t qs[256];
    int16_t bsums[16];        // sums of qs over groups of 16
};

// ---- IQ formats: lattice codebooks (see iq_tables.h) ---------------------------------------------
struct BlockIQ2_XXS { uint16_t d; uint16_t qs[32]; };
struct BlockIQ2_XS { uint16_t d; uint16_t qs[32]; uint8_t scales[8]; };
struct BlockIQ2_S { uint16_t d; uint8_t qs[64]; uint8_t qh[8]; uint8_t scales[8]; };  // qs[32..63]: signs
struct BlockIQ3_XXS { uint16_t d; uint8_t qs[96]; };                 // 64 grid indices, then 8 x uint32 scales+signs
struct BlockIQ3_S { uint16_t d; uint8_t qs[64]; uint8_t qh[8]; uint8_t signs[32]; uint8_t scales[4]; };
struct BlockIQ1_S { uint16_t d; uint8_t qs[32]; uint16_t qh[8]; };
struct BlockIQ1_M { uint8_t qs[32]; uint8_t qh[16]; uint8_t scales[8]; };  // F16 d spread over scales' top nibbles
struct BlockIQ4_NL { uint16_t d; uint8_t qs[16]; };
struct BlockIQ4_XS { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; };

// ---- ternary and MXFP4 --------------------------------------------------------------------------
struct BlockTQ1_0 { uint8_t qs[48]; uint8_t qh[4]; uint16_t d; };    // base-3 digits, 5 (qs) or 4 (qh) per byte
struct BlockTQ2_0 { uint8_t qs[64]; uint16_t d; };                   // 2 bits per value, q - 1
struct BlockMXFP4 { uint8_t e; uint8_t qs[16]; };                    // E8M0 scale, E2M1 nibbles

template <typename Block>
inline Block load_block(const uint8_t* src) {
    Block block;
    std::memcpy(&block, src, sizeof(Block));
    return block;
}

template <typename Block>
inline void store_block(uint8_t* dst, const Block& block) {
    std::memcpy(dst, &block, sizeof(Block));
}

// The block struct of each quantized type, so that tests can check sizes against the type table.
template <TensorType T> struct BlockOf;
template <> struct BlockOf<TensorType::Q4_0> { using type = BlockQ4_0; };
template <> struct BlockOf<TensorType::Q4_1> { using type = BlockQ4_1; };
template <> struct BlockOf<TensorType::Q5_0> { using type = BlockQ5_0; };
template <> struct BlockOf<TensorType::Q5_1> { using type = BlockQ5_1; };
template <> struct BlockOf<TensorType::Q8_0> { using type = BlockQ8_0; };
template <> struct BlockOf<TensorType::Q8_1> { using type = BlockQ8_1; };
template <> struct BlockOf<TensorType::Q2_K> { using type = BlockQ2_K; };
template <> struct BlockOf<TensorType::Q3_K> { using type = BlockQ3_K; };
template <> struct BlockOf<TensorType::Q4_K> { using type = BlockQ4_K; };
template <> struct BlockOf<TensorType::Q5_K> { using type = BlockQ5_K; };
template <> struct BlockOf<TensorType::Q6_K> { using type = BlockQ6_K; };
template <> struct BlockOf<TensorType::Q8_K> { using type = BlockQ8_K; };
template <> struct BlockOf<TensorType::IQ2_XXS> { using type = BlockIQ2_XXS; };
template <> struct BlockOf<TensorType::IQ2_XS> { using type = BlockIQ2_XS; };
template <> struct BlockOf<TensorType::IQ2_S> { using type = BlockIQ2_S; };
template <> struct BlockOf<TensorType::IQ3_XXS> { using type = BlockIQ3_XXS; };
template <> struct BlockOf<TensorType::IQ3_S> { using type = BlockIQ3_S; };
template <> struct BlockOf<TensorType::IQ1_S> { using type = BlockIQ1_S; };
template <> struct BlockOf<TensorType::IQ1_M> { using type = BlockIQ1_M; };
template <> struct BlockOf<TensorType::IQ4_NL> { using type = BlockIQ4_NL; };
template <> struct BlockOf<TensorType::IQ4_XS> { using type = BlockIQ4_XS; };
template <> struct BlockOf<TensorType::TQ1_0> { using type = BlockTQ1_0; };
template <> struct BlockOf<TensorType::TQ2_0> { using type = BlockTQ2_0; };
template <> struct BlockOf<TensorType::MXFP4> { using type = BlockMXFP4; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ2_XXS) == 66 && sizeof(BlockIQ2_XS) == 74 && sizeof(BlockIQ2_S) == 82);
static_assert(sizeof(BlockIQ3_XXS) == 98 && sizeof(BlockIQ3_S) == 110 && sizeof(BlockIQ1_S) == 50);
static_assert(sizeof(BlockIQ1_M) == 56 && sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockTQ1_0) == 54 && sizeof(BlockTQ2_0) == 66 && sizeof(BlockMXFP4) == 17);

}  // namespace rf::quant
