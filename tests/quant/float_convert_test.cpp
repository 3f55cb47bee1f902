// F16 / BF16 / E8M0 conversions against an independent reference: every 16-bit pattern's value is
// computed from the format definition in double, and f32 -> 16-bit rounding is checked against
// "the nearest representable value, ties to the even pattern" found by search, on all midpoints
// between neighbouring values (the ties), their f32 neighbours, and random f32 patterns.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/float_convert.h"

namespace rf::quant {
namespace {

// Value of a binary16 pattern from the definition.
double fp16_value(uint16_t h) {
    const int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
    double v;
    if (exponent == 31) {
        v = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    } else if (exponent == 0) {
        v = std::ldexp(static_cast<double>(mantissa), -24);
    } else {
        v = std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);
    }
    return sign ? -v : v;
}

// Value of a bfloat16 pattern from the definition (8-bit exponent, bias 127, 7-bit mantissa).
double bf16_value(uint16_t h) {
    const int sign = h >> 15, exponent = (h >> 7) & 255, mantissa = h & 127;
    double v;
    if (exponent == 255) {
        v = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    } else if (exponent == 0) {
        v = std::ldexp(static_cast<double>(mantissa), -133);
    } else {
        v = std::ldexp(1.0 + mantissa / 128.0, exponent - 127);
    }
    return sign ? -v : v;
}

// Round-to-nearest-even into a format whose non-negative finite patterns 0..max_finite are
// ordered by value; beyond the largest finite value by half an ulp or more -> Inf (0x7c00/0x7f80).
uint16_t reference_round(double (*value)(uint16_t), uint16_t max_finite, uint16_t inf, float f) {
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    const double a = std::fabs(static_cast<double>(f));
    const double top = value(max_finite), ulp_top = top - value(static_cast<uint16_t>(max_finite - 1));
    if (a >= top + ulp_top / 2) {
        // Exactly half an ulp above the top rounds to even, which is the next (infinite) pattern.
        return sign | inf;
    }
    // Largest pattern with value <= a (binary search over the ordered patterns).
    uint16_t lo = 0, hi = max_finite;
    while (lo < hi) {
        const uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
        if (value(mid) <= a) lo = mid; else hi = static_cast<uint16_t>(mid - 1);
    }
    if (lo == max_finite) return sign | lo;
    const double below = a - value(lo), above = value(static_cast<uint16_t>(lo + 1)) - a;
    if (below < above) return sign | lo;
    if (above < below) return sign | static_cast<uint16_t>(lo + 1);
    return sign | ((lo & 1) ? static_cast<uint16_t>(lo + 1) : lo);
}

uint16_t reference_fp16(float f) { return reference_round(fp16_value, 0x7bff, 0x7c00, f); }
uint16_t reference_bf16(float f) { return reference_round(bf16_value, 0x7f7f, 0x7f80, f); }

// Midpoints between neighbouring finite values, one f32 ulp either side, and the values.
std::vector<float> tie_probes(double (*value)(uint16_t), uint16_t max_finite) {
    std::vector<float> probes;
    for (uint16_t h = 0; h < max_finite; ++h) {
        const float mid = static_cast<float>((value(h) + value(static_cast<uint16_t>(h + 1))) / 2);
        for (float f : {static_cast<float>(value(h)), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
            probes.push_back(f);
            probes.push_back(-f);
        }
    }
    return probes;
}

TEST(Fp16, WideningMatchesTheDefinitionForEveryPattern) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_f32(static_cast<uint16_t>(h));
        const double expected = fp16_value(static_cast<uint16_t>(h));
        if (std::isnan(expected)) {
            EXPECT_TRUE(std::isnan(f)) << h;
        } else {
            ASSERT_EQ(static_cast<double>(f), expected) << "pattern " << h;
            EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
        }
    }
}

TEST(Fp16, EveryPatternRoundTrips) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t back = f32_to_fp16(fp16_to_f32(static_cast<uint16_t>(h)));
        if (((h >> 10) & 31) == 31 && (h & 1023) != 0) {
            EXPECT_EQ(back & 0x7c00, 0x7c00) << h;  // NaN stays NaN, sign kept
            EXPECT_NE(back & 0x03ff, 0) << h;
            EXPECT_EQ(back & 0x8000, h & 0x8000) << h;
        } else {
            ASSERT_EQ(back, h);
        }
    }
}

TEST(Fp16, NarrowingRoundsToNearestEven) {
    for (float f : tie_probes(fp16_value, 0x7bff)) ASSERT_EQ(f32_to_fp16(f), reference_fp16(f)) << f;
    std::mt19937 rng(1234);
    for (int i = 0; i < 200000; ++i) {
        const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_fp16(f), reference_fp16(f)) << f;
    }
}

TEST(Fp16, EdgeCases) {
    EXPECT_EQ(f32_to_fp16(0.0f), 0x0000);
    EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);         // largest finite
    EXPECT_EQ(f32_to_fp16(65519.996f), 0x7bff);       // just under the rounding boundary
    EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);         // the tie rounds to even: Inf
    EXPECT_EQ(f32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(f32_to_fp16(-INFINITY), 0xfc00);
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);   // smallest normal
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);   // smallest subnormal
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);   // half of it: tie to even (0)
    EXPECT_EQ(f32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
    EXPECT_EQ(f32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);   // 1.5 ulp: tie to even (2)
    EXPECT_EQ(f32_to_fp16(std::ldexp(1023.5f, -24)), 0x0400); // largest subnormal + half: carries into normal
    EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, even stays
    EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);      // tie, odd rounds up
    EXPECT_EQ(f32_to_fp16(1e-10f), 0x0000);
    const uint16_t nan = f32_to_fp16(-std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(nan & 0x7c00, 0x7c00);
    EXPECT_NE(nan & 0x03ff, 0);
    EXPECT_EQ(nan & 0x8000, 0x8000);
    EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(std::numeric_limits<float>::signaling_NaN()))));
    EXPECT_EQ(fp16_to_f32(0x7c00), INFINITY);
    EXPECT_EQ(fp16_to_f32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(fp16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
}

TEST(Bf16, WideningAndRoundTripForEveryPattern) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = bf16_to_f32(static_cast<uint16_t>(h));
        const double expected = bf16_value(static_cast<uint16_t>(h));
        if (std::isnan(expected)) {
            EXPECT_TRUE(std::isnan(f));
            EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
        } else {
            ASSERT_EQ(static_cast<double>(f), expected) << h;
            ASSERT_EQ(f32_to_bf16(f), h);
        }
    }
}

TEST(Bf16, NarrowingRoundsToNearestEven) {
    for (float f : tie_probes(bf16_value, 0x7f7f)) ASSERT_EQ(f32_to_bf16(f), reference_bf16(f)) << f;
    std::mt19937 rng(99);
    for (int i = 0; i < 200000; ++i) {
        const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_bf16(f), reference_bf16(f)) << f;
    }
}

TEST(Bf16, EdgeCases) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the top: Inf
    EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormal tie, odd rounds up
    const uint16_t nan = f32_to_bf16(std::bit_cast<float>(0xff800001u));  // signalling NaN, payload in low bits
    EXPECT_EQ(nan, 0xffc0);  // stays NaN (quiet), sign kept
}

TEST(E8m0, HalfScale) {
    EXPECT_EQ(e8m0_to_f32_half(128), 1.0f);
    EXPECT_EQ(e8m0_to_f32_half(127), 0.5f);
    EXPECT_EQ(e8m0_to_f32_half(130), 4.0f);
    EXPECT_EQ(e8m0_to_f32_half(1), std::ldexp(1.0f, -127));
    EXPECT_EQ(e8m0_to_f32_half(0), std::ldexp(1.0f, -128));
    EXPECT_EQ(e8m0_to_f32_half(254), std::ldexp(1.0f, 126));
    for (int e = 0; e < 255; ++e) EXPECT_EQ(e8m0_to_f32_half(static_cast<uint8_t>(e)), std::ldexp(1.0f, e - 128)) << e;
}

}  // namespace
}  // namespace rf::quant
