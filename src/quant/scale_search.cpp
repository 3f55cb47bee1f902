#include "quant/scale_search.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace rf::quant::detail {
namespace {

constexpr float kTiny = 1e-30f;      // groups whose largest |x| is below this quantize to zero
constexpr int kMaxGroup = 256;       // the largest group any quantizer fits
constexpr int kRefineSteps = 8;

inline float weight(const float* w, int i) { return w ? w[i] : 1.0f; }

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

// Levels L = round(iscale * x) and their least-squares scale; score = sum(w x L)^2 / sum(w L^2)
// is the reduction of the weighted squared error (larger is better).
struct SymmetricTrial {
    double score = -1;
    double scale = 0;
};
SymmetricTrial try_symmetric(const float* x, const float* w, int n, int lo, int hi, float iscale, int8_t* L) {
    double sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = round_clamp(iscale * x[i], lo, hi);
        L[i] = static_cast<int8_t>(l);
        const double wi = weight(w, i);
        sumlx += wi * x[i] * l;
        suml2 += wi * l * l;
    }
    if (suml2 <= 0) return {};
    return {sumlx * sumlx / suml2, sumlx / suml2};
}

}  // namespace

float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, int8_t* L) {
    float amax, max;
    signed_max(x, n, amax, max);
    if (!(amax >= kTiny)) {
        std::fill(L, L + n, int8_t{0});
        return 0;
    }
    std::array<int8_t, kMaxGroup> trial{};
    SymmetricTrial best;
    auto consider = [&](float iscale) {
        const SymmetricTrial t = try_symmetric(x, w, n, lo, hi, iscale, trial.data());
        if (t.score > best.score) {
            best = t;
            std::memcpy(L, trial.data(), static_cast<size_t>(n));
            return true;
        }
        return false;
    };
    // The largest value onto the negative end (which has one level more) or the positive end.
    for (int k = -10; k <= 10; ++k) {
        consider((static_cast<float>(lo) - 0.1f * static_cast<float>(k)) / max);
        consider((static_cast<float>(hi) + 0.1f * static_cast<float>(k)) / max);
    }
    for (int step = 0; step < kRefineSteps && best.scale != 0; ++step) {
        if (!consider(static_cast<float>(1.0 / best.scale))) break;
    }
    if (best.score < 0) {
        std::fill(L, L + n, int8_t{0});
        return 0;
    }
    return static_cast<float>(best.scale);
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
    std::array<uint8_t, kMaxGroup> trial{};
    double best_error = std::numeric_limits<double>::infinity();
    AffineFit best;
    // Levels round((x - offset) * iscale), then the least-squares scale and min for them.
    auto consider = [&](float offset, float iscale) {
        double sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = round_clamp((x[i] - offset) * iscale, 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            const double wi = weight(w, i);
            sw += wi;
            sl += wi * l;
            sl2 += wi * l * l;
            sx += wi * x[i];
            sxl += wi * x[i] * l;
        }
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
        double error = 0;
        for (int i = 0; i < n; ++i) {
            const double diff = scale * trial[i] + min - x[i];
            error += weight(w, i) * diff * diff;
        }
        if (error < best_error) {
            best_error = error;
            best = {static_cast<float>(scale), static_cast<float>(min)};
            std::memcpy(L, trial.data(), static_cast<size_t>(n));
            return true;
        }
        return false;
    };
    const float range = hi - lo;
    for (int k = -20; k <= 20; ++k) consider(lo, (static_cast<float>(nmax) + 0.05f * static_cast<float>(k)) / range);
    for (int step = 0; step < kRefineSteps && best.scale > 0; ++step) {
        if (!consider(best.min, 1.0f / best.scale)) break;
    }
    if (!(best_error < std::numeric_limits<double>::infinity())) {
        std::fill(L, L + n, uint8_t{0});
        return {0, lo};
    }
    return best;
}

float fit_codebook(const float* x, const float* w, int n, const int8_t* levels, uint8_t* L) {
    float amax, max;
    signed_max(x, n, amax, max);
    const uint8_t zero_level = static_cast<uint8_t>(nearest_level(levels, 0.0f));
    if (!(amax >= kTiny)) {
        std::fill(L, L + n, zero_level);
        return 0;
    }
    std::array<uint8_t, kMaxGroup> trial{};
    double best_score = -1, best_scale = 0;
    auto consider = [&](float iscale) {
        double sumqx = 0, sumq2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = nearest_level(levels, iscale * x[i]);
            trial[i] = static_cast<uint8_t>(l);
            const double q = levels[l];
            const double wi = weight(w, i);
            sumqx += wi * q * x[i];
            sumq2 += wi * q * q;
        }
        if (sumq2 <= 0) return false;
        const double score = sumqx * sumqx / sumq2;
        if (score > best_score) {
            best_score = score;
            best_scale = sumqx / sumq2;
            std::memcpy(L, trial.data(), static_cast<size_t>(n));
            return true;
        }
        return false;
    };
    const float first = levels[0], last = levels[15];
    for (int k = -24; k <= 24; ++k) {
        consider((first - 0.5f * static_cast<float>(k)) / max);
        consider((last + 0.5f * static_cast<float>(k)) / max);
    }
    for (int step = 0; step < kRefineSteps && best_scale != 0; ++step) {
        if (!consider(static_cast<float>(1.0 / best_scale))) break;
    }
    if (best_score < 0) {
        std::fill(L, L + n, zero_level);
        return 0;
    }
    return static_cast<float>(best_scale);
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

double codebook_error(const float* x, int n, float s, const int8_t* levels) {
    const float inv = s != 0 ? 1.0f / s : 0.0f;
    double error = 0;
    for (int i = 0; i < n; ++i) {
        const int l = nearest_level(levels, x[i] * inv);
        const double diff = static_cast<double>(s * static_cast<float>(levels[l])) - x[i];
        error += diff * diff;
    }
    return error;
}

}  // namespace rf::quant::detail
