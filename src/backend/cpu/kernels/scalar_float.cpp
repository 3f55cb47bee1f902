// Scalar kernels for float weights (F32, F16, BF16) against f32 activations.
#include <cstring>

#include "backend/cpu/kernels/scalar_kernels.h"
#include "quant/float_convert.h"

namespace rf::cpu::detail {
namespace {

float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
float load_f16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return rf::quant::fp16_to_f32(v);
}
float load_bf16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return rf::quant::bf16_to_f32(v);
}

template <int kBytes, float (*kLoad)(const uint8_t*)>
void dot_float(int64_t cols, const uint8_t* w, const uint8_t* act, size_t act_stride, int n_tok, float* out,
               size_t out_stride) {
    float sums[kMaxTileTokens] = {};
    for (int64_t c = 0; c < cols; ++c) {
        const float wv = kLoad(w + c * kBytes);
        for (int t = 0; t < n_tok; ++t) sums[t] += wv * load_f32(act + t * act_stride + c * 4);
    }
    for (int t = 0; t < n_tok; ++t) out[t * out_stride] = sums[t];
}

}  // namespace

RowDotFn scalar_float_kernel(TensorType type) {
    switch (type) {
        case TensorType::F32: return dot_float<4, load_f32>;
        case TensorType::F16: return dot_float<2, load_f16>;
        case TensorType::BF16: return dot_float<2, load_bf16>;
        default: return nullptr;
    }
}

}  // namespace rf::cpu::detail
