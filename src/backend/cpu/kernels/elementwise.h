// Element-wise activations of the feed-forward block, in the kernels' ISA variants. Each element's
// value depends only on that element (a last partial vector goes through the same vector code,
// masked), so any split of a row over threads gives the same bits.
#pragma once

#include <cstdint>

#include "backend/cpu/kernels/isa.h"

namespace rf::cpu {

// out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i], for i < n.
void silu_mul(Isa isa, const float* gate, const float* up, float* out, int64_t n);

namespace detail {
void silu_mul_scalar(const float* gate, const float* up, float* out, int64_t n);
// Where the build has no x86 kernels this runs silu_mul_scalar.
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n);
}  // namespace detail

}  // namespace rf::cpu
