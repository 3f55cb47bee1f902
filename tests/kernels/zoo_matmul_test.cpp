// Conformance against shared/quant/quant-zoo.gguf: each q.T (8 x 1024, quantized by an independent
// implementation) times x, by every ISA variant. Two checks per output:
//  - against y.T (deq.T times the f32 x, in double), within the error that rounding x to 8 bits
//    can cause: sum |w_i| * |x_i - rounded x_i|, plus float rounding;
//  - against the reference dot product on the same rounded activations, tightly.
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels/matmul.h"
#include "gguf/reader.h"
#include "kernels/reference_product.h"
#include "support/shared_data.h"

namespace rf::cpu {
namespace {

std::vector<float> read_f32(const gguf::TensorInfo& t) {
    std::vector<float> v(t.n_elements);
    std::memcpy(v.data(), t.data, t.n_bytes);
    return v;
}

TEST(ZooMatmul, EveryKernelTypeMatchesTheReferenceProducts) {
    RF_REQUIRE_SHARED();
    auto opened = gguf::File::open(rf::test::shared_path("quant/quant-zoo.gguf").string());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const gguf::File& zoo = opened.value();
    const gguf::TensorInfo* x_info = zoo.find_tensor("x");
    ASSERT_NE(x_info, nullptr);
    const std::vector<float> x = read_f32(*x_info);

    ThreadPool pool(2);
    int types_checked = 0;
    for (const gguf::TensorInfo& q : zoo.tensors()) {
        if (q.name.rfind("q.", 0) != 0 || !has_fast_kernel(q.type)) continue;
        const std::string suffix = q.name.substr(2);
        const gguf::TensorInfo* deq_info = zoo.find_tensor("deq." + suffix);
        const gguf::TensorInfo* y_info = zoo.find_tensor("y." + suffix);
        ASSERT_TRUE(deq_info && y_info) << suffix;
        const std::vector<float> deq = read_f32(*deq_info);
        const std::vector<float> y_ref = read_f32(*y_info);
        const int64_t cols = static_cast<int64_t>(q.shape[0]), rows = static_cast<int64_t>(q.rows());
        ASSERT_EQ(static_cast<int64_t>(x.size()), cols);
        const WeightMatrix w{.type = q.type,
                             .data = q.data,
                             .cols = cols,
                             .rows = rows,
                             .row_bytes = static_cast<size_t>(q.n_bytes / q.rows())};
        const auto rounded = test::round_activations(q.type, x);
        ++types_checked;

        for (Isa isa : supported_isas()) {
            SCOPED_TRACE(fmt::format("{} {}", suffix, isa_name(isa)));
            std::vector<float> y(static_cast<size_t>(rows));
            const auto status = matmul_with_isa(isa, w, x.data(), 1, y.data(), pool);
            ASSERT_TRUE(status.ok()) << status.error().message;
            for (int64_t r = 0; r < rows; ++r) {
                const auto e = test::expected_dot(q.type, std::span(w.row(r), w.row_bytes), rounded);
                EXPECT_NEAR(y[r], e.value, e.tolerance) << "row " << r << " vs rounded-activation reference";
                double rounding_bound = e.tolerance;
                for (int64_t c = 0; c < cols; ++c)
                    rounding_bound += std::fabs(static_cast<double>(deq[r * cols + c])) *
                                      std::fabs(static_cast<double>(x[c]) - rounded.values[c]);
                EXPECT_NEAR(y[r], y_ref[r], rounding_bound) << "row " << r << " vs y." << suffix;
            }
        }
    }
    EXPECT_EQ(types_checked, 15) << "F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4";
}

}  // namespace
}  // namespace rf::cpu
