#include "quant/scale_search.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace rf::quant::detail {
namespace {

constexpr float kTiny = 1e-30f;      // groups whose largest |x| is below this quantize to zero
constexpr int kMaxGroup = 256;       // the largest group any quantizer fits
constexpr int kRefineSteps = 4;      // "re-round, re-solve" rounds; rarely more than two help

// Candidate inverse scales put the largest value at the outermost level plus k * step, |k| <= count.
constexpr int kSymmetricCandidates = 3;
constexpr float kSymmetricStep = 0.33f;
constexpr int kAffineCandidates = 5;
constexpr float kAffineStep = 0.2f;
constexpr int kCodebookCandidates = 3;
constexpr float kCodebookStep = 2.0f;

// Unit weights for groups given none, so the hot loops need no branch.
constexpr std::array<float, kMaxGroup> kUnitWeights = [] {
    std::array<float, kMaxGroup> ones{};
    ones.fill(1.0f);
    return ones;
}();
inline const float* weights_or_ones(const float* w) { return w ? w : kUnitWeights.data(); }

// Largest |x| and the signed value that has it.
inline void signed_max(const float* x, int n, float& amax, float& max) {
    amax = 0;
    max = 0;
    for (int i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (a > amax) {
            amax = a;
            max = x[i];
        }
    }
}

// Keeps the best of a series of trial level assignments: a trial writes its levels into
// `trial()` and offers its cost (smaller is better) and scale; the winner's levels are copied out.
template <typename Level>
class BestLevels {
public:
    BestLevels(Level* out, int n) : out_(out), n_(n) {}
    Level* trial() { return trial_.data(); }
    bool offer(double cost, double scale) {
        if (!(cost < cost_)) return false;
        cost_ = cost;
        scale_ = scale;
        std::memcpy(out_, trial_.data(), static_cast<size_t>(n_) * sizeof(Level));
        return true;
    }
    bool found() const { return cost_ < std::numeric_limits<double>::infinity(); }
    double scale() const { return scale_; }

private:
    Level* out_;
    int n_;
    std::array<Level, kMaxGroup> trial_{};
    double cost_ = std::numeric_limits<double>::infinity(), scale_ = 0;
};

// The trial passes: levels for one candidate and the weighted sums that score them. (Free
// functions rather than lambdas: captured pointers would be re-read after every byte stored.)
struct ScaleSums {
    double xq = 0, qq = 0;
};
inline ScaleSums round_symmetric(const float* x, const float* w, int n, int lo, int hi, float iscale, int8_t* L) {
    ScaleSums sums;
    for (int i = 0; i < n; ++i) {
        const int l = round_clamp(iscale * x[i], lo, hi);
        L[i] = static_cast<int8_t>(l);
        const double wl = static_cast<double>(w[i]) * l;
        sums.xq += wl * x[i];
        sums.qq += wl * l;
    }
    return sums;
}

inline ScaleSums round_codebook(const float* x, const float* w, int n, const Codebook& book, float iscale,
                                uint8_t* L) {
    ScaleSums sums;
    for (int i = 0; i < n; ++i) {
        const int l = book.nearest(iscale * x[i]);
        L[i] = static_cast<uint8_t>(l);
        const double q = book.level(l);
        const double wq = static_cast<double>(w[i]) * q;
        sums.xq += wq * x[i];
        sums.qq += wq * q;
    }
    return sums;
}

struct AffineTrialSums {
    double w = 0, l = 0, ll = 0, x = 0, xl = 0;
};
inline AffineTrialSums round_offset(const float* x, const float* w, int n, int nmax, float offset, float iscale,
                                    uint8_t* L) {
    AffineTrialSums sums;
    for (int i = 0; i < n; ++i) {
        const int l = round_clamp((x[i] - offset) * iscale, 0, nmax);
        L[i] = static_cast<uint8_t>(l);
        const double wi = w[i];
        const double wl = wi * l;
        sums.w += wi;
        sums.l += wl;
        sums.ll += wl * l;
        sums.x += wi * x[i];
        sums.xl += wl * x[i];
    }
    return sums;
}

}  // namespace

Codebook::Codebook(const int8_t* levels) {
    std::copy(levels, levels + 16, levels_.begin());
    for (int t = kLowest; t <= kHighest; ++t) {
        int index = 0;
        while (index < 15 && levels_[index] + levels_[index + 1] <= t) ++index;
        nearest_by_floor2_[static_cast<size_t>(t - kLowest)] = static_cast<uint8_t>(index);
    }
}

float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, int8_t* L) {
    float amax, max;
    signed_max(x, n, amax, max);
    if (!(amax >= kTiny)) {
        std::fill(L, L + n, int8_t{0});
        return 0;
    }
    w = weights_or_ones(w);
    BestLevels<int8_t> best(L, n);
    // Levels L = round(iscale * x) and their least-squares scale; sum(w x L)^2 / sum(w L^2) is the
    // reduction of the weighted squared error, so its negative is the cost.
    auto consider = [&](float iscale) {
        const ScaleSums t = round_symmetric(x, w, n, lo, hi, iscale, best.trial());
        return t.qq > 0 && best.offer(-t.xq * t.xq / t.qq, t.xq / t.qq);
    };
    // The largest value onto the negative end (which has one level more) or the positive end.
    for (int k = -kSymmetricCandidates; k <= kSymmetricCandidates; ++k) {
        consider((static_cast<float>(lo) - kSymmetricStep * static_cast<float>(k)) / max);
        consider((static_cast<float>(hi) + kSymmetricStep * static_cast<float>(k)) / max);
    }
    for (int step = 0; step < kRefineSteps && best.scale() != 0; ++step) {
        if (!consider(static_cast<float>(1.0 / best.scale()))) break;
    }
    if (!best.found()) {
        std::fill(L, L + n, int8_t{0});
        return 0;
    }
    return static_cast<float>(best.scale());
}

AffineFit fit_affine(const float* x, const float* w, int n, int nmax, bool min_nonpositive, uint8_t* L) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    if (min_nonpositive) lo = std::min(lo, 0.0f);
    if (!(hi - lo >= kTiny)) {  // constant group (or one that can only be represented by its offset)
        std::fill(L, L + n, uint8_t{0});
        return {0, lo};
    }
    w = weights_or_ones(w);
    BestLevels<uint8_t> best(L, n);
    AffineFit best_fit;
    // Levels round((x - offset) * iscale), then the least-squares scale and min for them; the cost
    // is their weighted squared error less the constant sum of w x^2, from the same sums.
    auto consider = [&](float offset, float iscale) {
        const AffineTrialSums t = round_offset(x, w, n, nmax, offset, iscale, best.trial());
        const double sw = t.w, sl = t.l, sl2 = t.ll, sx = t.x, sxl = t.xl;
        double scale, min;
        const double det = sw * sl2 - sl * sl;
        if (det > 0) {
            scale = (sw * sxl - sx * sl) / det;
            min = (sl2 * sx - sl * sxl) / det;
            if (min_nonpositive && min > 0) {
                min = 0;
                scale = sxl / sl2;
            }
        } else {  // one level for all: only the offset can be fitted
            scale = 0;
            min = sw > 0 ? sx / sw : 0;
            if (min_nonpositive && min > 0) min = 0;
        }
        if (!(scale >= 0)) return false;
        const double cost = scale * scale * sl2 + min * min * sw + 2 * scale * min * sl - 2 * scale * sxl - 2 * min * sx;
        if (!best.offer(cost, scale)) return false;
        best_fit = {static_cast<float>(scale), static_cast<float>(min)};
        return true;
    };
    const float range = hi - lo;
    for (int k = -kAffineCandidates; k <= kAffineCandidates; ++k) {
        consider(lo, (static_cast<float>(nmax) + kAffineStep * static_cast<float>(k)) / range);
    }
    for (int step = 0; step < kRefineSteps && best_fit.scale > 0; ++step) {
        if (!consider(best_fit.min, 1.0f / best_fit.scale)) break;
    }
    if (!best.found()) {
        std::fill(L, L + n, uint8_t{0});
        return {0, lo};
    }
    return best_fit;
}

float fit_codebook(const float* x, const float* w, int n, const Codebook& book, uint8_t* L) {
    float amax, max;
    signed_max(x, n, amax, max);
    const uint8_t zero_level = static_cast<uint8_t>(book.nearest(0.0f));
    if (!(amax >= kTiny)) {
        std::fill(L, L + n, zero_level);
        return 0;
    }
    w = weights_or_ones(w);
    BestLevels<uint8_t> best(L, n);
    auto consider = [&](float iscale) {
        const ScaleSums t = round_codebook(x, w, n, book, iscale, best.trial());
        return t.qq > 0 && best.offer(-t.xq * t.xq / t.qq, t.xq / t.qq);
    };
    const float first = book.level(0), last = book.level(15);
    for (int k = -kCodebookCandidates; k <= kCodebookCandidates; ++k) {
        consider((first - kCodebookStep * static_cast<float>(k)) / max);
        consider((last + kCodebookStep * static_cast<float>(k)) / max);
    }
    for (int step = 0; step < kRefineSteps && best.scale() != 0; ++step) {
        if (!consider(static_cast<float>(1.0 / best.scale()))) break;
    }
    if (!best.found()) {
        std::fill(L, L + n, zero_level);
        return 0;
    }
    return static_cast<float>(best.scale());
}

double symmetric_error(const float* x, int n, float s, int lo, int hi) {
    const float inv = s != 0 ? 1.0f / s : 0.0f;
    double error = 0;
    for (int i = 0; i < n; ++i) {
        const int q = s != 0 ? round_clamp(x[i] * inv, lo, hi) : 0;
        const double diff = static_cast<double>(s * static_cast<float>(q)) - x[i];
        error += diff * diff;
    }
    return error;
}

double affine_error(const float* x, int n, float dl, float ml, int nmax) {
    double error = 0;
    for (int i = 0; i < n; ++i) {
        const int q = dl != 0 ? round_clamp((x[i] + ml) / dl, 0, nmax) : 0;
        const double diff = static_cast<double>(dl * static_cast<float>(q) - ml) - x[i];
        error += diff * diff;
    }
    return error;
}

double codebook_error(const float* x, int n, float s, const Codebook& book) {
    const float inv = s != 0 ? 1.0f / s : 0.0f;
    double error = 0;
    for (int i = 0; i < n; ++i) {
        const int l = book.nearest(x[i] * inv);
        const double diff = static_cast<double>(s * static_cast<float>(book.level(l))) - x[i];
        error += diff * diff;
    }
    return error;
}


namespace {

constexpr int kFactorSteps = 6;  // candidate super-block scales: base * (1 + 0.02 k), |k| <= 6
constexpr float kFactorStep = 0.02f;
constexpr int kSettleRounds = 3;  // "pick integer scales, re-round the values" rounds

inline float inverse_of(float v) { return v > 0 ? 1.0f / v : 0.0f; }
inline int nearest_multiple(float v, float inverse_step, int top) { return round_clamp(v * inverse_step, 0, top); }

// Levels of a group for values dl * q - ml, and the sums against them.
AffineSums round_affine(const float* x, int n, float dl, float ml, int nmax, uint8_t* L) {
    const float inverse = inverse_of(dl);
    AffineSums sums;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(dl > 0 ? round_clamp((x[i] + ml) * inverse, 0, nmax) : 0);
        sums.add(x[i], L[i]);
    }
    return sums;
}

}  // namespace

ScaleMin choose_scale_min(const float* s, const float* m, const AffineSums* sums, int n_sub, int top) {
    float smax = 0, mmax = 0;
    for (int j = 0; j < n_sub; ++j) {
        smax = std::max(smax, s[j]);
        mmax = std::max(mmax, m[j]);
    }
    auto total_error = [&](ScaleMin c) {
        const float id = inverse_of(c.d), idmin = inverse_of(c.dmin);
        double total = 0;
        for (int j = 0; j < n_sub; ++j) {
            total += sums[j].error(static_cast<double>(c.d) * nearest_multiple(s[j], id, top),
                                   static_cast<double>(c.dmin) * nearest_multiple(m[j], idmin, top));
        }
        return total;
    };
    const float ftop = static_cast<float>(top);
    auto candidate = [&](float max, int k) { return round_to_fp16(max / ftop * (1.0f + kFactorStep * static_cast<float>(k))); };
    ScaleMin best{candidate(smax, 0), candidate(mmax, 0)};
    double best_error = total_error(best);
    auto scan = [&](float max, float ScaleMin::*field) {
        if (max <= 0) return;
        ScaleMin trial = best;
        for (int k = -kFactorSteps; k <= kFactorSteps; ++k) {
            trial.*field = candidate(max, k);
            const double e = total_error(trial);
            if (e < best_error) {
                best_error = e;
                best = trial;
            }
        }
    };
    scan(smax, &ScaleMin::d);
    scan(mmax, &ScaleMin::dmin);
    scan(smax, &ScaleMin::d);
    return best;
}

IntegerScaleMin settle_affine_subblock(const float* x, int n, int nmax, int top, ScaleMin super, float s, float m,
                                       uint8_t* L) {
    const double d = super.d, dmin = super.dmin;
    IntegerScaleMin at{nearest_multiple(s, inverse_of(super.d), top), nearest_multiple(m, inverse_of(super.dmin), top)};
    for (int round = 0;; ++round) {
        const AffineSums sums = round_affine(x, n, super.d * static_cast<float>(at.scale),
                                             super.dmin * static_cast<float>(at.min), nmax, L);
        if (round == kSettleRounds) break;
        IntegerScaleMin best = at;
        double best_error = sums.error(d * at.scale, dmin * at.min);
        for (int a = std::max(0, at.scale - 1); a <= std::min(top, at.scale + 1); ++a) {
            for (int c = std::max(0, at.min - 1); c <= std::min(top, at.min + 1); ++c) {
                const double e = sums.error(d * a, dmin * c);
                if (e < best_error) {
                    best_error = e;
                    best = {a, c};
                }
            }
        }
        if (best.scale == at.scale && best.min == at.min) break;
        at = best;
    }
    return at;
}

}  // namespace rf::quant::detail
