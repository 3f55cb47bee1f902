// Every weight type with a kernel, every ISA variant this CPU runs, several shapes and thread
// counts: the product must match the reference dot products on the same rounded activations.
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels/matmul.h"
#include "kernels/reference_product.h"

namespace rf::cpu {
namespace {

const std::vector<TensorType> kKernelTypes = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,   TensorType::Q4_0,   TensorType::Q4_1,
    TensorType::Q5_0, TensorType::Q5_1, TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K,   TensorType::Q5_K,
    TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::MXFP4,
};

// Values with a spread of magnitudes and a few outliers, like real weights and activations.
std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng) * (uniform(rng) < 0.01f ? 8.0f : 1.0f);
    return v;
}

struct Matrix {
    std::vector<uint8_t> bytes;
    WeightMatrix view;
};

Matrix quantized_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
    Matrix m;
    const auto values = random_values(static_cast<size_t>(rows * cols), seed);
    const size_t row_bytes = quant::quantized_size(type, static_cast<size_t>(cols)).value();
    m.bytes.resize(row_bytes * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        const std::span<const float> src(values.data() + r * cols, static_cast<size_t>(cols));
        EXPECT_TRUE(quant::quantize_row(type, src, std::span(m.bytes.data() + r * row_bytes, row_bytes)).ok());
    }
    m.view = WeightMatrix{.type = type, .data = m.bytes.data(), .cols = cols, .rows = rows, .row_bytes = row_bytes};
    return m;
}

// Compares y (n_tokens x rows) with the reference; returns the number of mismatches.
int check_product(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens, const std::vector<float>& y) {
    int mismatches = 0;
    for (int64_t t = 0; t < n_tokens; ++t) {
        const auto xr = test::round_activations(w.type, std::span(x.data() + t * w.cols, static_cast<size_t>(w.cols)));
        for (int64_t r = 0; r < w.rows; ++r) {
            const auto e = test::expected_dot(w.type, std::span(w.row(r), w.row_bytes), xr);
            const double got = y[static_cast<size_t>(t * w.rows + r)];
            if (std::fabs(got - e.value) > e.tolerance && ++mismatches <= 3)
                ADD_FAILURE() << "token " << t << " row " << r << ": got " << got << ", expected " << e.value
                              << " +- " << e.tolerance;
        }
    }
    return mismatches;
}

struct Shape {
    int64_t rows, cols, tokens;
};

TEST(Matmul, EveryTypeEveryIsaMatchesTheReference) {
    // Token counts for every path: single-token, in-place few-token (up to 31) and tile products.
    const std::vector<Shape> shapes = {{1, 256, 1}, {7, 512, 3}, {33, 256, 17}, {5, 1024, 4}, {16, 256, 5}, {20, 256, 33}};
    ThreadPool one(1), two(2);
    uint32_t seed = 1;
    for (TensorType type : kKernelTypes) {
        for (const Shape& s : shapes) {
            const Matrix m = quantized_matrix(type, s.rows, s.cols, seed++);
            const auto x = random_values(static_cast<size_t>(s.cols * s.tokens), seed++);
            for (Isa isa : supported_isas()) {
                for (ThreadPool* pool : {&one, &two}) {
                    SCOPED_TRACE(fmt::format("{} {} {}x{} tokens {} threads {}", tensor_type_name(type), isa_name(isa),
                                             s.rows, s.cols, s.tokens, pool->size()));
                    std::vector<float> y(static_cast<size_t>(s.rows * s.tokens), -1.0f);
                    const auto status = matmul_with_isa(isa, m.view, x.data(), s.tokens, y.data(), *pool);
                    ASSERT_TRUE(status.ok()) << status.error().message;
                    EXPECT_EQ(check_product(m.view, x, s.tokens, y), 0);
                }
            }
        }
    }
}

// Shapes the 256-blocks cannot have: short legacy rows, and float rows whose length is not a
// multiple of the SIMD width (the kernels' tails).
TEST(Matmul, OddLengthsAndRowCounts) {
    ThreadPool pool(2);
    const std::vector<std::pair<TensorType, int64_t>> cases = {
        {TensorType::F32, 37}, {TensorType::F16, 45}, {TensorType::BF16, 3}, {TensorType::Q4_0, 96},
        {TensorType::Q8_0, 32}, {TensorType::Q5_1, 160}, {TensorType::MXFP4, 64}};
    uint32_t seed = 1000;
    for (const auto& [type, cols] : cases) {
        for (int64_t rows : {1, 3, 19}) {
            for (int64_t tokens : {1, 3, 17}) {
                const Matrix m = quantized_matrix(type, rows, cols, seed++);
                const auto x = random_values(static_cast<size_t>(cols * tokens), seed++);
                for (Isa isa : supported_isas()) {
                    SCOPED_TRACE(fmt::format("{} {} {}x{} tokens {}", tensor_type_name(type), isa_name(isa), rows, cols, tokens));
                    std::vector<float> y(static_cast<size_t>(rows * tokens));
                    ASSERT_TRUE(matmul_with_isa(isa, m.view, x.data(), tokens, y.data(), pool).ok());
                    EXPECT_EQ(check_product(m.view, x, tokens, y), 0);
                }
            }
        }
    }
}

// Types without a kernel go through dequantization and f32 dots: still the right answer.
TEST(Matmul, TypesWithoutKernelUseTheGenericPath) {
    ThreadPool pool(2);
    for (TensorType type : {TensorType::TQ2_0, TensorType::TQ1_0}) {
        ASSERT_FALSE(has_fast_kernel(type));
        const Matrix m = quantized_matrix(type, 5, 256, 77);
        const auto x = random_values(256 * 3, 78);
        std::vector<float> y(15);
        ASSERT_TRUE(matmul(m.view, x.data(), 3, y.data(), pool).ok());
        EXPECT_EQ(check_product(m.view, x, 3, y), 0) << tensor_type_name(type);
    }
}

TEST(Matmul, BadInputsAreErrorsNotCrashes) {
    ThreadPool pool(1);
    const Matrix m = quantized_matrix(TensorType::Q4_0, 2, 64, 5);
    std::vector<float> x(64 * 2, 1.0f), y(4);
    WeightMatrix wrong_bytes = m.view;
    wrong_bytes.row_bytes += 1;
    EXPECT_FALSE(matmul(wrong_bytes, x.data(), 1, y.data(), pool).ok());
    WeightMatrix partial_block = m.view;
    partial_block.cols = 48;
    EXPECT_FALSE(matmul(partial_block, x.data(), 1, y.data(), pool).ok());
    EXPECT_FALSE(matmul(m.view, x.data(), -1, y.data(), pool).ok());
    EXPECT_FALSE(matmul(m.view, nullptr, 1, y.data(), pool).ok());
    x[3] = std::nanf("");
    EXPECT_FALSE(matmul(m.view, x.data(), 2, y.data(), pool).ok());
    ThreadPool two(2);  // one token's row is split over the threads: still an error, for that token
    const Status split = matmul(m.view, x.data(), 1, y.data(), two);
    ASSERT_FALSE(split.ok());
    EXPECT_NE(split.error().message.find("token 0"), std::string::npos) << split.error().message;
    EXPECT_TRUE(matmul(m.view, x.data(), 0, y.data(), pool).ok());
}

}  // namespace
}  // namespace rf::cpu
