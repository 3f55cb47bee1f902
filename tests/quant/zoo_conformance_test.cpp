// Conformance against shared/quant/quant-zoo.gguf: for each type T in the zoo, `q.T` is an 8 x 1024
// tensor quantized from `src`, `deq.T` its reference dequantization and `y.T` = deq.T times `x`
// (accumulated in double). Our dequantizer must reproduce deq.T bit for bit, dot_row must match
// y.T, and where we have a quantizer its round-trip error on src may be at most 1.02 x that of q.T.
// F16, BF16 and Q8_0 round exactly as the reference does, so for them q.T itself is reproduced.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gguf/reader.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "support/shared_data.h"

namespace rf::quant {
namespace {

constexpr double kMaxRmseRatio = 1.02;
constexpr double kMaxDotRelativeError = 1e-6;

std::vector<float> read_f32(const gguf::TensorInfo& t) {
    std::vector<float> v(t.n_elements);
    std::memcpy(v.data(), t.data, t.n_bytes);
    return v;
}

// Distance in units in the last place between two floats (0 for identical bit patterns).
uint64_t ulp_distance(float a, float b) {
    auto ordered = [](float f) {
        const int64_t i = std::bit_cast<int32_t>(f);
        return i < 0 ? -(i & 0x7fffffff) : i;
    };
    const int64_t d = ordered(a) - ordered(b);
    return static_cast<uint64_t>(d < 0 ? -d : d);
}

double rms_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        sum += d * d;
    }
    return std::sqrt(sum / static_cast<double>(a.size()));
}

struct TypeReport {
    std::string name;
    size_t mismatches = 0;
    uint64_t max_ulp = 0;
    double dot_error = 0;                 // largest |ours - y| / sum |deq * x| over the rows
    bool has_quantizer = false;
    double our_rmse = 0, zoo_rmse = 0;
    bool same_bytes = false;              // our quantization of src is byte-identical to q.T
};

TEST(QuantZoo, EveryTypeMatchesTheReference) {
    RF_REQUIRE_SHARED();
    auto opened = gguf::File::open(rf::test::shared_path("quant/quant-zoo.gguf").string());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const gguf::File& zoo = opened.value();

    const gguf::TensorInfo* src_info = zoo.find_tensor("src");
    const gguf::TensorInfo* x_info = zoo.find_tensor("x");
    ASSERT_NE(src_info, nullptr);
    ASSERT_NE(x_info, nullptr);
    ASSERT_EQ(src_info->type, TensorType::F32);
    const std::vector<float> src = read_f32(*src_info);
    const std::vector<float> x = read_f32(*x_info);
    const size_t n_per_row = src_info->shape[0];
    const size_t n_rows = src_info->rows();
    ASSERT_EQ(x.size(), n_per_row);

    // The zoo must hold every type the format list names.
    const std::vector<std::string> expected = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                                               "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ1_S", "IQ1_M", "IQ2_XXS",
                                               "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_NL", "IQ4_XS", "TQ1_0",
                                               "TQ2_0", "MXFP4"};
    std::vector<std::string> found;

    std::vector<TypeReport> reports;
    for (const gguf::TensorInfo& q : zoo.tensors()) {
        if (q.name.rfind("q.", 0) != 0) continue;
        const std::string suffix = q.name.substr(2);
        const gguf::TensorInfo* deq_info = zoo.find_tensor("deq." + suffix);
        const gguf::TensorInfo* y_info = zoo.find_tensor("y." + suffix);
        ASSERT_NE(deq_info, nullptr) << suffix;
        ASSERT_NE(y_info, nullptr) << suffix;
        const std::vector<float> deq = read_f32(*deq_info);
        const std::vector<float> y = read_f32(*y_info);
        ASSERT_EQ(q.shape[0], n_per_row) << q.name;
        ASSERT_EQ(q.rows(), n_rows) << q.name;
        ASSERT_EQ(deq.size(), src.size()) << q.name;

        TypeReport report;
        report.name = std::string(tensor_type_name(q.type));
        found.push_back(report.name);
        SCOPED_TRACE(report.name);
        const size_t row_bytes = q.n_bytes / n_rows;
        std::vector<float> ours(src.size());
        for (size_t r = 0; r < n_rows; ++r) {
            const auto row = q.bytes().subspan(r * row_bytes, row_bytes);
            const std::span<float> out(ours.data() + r * n_per_row, n_per_row);
            ASSERT_TRUE(dequantize_row(q.type, row, out).ok());

            auto dot = dot_row(q.type, row, x);
            ASSERT_TRUE(dot.ok()) << dot.error().message;
            double magnitude = 0;
            for (size_t i = 0; i < n_per_row; ++i) magnitude += std::fabs(static_cast<double>(deq[r * n_per_row + i]) * x[i]);
            const double error = std::fabs(dot.value() - y[r]) / std::max(magnitude, 1e-30);
            report.dot_error = std::max(report.dot_error, error);
        }
        for (size_t i = 0; i < ours.size(); ++i) {
            if (std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(deq[i])) {
                ++report.mismatches;
                report.max_ulp = std::max(report.max_ulp, ulp_distance(ours[i], deq[i]));
            }
        }
        EXPECT_EQ(report.mismatches, 0u) << "values differing from deq." << suffix;
        EXPECT_LE(report.dot_error, kMaxDotRelativeError);

        report.zoo_rmse = rms_diff(deq, src);
        if (can_quantize(q.type)) {
            report.has_quantizer = true;
            std::vector<float> round_trip(src.size());
            std::vector<uint8_t> packed(q.n_bytes);
            for (size_t r = 0; r < n_rows; ++r) {
                const std::span<const float> in(src.data() + r * n_per_row, n_per_row);
                const std::span<uint8_t> row(packed.data() + r * row_bytes, row_bytes);
                const std::span<float> out(round_trip.data() + r * n_per_row, n_per_row);
                ASSERT_TRUE(quantize_row(q.type, in, row).ok());
                ASSERT_TRUE(dequantize_row(q.type, row, out).ok());
            }
            report.same_bytes = std::memcmp(packed.data(), q.data, q.n_bytes) == 0;
            if (q.type == TensorType::F16 || q.type == TensorType::BF16 || q.type == TensorType::Q8_0) {
                EXPECT_TRUE(report.same_bytes) << "quantizing src should reproduce q." << suffix << " exactly";
            }
            report.our_rmse = rms_diff(round_trip, src);
            EXPECT_LE(report.our_rmse, kMaxRmseRatio * report.zoo_rmse)
                << "round-trip RMSE " << report.our_rmse << " vs the zoo's " << report.zoo_rmse;
        }
        reports.push_back(report);
    }
    for (const std::string& name : expected) {
        EXPECT_NE(std::find(found.begin(), found.end(), name), found.end()) << name << " missing from the zoo";
    }

    std::string table = fmt::format("\n{:<8} {:>10} {:>8} {:>10} {:>12} {:>12} {:>7}  {}\n", "type", "mismatches",
                                    "max ulp", "dot err", "our rmse", "zoo rmse", "ratio", "same bytes as q.T");
    for (const TypeReport& r : reports) {
        table += fmt::format("{:<8} {:>10} {:>8} {:>10.1e} ", r.name, r.mismatches, r.max_ulp, r.dot_error);
        if (r.has_quantizer) {
            table += fmt::format("{:>12.6g} {:>12.6g} {:>7.4f}  {}\n", r.our_rmse, r.zoo_rmse, r.our_rmse / r.zoo_rmse,
                                 r.same_bytes ? "yes" : "no");
        } else {
            table += fmt::format("{:>12} {:>12.6g} {:>7}\n", "-", r.zoo_rmse, "-");
        }
    }
    std::fputs(table.c_str(), stdout);
}

}  // namespace
}  // namespace rf::quant
