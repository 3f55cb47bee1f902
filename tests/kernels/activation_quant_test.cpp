// The vector activation quantizers must produce exactly the bytes of the reference rounding: the
// kernels' results (and batch invariance) depend on every level being the same.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels/activations.h"
#include "backend/cpu/kernels/isa.h"
#include "backend/cpu/kernels/row_kernels.h"

namespace rf::cpu::detail {
namespace {

// Rows that probe the rounding: normal values, exact halves of the level step, a single large
// outlier, ties in magnitude with both signs, all zeros, tiny values and values near F16 overflow.
std::vector<std::vector<float>> probe_rows(int64_t cols) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<std::vector<float>> rows;
    auto row = [&](auto fn) {
        std::vector<float> r(static_cast<size_t>(cols));
        for (int64_t i = 0; i < cols; ++i) r[static_cast<size_t>(i)] = fn(i);
        rows.push_back(std::move(r));
    };
    for (int k = 0; k < 20; ++k) row([&](int64_t) { return normal(rng) * std::pow(10.0f, static_cast<float>(k % 7 - 3)); });
    row([&](int64_t i) { return i % 32 == 0 ? 127.0f : static_cast<float>(i % 9) - 4.5f; });  // exact .5 levels
    row([&](int64_t i) { return i % 5 == 0 ? -3.0f : (i % 7 == 0 ? 3.0f : 0.25f * static_cast<float>(i % 13)); });
    row([&](int64_t i) { return i == 3 ? 1e4f : normal(rng); });
    row([&](int64_t) { return 0.0f; });
    row([&](int64_t) { return normal(rng) * 1e-30f; });
    row([&](int64_t i) { return (i % 2 ? 1.0f : -1.0f) * 1e7f; });
    row([&](int64_t) { return normal(rng) * 1e5f; });
    return rows;
}

TEST(ActivationQuantizers, VectorBytesEqualTheReference) {
    if (!isa_supported(Isa::Avx2)) GTEST_FAIL() << "this test needs an AVX2 CPU (every x86-64 CI machine has one)";
    for (ActFormat format : {ActFormat::Q8_0, ActFormat::Q8_1, ActFormat::Q8_K}) {
        const ActQuantFn fast = avx2_act_quantizer(format);
        ASSERT_NE(fast, nullptr);
        for (int64_t cols : {256, 2048}) {
            for (const auto& x : probe_rows(cols)) {
                SCOPED_TRACE(fmt::format("format {} cols {} first value {}", static_cast<int>(format), cols, x[0]));
                const size_t bytes = activation_row_bytes(format, cols);
                std::vector<uint8_t> expected(bytes), got(bytes, 0xAB);
                ASSERT_TRUE(quantize_activations_reference(format, x, expected.data()).ok());
                ASSERT_TRUE(fast(x.data(), cols, got.data()));
                size_t first_difference = bytes;
                for (size_t i = 0; i < bytes && first_difference == bytes; ++i)
                    if (expected[i] != got[i]) first_difference = i;
                EXPECT_EQ(first_difference, bytes) << "first differing byte";
            }
        }
    }
}

TEST(ActivationQuantizers, NonFiniteValuesAreRefused) {
    if (!isa_supported(Isa::Avx2)) GTEST_FAIL() << "this test needs an AVX2 CPU";
    std::vector<float> x(256, 1.0f), out(300);
    for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
        x[77] = bad;
        for (ActFormat format : {ActFormat::Q8_0, ActFormat::Q8_1, ActFormat::Q8_K})
            EXPECT_FALSE(avx2_act_quantizer(format)(x.data(), 256, reinterpret_cast<uint8_t*>(out.data())));
    }
}

}  // namespace
}  // namespace rf::cpu::detail
