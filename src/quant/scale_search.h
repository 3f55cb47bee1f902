// Internal: the scale searches the quantizers share. Each fits a few parameters (a scale, maybe an
// offset) and integer levels to a group of values by weighted least squares:
//   1. try a handful of candidate scales around the one that maps the largest value onto the
//      outermost level; for each, round every value to its level and solve for the best scale
//      (and offset) given those levels, scoring the weighted squared error from running sums;
//   2. from the best, alternate "round to levels" and "re-solve the scale" while the error drops.
// The quantizers then round the result to the stored precision (F16, 6-bit sub-scales...). Where
// many stored combinations must be compared, the error is not recomputed value by value: with the
// levels held fixed it is a quadratic in the scale (and offset), so a group's handful of sums
// (LevelSums, AffineSums) scores a candidate in constant time.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "quant/float_convert.h"

namespace rf::quant::detail {

// Nearest integer to v (ties to even), clamped to [lo, hi] (|lo|, |hi| < 2^22). NaN gives lo.
// Written without branches (the clamps become min/max instructions): these run once per value
// per candidate scale, and mispredicted branches would cost more than the arithmetic.
inline int round_clamp(float v, int lo, int hi) {
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    v = v > flo ? v : flo;  // NaN -> lo
    v = v < fhi ? v : fhi;
    // Adding 1.5 * 2^23 leaves no bits for a fraction, so the addition itself rounds to nearest
    // even; a library call to nearbyint per value would dominate the quantizers' time.
    constexpr float kRoundingBias = 12582912.0f;
    return static_cast<int>((v + kRoundingBias) - kRoundingBias);
}

// A scale as it will be stored: rounded to the nearest F16, magnitudes beyond the F16 range
// saturated to +-65504 (so values too large for the format clamp instead of overflowing to Inf).
inline float round_to_fp16(float v) { return fp16_to_f32(f32_to_fp16(std::clamp(v, -65504.0f, 65504.0f))); }

// 16 ascending integer levels with an O(1) nearest-level lookup. Adjacent levels' midpoints are
// multiples of 1/2, so the nearest level is constant on each [t/2, (t+1)/2): a table indexed by
// floor(2v) answers exactly what comparing 2v with the sums of adjacent levels would (ties go to
// the upper level).
class Codebook {
public:
    explicit Codebook(const int8_t* levels);
    int8_t level(int index) const { return levels_[static_cast<size_t>(index)]; }
    const int8_t* levels() const { return levels_.data(); }
    int nearest(float v) const {
        constexpr float lowest = kLowest, highest = kHighest;
        float twice = v + v;
        twice = twice > lowest ? twice : lowest;  // NaN -> lowest
        twice = twice < highest ? twice : highest;
        int t = static_cast<int>(twice);                   // truncates toward zero;
        t -= static_cast<int>(static_cast<float>(t) > twice);  // floor, without a branch
        return nearest_by_floor2_[static_cast<size_t>(t - kLowest)];
    }

private:
    static constexpr int kLowest = -257, kHighest = 256;  // every sum of two int8 lies strictly inside
    std::array<int8_t, 16> levels_{};
    std::array<uint8_t, kHighest - kLowest + 1> nearest_by_floor2_{};
};

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

// x[i] ~ s * book.level(L[i]). Returns s (0 when all x are ~0).
float fit_codebook(const float* x, const float* w, int n, const Codebook& book, uint8_t* L);

// Squared error of x against s * q with q = round_clamp(x / s, lo, hi), computed as the
// dequantizers do (one f32 product per value).
double symmetric_error(const float* x, int n, float s, int lo, int hi);
// Same for x against dl * q - ml with q = round_clamp((x + ml) / dl, 0, nmax).
double affine_error(const float* x, int n, float dl, float ml, int nmax);
// Same for x against s * book.level(book.nearest(x / s)).
double codebook_error(const float* x, int n, float s, const Codebook& book);

// Sums of a group against fixed levels q: its squared error at scale s is xx - 2 s xq + s^2 qq.
struct LevelSums {
    double xx = 0, xq = 0, qq = 0;
    void add(double x, double q) {
        xx += x * x;
        xq += x * q;
        qq += q * q;
    }
    double error(double s) const { return xx - 2 * s * xq + s * s * qq; }
};

// Sums of a group against fixed levels l, for values dl * l - ml.
struct AffineSums {
    double n = 0, l = 0, ll = 0, x = 0, xl = 0, xx = 0;
    void add(double xi, double li) {
        n += 1;
        l += li;
        ll += li * li;
        x += xi;
        xl += xi * li;
        xx += xi * xi;
    }
    double error(double dl, double ml) const {
        return xx + dl * dl * ll + ml * ml * n - 2 * dl * ml * l - 2 * dl * xl + 2 * ml * x;
    }
};

// Two-level affine scales (Q2_K, Q4_K, Q5_K): non-negative sub-block scales s[j] and mins m[j]
// (values are scale * q - min, each fitted on its own, with `sums` of its values against its fitted
// levels) become F16 d and dmin. Each candidate pair is scored with every sub-block at its nearest
// integer scale and min, in O(1) per sub-block from the sums; candidates are "largest / top"
// times 1 + 0.02 k for |k| <= 6, searched in turn (d, dmin, d again) rather than as a grid, which
// finds about the same optimum in a fraction of the evaluations.
struct ScaleMin {
    float d = 0, dmin = 0;
};
ScaleMin choose_scale_min(const float* s, const float* m, const AffineSums* sums, int n_sub, int top);

// Then, with d and dmin fixed, one sub-block of n values (fitted scale s, min m) starts from its
// nearest integer scale and min in [0, top], moves to the best of the neighbouring pairs (scored
// from the sums of its current levels), re-rounds its values, and repeats until the pair stays put:
// every move lowers the actual error. Leaves the levels (0..nmax) in L.
struct IntegerScaleMin {
    int scale = 0, min = 0;
};
IntegerScaleMin settle_affine_subblock(const float* x, int n, int nmax, int top, ScaleMin super, float s, float m,
                                       uint8_t* L);

// Two-level scales (Q3_K, Q6_K, IQ4_XS): sub-block scales s[j] (of either sign, each fitted on its
// own, with the sums of its values against its fitted levels) become an F16 super-block scale d
// and integers ls[j] in [lo, hi] (lo < 0 < hi), so that the summed error(j, d * ls[j]) of the
// sub-blocks is smallest. Candidates for d map the largest |s| onto lo or hi, times 1 + 0.02 k for
// |k| <= 6; each is scored in O(1) per sub-block from the sums, with every sub-block at its
// nearest integer scale. Then, with d fixed, each sub-block compares the integer scales next to
// its own by the actual error (the levels move once the scale does).
template <typename SubError>
float choose_signed_scales(const float* s, const LevelSums* sums, int n_sub, int lo, int hi, SubError&& error,
                           int* ls) {
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
            for (int j = 0; j < n_sub; ++j) total += sums[j].error(static_cast<double>(d) * nearest(d, j));
            if (total < best_error) {
                best_error = total;
                best_d = d;
            }
        }
    }
    for (int j = 0; j < n_sub; ++j) {
        const int center = nearest(best_d, j);
        double best = std::numeric_limits<double>::infinity();
        for (int l = std::max(lo, center - 1); l <= std::min(hi, center + 1); ++l) {
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
