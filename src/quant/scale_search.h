// Internal: the scale searches the quantizers share. Each fits a few parameters (a scale, maybe an
// offset) and integer levels to a group of values by weighted least squares:
//   1. try a range of candidate scales around the one that maps the largest value onto the
//      outermost level; for each, round every value to its level and solve for the best scale
//      (and offset) given those levels, scoring the weighted squared error;
//   2. from the best, alternate "round to levels" and "re-solve the scale" while the error drops.
// The quantizers then round the result to the stored precision (F16, 6-bit sub-scales...) and
// pick among neighbouring stored values by the error of the actual dequantized result.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "quant/float_convert.h"

namespace rf::quant::detail {

// Nearest integer to v (ties to even), clamped to [lo, hi]. NaN gives lo.
inline int round_clamp(float v, int lo, int hi) {
    if (!(v > static_cast<float>(lo))) return lo;
    if (!(v < static_cast<float>(hi))) return hi;
    return static_cast<int>(std::nearbyint(v));
}

// A scale as it will be stored: rounded to the nearest F16, magnitudes beyond the F16 range
// saturated to +-65504 (so values too large for the format clamp instead of overflowing to Inf).
inline float round_to_fp16(float v) { return fp16_to_f32(f32_to_fp16(std::clamp(v, -65504.0f, 65504.0f))); }

// Index of the level nearest to v among 16 ascending levels (ties to the upper level).
inline int nearest_level(const int8_t* levels, float v) {
    int index = 0;
    for (int step = 8; step > 0; step >>= 1) {
        const int j = index + step;
        if (j < 16 && v + v >= static_cast<float>(levels[j - 1] + levels[j])) index = j;
    }
    return index;
}

// The fits take groups of n <= 256 values.
//
// x[i] ~ s * L[i] with integer L[i] in [lo, hi] (lo < 0 < hi). Returns s (0 when all x are ~0,
// then L = 0); s may be negative. `w` may be nullptr for unit weights.
float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, int8_t* L);

// x[i] ~ scale * L[i] + min with L[i] in [0, nmax] and scale >= 0; with `min_nonpositive`, min <= 0
// (the K-quants store -min as an unsigned multiple of dmin).
struct AffineFit {
    float scale = 0;
    float min = 0;
};
AffineFit fit_affine(const float* x, const float* w, int n, int nmax, bool min_nonpositive, uint8_t* L);

// x[i] ~ s * levels[L[i]] for 16 ascending levels. Returns s (0 when all x are ~0).
float fit_codebook(const float* x, const float* w, int n, const int8_t* levels, uint8_t* L);

// Squared error of x against s * q with q = round_clamp(x / s, lo, hi), computed as the
// dequantizers do (one f32 product per value).
double symmetric_error(const float* x, int n, float s, int lo, int hi);
// Same for x against dl * q - ml with q = round_clamp((x + ml) / dl, 0, nmax).
double affine_error(const float* x, int n, float dl, float ml, int nmax);
// Same for x against s * levels[nearest_level(x / s)].
double codebook_error(const float* x, int n, float s, const int8_t* levels);

// Two-level scales (Q3_K, Q6_K, IQ4_XS): sub-block scales s[j] (of either sign, each fitted on its
// own) become an F16 super-block scale d and integers ls[j] in [lo, hi] (lo < 0 < hi), so that the
// summed error(j, d * ls[j]) of the sub-blocks is smallest. Candidates for d map the largest |s|
// onto lo or hi, times 1 + 0.02 k for |k| <= 6; each sub-block takes its nearest integer scale and
// the best candidate wins. Then, with d fixed, each sub-block tries every integer scale (the nearest
// is not always best once its values are rounded).
template <typename SubError>
float choose_signed_scales(const float* s, int n_sub, int lo, int hi, SubError&& error, int* ls) {
    float amax = 0, max = 0;
    for (int j = 0; j < n_sub; ++j) {
        if (std::fabs(s[j]) > amax) {
            amax = std::fabs(s[j]);
            max = s[j];
        }
    }
    std::fill(ls, ls + n_sub, 0);
    if (amax == 0) return 0;
    auto nearest = [&](float d, int j) { return d != 0 ? round_clamp(s[j] / d, lo, hi) : 0; };
    double best_error = std::numeric_limits<double>::infinity();
    float best_d = 0;
    for (const float base : {max / static_cast<float>(lo), max / static_cast<float>(hi)}) {
        for (int k = -6; k <= 6; ++k) {
            const float d = round_to_fp16(base * (1.0f + 0.02f * static_cast<float>(k)));
            double total = 0;
            for (int j = 0; j < n_sub && total < best_error; ++j) {
                total += error(j, d * static_cast<float>(nearest(d, j)));
            }
            if (total < best_error) {
                best_error = total;
                best_d = d;
            }
        }
    }
    for (int j = 0; j < n_sub; ++j) {
        double best = std::numeric_limits<double>::infinity();
        for (int l = lo; l <= hi; ++l) {
            const double e = error(j, best_d * static_cast<float>(l));
            if (e < best) {
                best = e;
                ls[j] = l;
            }
        }
    }
    return best_d;
}

}  // namespace rf::quant::detail
