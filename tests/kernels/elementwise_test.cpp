// The element-wise activations in every ISA variant against the formula, and the same bits for an
// element whichever part of a row it is computed in.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/kernels/elementwise.h"

namespace rf::cpu {
namespace {

TEST(Elementwise, SiluMulMatchesTheFormulaInEveryVariant) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    const int64_t n = 1000 + 5;  // a partial last vector
    std::vector<float> gate(n), up(n);
    for (int64_t i = 0; i < n; ++i) {
        gate[i] = normal(rng);
        up[i] = normal(rng);
    }
    gate[0] = -100.0f;  // exp overflows: silu is -0
    gate[1] = 100.0f;
    for (Isa isa : supported_isas()) {
        std::vector<float> whole(n), parts(n);
        silu_mul(isa, gate.data(), up.data(), whole.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const double g = gate[i], expected = g / (1.0 + std::exp(-g)) * up[i];
            ASSERT_NEAR(whole[i], expected, 1e-6 * (1.0 + std::fabs(expected))) << isa_name(isa) << " element " << i;
        }
        for (int64_t first = 0; first < n; first += 333)  // parts not aligned to vectors
            silu_mul(isa, gate.data() + first, up.data() + first, parts.data() + first, std::min<int64_t>(333, n - first));
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(whole[i], parts[i]) << isa_name(isa) << " element " << i;
    }
}

}  // namespace
}  // namespace rf::cpu
