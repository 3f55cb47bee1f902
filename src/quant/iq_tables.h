// Codebooks of the IQ formats and the non-linear 4-bit formats (values in iq_tables.cpp).
#pragma once

#include <array>
#include <cstdint>

namespace rf::quant {

// Grid points, one coordinate per byte (coordinate j in byte j).
extern const std::array<uint64_t, 256> kIq2xxsGrid;   // IQ2_XXS
extern const std::array<uint64_t, 512> kIq2xsGrid;    // IQ2_XS
extern const std::array<uint64_t, 1024> kIq2sGrid;    // IQ2_S
extern const std::array<uint32_t, 256> kIq3xxsGrid;   // IQ3_XXS
extern const std::array<uint32_t, 512> kIq3sGrid;     // IQ3_S
extern const std::array<uint64_t, 2048> kIq1sGrid;    // IQ1_S and IQ1_M (bytes are int8 -1, 0, +1)

// 7 stored sign bits -> 8 signs (bit j set: coordinate j negative); bit 7 restores even parity.
extern const std::array<uint8_t, 128> kSignsIq2xs;

extern const std::array<int8_t, 16> kValuesIq4nl;     // IQ4_NL, IQ4_XS levels
extern const std::array<int8_t, 16> kValuesMxfp4;     // MXFP4 E2M1 values, doubled

// IQ1_S / IQ1_M shift every grid coordinate by +-kIq1Delta (sign from a per-group bit).
inline constexpr float kIq1Delta = 0.125f;

}  // namespace rf::quant
