// The fast paths of the scale searches (quant/scale_search.h) against their slow definitions:
// rounding without a library call, the table lookup of the nearest codebook level, the error
// from running sums, and the sub-block refinement never making a sub-block worse.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/iq_tables.h"
#include "quant/scale_search.h"

namespace rf::quant::detail {
namespace {

int slow_round_clamp(float v, int lo, int hi) {
    if (std::isnan(v)) return lo;
    const float r = std::nearbyint(std::fmin(std::fmax(v, static_cast<float>(lo)), static_cast<float>(hi)));
    return static_cast<int>(r);
}

TEST(ScaleSearch, RoundClampIsNearestEvenClamped) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> wide(-300.0f, 300.0f);
    std::vector<float> values = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -127.5f, 0.49999997f, -0.49999997f,
                                 1e30f, -1e30f, std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f};
    for (int i = 0; i < 100000; ++i) values.push_back(wide(rng));
    for (int half = -600; half <= 600; ++half) values.push_back(0.5f * static_cast<float>(half));  // every tie
    for (const float v : values) {
        for (const auto& [lo, hi] : {std::pair{-8, 7}, std::pair{0, 31}, std::pair{-128, 127}, std::pair{-1, 1}}) {
            ASSERT_EQ(round_clamp(v, lo, hi), slow_round_clamp(v, lo, hi)) << v << " in [" << lo << ", " << hi << "]";
        }
    }
}

// Nearest of 16 ascending levels by distance (in double: exact for moderate floats), ties to the upper level.
int slow_nearest(const int8_t* levels, float v) {
    int best = 0;
    for (int j = 1; j < 16; ++j) {
        if (std::fabs(static_cast<double>(v) - levels[j]) <= std::fabs(static_cast<double>(v) - levels[best])) best = j;
    }
    return best;
}

TEST(ScaleSearch, CodebookLookupFindsTheNearestLevel) {
    const Codebook book(kValuesIq4nl.data());
    std::vector<float> values = {-300.0f, 300.0f, 0.0f, -0.0f};
    for (int j = 0; j + 1 < 16; ++j) {  // each midpoint and its float neighbours
        const float mid = 0.5f * static_cast<float>(kValuesIq4nl[j] + kValuesIq4nl[j + 1]);
        values.push_back(mid);
        values.push_back(std::nextafter(mid, -1e9f));
        values.push_back(std::nextafter(mid, 1e9f));
    }
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> wide(-140.0f, 140.0f);
    for (int i = 0; i < 100000; ++i) values.push_back(wide(rng));
    for (const float v : values) ASSERT_EQ(book.nearest(v), slow_nearest(kValuesIq4nl.data(), v)) << v;
    EXPECT_EQ(book.nearest(-1e30f), 0);
    EXPECT_EQ(book.nearest(1e30f), 15);
    EXPECT_EQ(book.nearest(std::numeric_limits<float>::quiet_NaN()), 0);
}

TEST(ScaleSearch, SumsGiveTheSquaredError) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    LevelSums level_sums;
    AffineSums affine_sums;
    std::vector<float> x(32);
    std::vector<int> q(32);
    for (int i = 0; i < 32; ++i) {
        x[i] = normal(rng);
        q[i] = static_cast<int>(rng() % 16);
        level_sums.add(x[i], q[i] - 8);
        affine_sums.add(x[i], q[i]);
    }
    const double s = 0.3, dl = 0.25, ml = 1.7;
    double symmetric = 0, affine = 0;
    for (int i = 0; i < 32; ++i) {
        symmetric += std::pow(s * (q[i] - 8) - x[i], 2);
        affine += std::pow(dl * q[i] - ml - x[i], 2);
    }
    EXPECT_NEAR(level_sums.error(s), symmetric, 1e-9 * symmetric);
    EXPECT_NEAR(affine_sums.error(dl, ml), affine, 1e-9 * affine);
}

TEST(ScaleSearch, SettlingASubBlockNeverRaisesItsError) {
    // Q4_K-like: 32 values, levels 0..15, 6-bit scale and min.
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<float> x(32);
        for (float& v : x) v = normal(rng) + (trial % 3 == 0 ? 1.5f : 0.0f);
        std::vector<uint8_t> L(32);
        const AffineFit fit = fit_affine(x.data(), nullptr, 32, 15, true, L.data());
        AffineSums sums;
        for (int i = 0; i < 32; ++i) sums.add(x[i], L[i]);
        const float s = fit.scale, m = -fit.min;
        // A super-block scale that leaves this sub-block between integer multiples.
        const ScaleMin super{round_to_fp16(s / 40.3f), round_to_fp16(m > 0 ? m / 21.7f : 0.0f)};
        const IntegerScaleMin start{round_clamp(s / super.d, 0, 63), super.dmin > 0 ? round_clamp(m / super.dmin, 0, 63) : 0};
        const double start_error =
            affine_error(x.data(), 32, super.d * static_cast<float>(start.scale), super.dmin * static_cast<float>(start.min), 15);
        const IntegerScaleMin settled = settle_affine_subblock(x.data(), 32, 15, 63, super, s, m, L.data());
        const float dl = super.d * static_cast<float>(settled.scale), ml = super.dmin * static_cast<float>(settled.min);
        EXPECT_LE(affine_error(x.data(), 32, dl, ml, 15), start_error * (1 + 1e-12)) << "trial " << trial;
        // The levels left behind are those of the settled pair.
        for (int i = 0; i < 32; ++i) {
            ASSERT_EQ(L[i], dl > 0 ? round_clamp((x[i] + ml) * (1.0f / dl), 0, 15) : 0) << "trial " << trial << " value " << i;
        }
    }
}

}  // namespace
}  // namespace rf::quant::detail
