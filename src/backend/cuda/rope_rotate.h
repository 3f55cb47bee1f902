// Rotary position embedding of one pair of a head, shared by the RoPE kernel and the fused
// RoPE + KV-store kernel so that both give the same bits. Device code only.
#pragma once

#include "backend/cuda/kernels.h"

namespace rf::gpu {

// Rotates pair i of `head` by the angle of position `pos`: pos * theta_scale^i by repeated f32
// multiplication (as the CPU advances it), YaRN-corrected when ext_factor is set.
__device__ inline void rope_rotate_pair(float* head, int64_t i, int32_t pos, const RopeParams& p) {
    float theta_extrap = static_cast<float>(pos);
    for (int64_t j = 0; j < i; ++j) theta_extrap *= p.theta_scale;
    const float extrapolated = p.freq_factors ? theta_extrap / p.freq_factors[i] : theta_extrap;
    float theta = extrapolated * p.freq_scale;
    if (p.ext_factor != 0.0f) {
        const double y = (i - static_cast<double>(p.ramp_low)) / fmax(0.001, static_cast<double>(p.ramp_high - p.ramp_low));
        const float mix = static_cast<float>((1.0 - fmin(fmax(y, 0.0), 1.0)) * p.ext_factor);
        theta = theta * (1 - mix) + extrapolated * mix;
    }
    const float cos_t = cosf(theta) * p.mscale, sin_t = sinf(theta) * p.mscale;
    const int64_t a = p.neox ? i : 2 * i, b = p.neox ? i + p.half : 2 * i + 1;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * cos_t - x1 * sin_t;
    head[b] = x0 * sin_t + x1 * cos_t;
}

}  // namespace rf::gpu
