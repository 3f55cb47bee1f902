// The portable element-wise activations, and the choice of variant.
#include <cmath>

#include "backend/cpu/kernels/elementwise.h"

namespace rf::cpu {

namespace detail {
void silu_mul_scalar(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}
}  // namespace detail

void silu_mul(Isa isa, const float* gate, const float* up, float* out, int64_t n) {
    if (isa == Isa::Scalar)
        detail::silu_mul_scalar(gate, up, out, n);
    else
        detail::silu_mul_avx2(gate, up, out, n);  // the AVX-512 variant has nothing wider to add
}

}  // namespace rf::cpu
