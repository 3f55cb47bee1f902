// The portable attention (the reference the vector variant is tested against), and the choice of
// variant.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels/attention.h"
#include "quant/float_convert.h"

namespace rf::cpu {
namespace detail {
namespace {

float element(const uint8_t* row, int64_t i, bool f16) {
    if (f16) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        return quant::fp16_to_f32(h);
    }
    float f;
    std::memcpy(&f, row + 4 * i, 4);
    return f;
}

}  // namespace

void attend_scalar(const AttendJob& j) {
    const int64_t n = j.last - j.first + 1;
    for (int h = 0; h < j.n_heads; ++h) {
        const float* q = j.q + h * j.q_stride;
        float* scores = j.scores + h * n;
        for_each_slot_run(j, [&](int64_t i, int64_t slot, int64_t count) {
            const int64_t block = slot / j.block_size, offset = slot % j.block_size;
            for (int64_t c = 0; c < count; ++c) {
                float dot = 0.0f;
                for (int64_t d = 0; d < j.head_dim_k; ++d)
                    dot += q[d] * element(j.keys, (block * j.head_dim_k + d) * j.block_size + offset + c, j.f16);
                float score = dot * j.scale;
                if (j.softcap > 0.0f) score = j.softcap * std::tanh(score / j.softcap);
                scores[i + c] = score;
            }
        });
        const float max_score = *std::max_element(scores, scores + n);
        float sum = 0.0f;
        for (int64_t i = 0; i < n; ++i) sum += scores[i] = std::exp(scores[i] - max_score);
        float* out = j.out + h * j.out_stride;
        std::fill(out, out + j.head_dim_v, 0.0f);
        for_each_slot_run(j, [&](int64_t i, int64_t slot, int64_t count) {
            for (int64_t c = 0; c < count; ++c) {
                const uint8_t* value = j.values + static_cast<size_t>(slot + c) * j.v_stride;
                const float w = scores[i + c] / sum;
                for (int64_t d = 0; d < j.head_dim_v; ++d) out[d] += w * element(value, d, j.f16);
            }
        });
    }
}

}  // namespace detail

void attend(Isa isa, const AttendJob& job) {
    switch (isa) {
        case Isa::Scalar: return detail::attend_scalar(job);
        case Isa::Avx2: return detail::attend_avx2(job);
        case Isa::Avx512: return detail::attend_avx512(job);
    }
}

}  // namespace rf::cpu
