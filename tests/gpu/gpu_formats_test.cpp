// The GPU kernels' per-block decoders (backend/cuda/block_decode.h) and activation rounding
// (backend/cuda/act_rounding.h), compiled as host C++ and checked bit for bit: the decoders against
// the quant zoo of ../shared (deq.T for every block of q.T), the rounding against
// quant::quantize_row followed by quant::dequantize_row.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/act_rounding.h"
#include "backend/cuda/block_decode.h"
#include "backend/cuda/block_dot.h"
#include "gguf/reader.h"
#include "gguf/tensor_type.h"
#include "quant/dequantize.h"
#include "quant/iq_tables.h"
#include "quant/quantize.h"
#include "support/shared_data.h"

namespace rf::gpu {
namespace {

template <TensorType T>
using Format = std::integral_constant<TensorType, T>;

using DecodedFormats =
    ::testing::Types<Format<TensorType::F32>, Format<TensorType::F16>, Format<TensorType::BF16>,
                     Format<TensorType::Q4_0>, Format<TensorType::Q4_1>, Format<TensorType::Q5_0>,
                     Format<TensorType::Q5_1>, Format<TensorType::Q8_0>, Format<TensorType::Q2_K>,
                     Format<TensorType::Q3_K>, Format<TensorType::Q4_K>, Format<TensorType::Q5_K>,
                     Format<TensorType::Q6_K>, Format<TensorType::IQ4_NL>, Format<TensorType::IQ4_XS>,
                     Format<TensorType::MXFP4>>;

struct FormatName {
    template <typename F>
    static std::string GetName(int) {
        return std::string(tensor_type_name(F::value));
    }
};

template <typename F>
class BlockDecode : public ::testing::Test {};
TYPED_TEST_SUITE(BlockDecode, DecodedFormats, FormatName);

// The zoo's blocks of format T and their reference dequantization. Zoo tensors are named after
// ggml's spelling of the type (q.q4_K), so q.* is looked up by type; F32 is the source itself.
std::pair<const gguf::TensorInfo*, const gguf::TensorInfo*> zoo_tensors(const gguf::File& zoo, TensorType T) {
    const gguf::TensorInfo* q = T == TensorType::F32 ? zoo.find_tensor("src") : nullptr;
    const gguf::TensorInfo* deq = q;
    for (const gguf::TensorInfo& t : zoo.tensors()) {
        if (T != TensorType::F32 && t.type == T && t.name.rfind("q.", 0) == 0) {
            q = &t;
            deq = zoo.find_tensor("deq." + t.name.substr(2));
        }
    }
    return {q, deq};
}

TYPED_TEST(BlockDecode, TraitsMatchTheTypeTable) {
    constexpr TensorType T = TypeParam::value;
    using Traits = BlockTraits<T>;
    const TensorTypeInfo& info = tensor_type_info(T);
    static_assert(Traits::kValues % 32 == 0);
    ASSERT_EQ(Traits::kValues % info.block_size, 0u);
    if (info.quantized) {
        EXPECT_EQ(static_cast<uint32_t>(Traits::kValues), info.block_size);
        EXPECT_EQ(static_cast<uint32_t>(Traits::kBytes), info.block_bytes);
    } else {  // plain types: 32 values per "block"
        EXPECT_EQ(info.block_size, 1u);
        EXPECT_EQ(static_cast<uint32_t>(Traits::kBytes), Traits::kValues * info.block_bytes);
    }
}

// Every block of q.T (for F32: of src), every unit, against deq.T (for F32: src itself).
TYPED_TEST(BlockDecode, EveryZooBlockMatchesTheReference) {
    RF_REQUIRE_SHARED();
    constexpr TensorType T = TypeParam::value;
    using Traits = BlockTraits<T>;
    const std::string name(tensor_type_name(T));
    auto opened = gguf::File::open(rf::test::shared_path("quant/quant-zoo.gguf").string());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const gguf::File& zoo = opened.value();

    const auto [q, deq] = zoo_tensors(zoo, T);
    ASSERT_NE(q, nullptr) << "zoo lacks the quantized tensor of " << name;
    ASSERT_NE(deq, nullptr) << "zoo lacks the reference dequantization of " << name;
    ASSERT_EQ(q->type, T);
    ASSERT_EQ(deq->type, TensorType::F32);
    ASSERT_EQ(q->n_elements, deq->n_elements);
    ASSERT_EQ(q->n_elements % Traits::kValues, 0u);
    const uint64_t n_blocks = q->n_elements / Traits::kValues;
    ASSERT_EQ(q->n_bytes, n_blocks * Traits::kBytes);

    std::vector<uint32_t> expected(deq->n_elements);
    std::memcpy(expected.data(), deq->data, deq->n_bytes);

    uint64_t mismatches = 0;
    for (uint64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* block = q->data + b * Traits::kBytes;
        for (int unit = 0; unit < Traits::kValues / 32; ++unit) {
            float out[32];
            decode_unit<T>(block, unit, out);
            for (int j = 0; j < 32; ++j) {
                const uint64_t i = b * Traits::kValues + 32 * unit + j;
                const uint32_t got = std::bit_cast<uint32_t>(out[j]);
                if (got != expected[i] && ++mismatches <= 5) {
                    ADD_FAILURE() << name << " block " << b << " unit " << unit << " value " << j << ": got "
                                  << out[j] << " (0x" << std::hex << got << "), reference "
                                  << std::bit_cast<float>(expected[i]) << " (0x" << expected[i] << std::dec << ")";
                }
            }
        }
    }
    EXPECT_EQ(mismatches, 0u) << name << ": values differing from deq." << name;
}

TEST(BlockDecode, CodebooksMatchTheReferenceTables) {
    for (uint32_t i = 0; i < 16; ++i) {
        EXPECT_EQ(iq4nl_level(i), quant::kValuesIq4nl[i]) << i;
        EXPECT_EQ(mxfp4_level(i), quant::kValuesMxfp4[i]) << i;
    }
}

// ---- activation rounding -------------------------------------------------------------------------

TEST(ActRounding, FollowsTheCpuReference) {
    EXPECT_EQ(act_rounding_for(TensorType::F32), ActRounding::None);
    EXPECT_EQ(act_rounding_for(TensorType::F16), ActRounding::F16);
    EXPECT_EQ(act_rounding_for(TensorType::BF16), ActRounding::BF16);
    for (TensorType t : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::IQ4_NL, TensorType::MXFP4})
        EXPECT_EQ(act_rounding_for(t), ActRounding::Q8_0) << tensor_type_name(t);
    for (TensorType t : {TensorType::Q4_1, TensorType::Q5_1})
        EXPECT_EQ(act_rounding_for(t), ActRounding::Q8_1) << tensor_type_name(t);
    for (TensorType t : {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                         TensorType::IQ4_XS, TensorType::IQ2_XXS, TensorType::TQ2_0})
        EXPECT_EQ(act_rounding_for(t), ActRounding::Q8_K) << tensor_type_name(t);
    static_assert(act_rounding_for(TensorType::Q4_K) == ActRounding::Q8_K);
}

// Rows of 256 (a Q8_K block, eight Q8_0 blocks) from a fixed seed: uniform and normal values at
// magnitudes from 1e-38 (where 1 / d overflows) to 1e7 (where a Q8_0 scale overflows F16), blocks
// with one outlier, an all-zero block among non-zero ones, exact halves (rounding ties) and negative
// maxima.
std::vector<float> activation_inputs() {
    std::mt19937 rng(20240611);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x;
    const float magnitudes[] = {1e-38f, 1e-30f, 1e-7f, 1e-3f, 0.5f, 1.0f, 37.0f, 3000.0f, 1e5f, 1e7f, 1e20f};
    for (const float m : magnitudes) {
        for (int row = 0; row < 6; ++row) {
            const size_t start = x.size();
            for (int j = 0; j < 256; ++j) x.push_back(m * (row % 2 ? normal(rng) : uniform(rng)));
            if (row == 2) x[start + rng() % 256] *= 1000.0f;                         // positive or negative outlier
            if (row == 3) x[start + rng() % 256] = -m * 64.0f;                       // negative maximum
            if (row == 4) std::fill(x.begin() + start + 64, x.begin() + start + 96, 0.0f);  // one zero Q8_0 block
            if (row == 5) x[start + 7] = 0.0f;
        }
    }
    // Ties: multiples of 0.5 with max |x| = 127, so that d = 1 (Q8_0) and -127 / max = -1 (Q8_K).
    for (int j = 0; j < 256; ++j) x.push_back(j == 0 ? 127.0f : 0.5f * static_cast<float>(static_cast<int>(rng() % 253) - 126));
    for (int j = 0; j < 256; ++j) x.push_back(j == 9 ? -127.0f : 0.5f * static_cast<float>(static_cast<int>(rng() % 253) - 126));
    // Mixed magnitudes within one row.
    for (int j = 0; j < 256; ++j) x.push_back(uniform(rng) * std::pow(10.0f, static_cast<float>(static_cast<int>(rng() % 20) - 10)));
    return x;
}

std::vector<float> reference_round(TensorType format, const std::vector<float>& x) {
    auto bytes = quant::quantized_size(format, x.size());
    EXPECT_TRUE(bytes.ok());
    std::vector<uint8_t> q(bytes.value());
    std::vector<float> out(x.size());
    const Status quantized = quant::quantize_row(format, x, q);
    EXPECT_TRUE(quantized.ok()) << quantized.error().message;
    const Status dequantized = quant::dequantize_row(format, q, out);
    EXPECT_TRUE(dequantized.ok()) << dequantized.error().message;
    return out;
}

void expect_same_bits(const std::vector<float>& x, const std::vector<float>& expected, const std::vector<float>& got,
                      const char* what) {
    ASSERT_EQ(expected.size(), got.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(expected[i]) && ++mismatches <= 5) {
            ADD_FAILURE() << what << " value " << i << " (input " << x[i] << "): got " << got[i] << " (0x"
                          << std::hex << std::bit_cast<uint32_t>(got[i]) << "), reference " << expected[i] << " (0x"
                          << std::bit_cast<uint32_t>(expected[i]) << std::dec << ")";
        }
    }
    EXPECT_EQ(mismatches, 0u) << what;
}

TEST(ActRounding, Q8BlocksMatchQuantizeDequantize) {
    const std::vector<float> x = activation_inputs();
    ASSERT_EQ(x.size() % 256, 0u);
    std::vector<float> got(x.size());

    for (size_t b = 0; b < x.size(); b += 32) round_act_block_q8_0(x.data() + b, got.data() + b);
    expect_same_bits(x, reference_round(TensorType::Q8_0, x), got, "Q8_0");

    for (size_t b = 0; b < x.size(); b += 32) round_act_block_q8_1(x.data() + b, got.data() + b);
    expect_same_bits(x, reference_round(TensorType::Q8_1, x), got, "Q8_1");

    for (size_t b = 0; b < x.size(); b += 256) round_act_block_q8_k(x.data() + b, got.data() + b);
    expect_same_bits(x, reference_round(TensorType::Q8_K, x), got, "Q8_K");

    // A whole row of zeros, too.
    const std::vector<float> zeros(256, 0.0f);
    std::vector<float> got_zeros(256, 1.0f);
    for (size_t b = 0; b < 256; b += 32) round_act_block_q8_0(zeros.data() + b, got_zeros.data() + b);
    expect_same_bits(zeros, reference_round(TensorType::Q8_0, zeros), got_zeros, "Q8_0 zeros");
    round_act_block_q8_k(zeros.data(), got_zeros.data());
    expect_same_bits(zeros, reference_round(TensorType::Q8_K, zeros), got_zeros, "Q8_K zeros");
}

TEST(ActRounding, F16AndBf16MatchQuantizeDequantize) {
    std::vector<float> x = activation_inputs();
    const float inf = std::numeric_limits<float>::infinity();
    for (const float v : {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), -std::nanf("5"),
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::denorm_min(),
                          65504.0f, 65519.99f, 65520.0f, -65536.0f, 0x1p-14f, 0x1p-24f, 0x1p-25f, 0x1.000002p-25f,
                          0x1.8p-24f, 0x1.4p-23f, 0x1.ffep-15f, 1.0009765625f, 1.00048828125f, 1.00146484375f,
                          0x1.0080p0f, 0x1.0180p0f, 0x1.ff8p127f})
        x.push_back(v);
    std::mt19937 rng(7);
    for (int i = 0; i < 100000; ++i) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));  // any bits

    std::vector<float> got(x.size());
    for (size_t i = 0; i < x.size(); ++i) got[i] = round_act_f16(x[i]);
    expect_same_bits(x, reference_round(TensorType::F16, x), got, "F16");
    for (size_t i = 0; i < x.size(); ++i) got[i] = round_act_bf16(x[i]);
    expect_same_bits(x, reference_round(TensorType::BF16, x), got, "BF16");
}


// ---- dot products with quantized activations (block_dot.h) ---------------------------------------

using DotFormats = ::testing::Types<Format<TensorType::F16>, Format<TensorType::BF16>, Format<TensorType::Q4_0>,
                                    Format<TensorType::Q8_0>, Format<TensorType::Q4_K>, Format<TensorType::Q6_K>>;
template <typename F>
class BlockDotTest : public ::testing::Test {};
TYPED_TEST_SUITE(BlockDotTest, DotFormats, FormatName);

// Every zoo block of the format against activations quantized as the GPU quantizes them: the sum of
// the slices' dot products equals sum_i decode(w)_i * xd * x_i (computed in double from the
// bit-exact decoders) up to f32 rounding of the partial sums.
TYPED_TEST(BlockDotTest, SlicesSumToTheDecodedProduct) {
    RF_REQUIRE_SHARED();
    constexpr TensorType T = TypeParam::value;
    using Dot = BlockDot<T>;
    constexpr bool kPlain = T == TensorType::F16 || T == TensorType::BF16;
    auto opened = gguf::File::open(rf::test::shared_path("quant/quant-zoo.gguf").string());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const auto [q, deq] = zoo_tensors(opened.value(), T);
    ASSERT_NE(q, nullptr) << tensor_type_name(T);
    // (A 16-bit "block" is 8 values here and 32 to the decoder: the last three are left out.)
    ASSERT_GT(q->n_bytes / Dot::kBytes, kPlain ? 3u : 0u);
    const uint64_t n_blocks = q->n_bytes / Dot::kBytes - (kPlain ? 3 : 0);

    std::mt19937 rng(99);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const std::vector<float> x = [&] {
        std::vector<float> v(Dot::kValues);
        for (float& f : v) f = normal(rng) * (rng() % 8 == 0 ? 30.0f : 1.0f);
        return v;
    }();
    // The activations as the product kernel receives them, and their values.
    std::vector<int8_t> levels(Dot::kValues);
    std::vector<uint16_t> halves(Dot::kValues);
    std::vector<double> x_value(Dot::kValues);
    float xd = 1.0f;
    if constexpr (kPlain) {
        for (int i = 0; i < Dot::kValues; ++i) {
            halves[i] = static_cast<uint16_t>(T == TensorType::F16 ? float_to_half_bits(x[i]) : float_to_bf16_bits(x[i]));
            x_value[i] = T == TensorType::F16 ? half_to_float(halves[i]) : bf16_to_float(halves[i]);
        }
    } else {
        xd = Dot::kValues == 256 ? quantize_act_block_q8_k(x.data(), levels.data())
                                 : quantize_act_block_q8_0(x.data(), levels.data());
        for (int i = 0; i < Dot::kValues; ++i) x_value[i] = static_cast<double>(xd) * levels[i];
    }

    for (uint64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* block = q->data + b * Dot::kBytes;
        // The decoded block (units of 32 values; the 16-bit formats' 8 values are 1/4 of a unit).
        std::vector<float> w(std::max(Dot::kValues, 32));
        for (int unit = 0; unit < std::max(Dot::kValues / 32, 1); ++unit) {
            float out[32];
            decode_unit<T>(block, unit, out);
            std::copy(out, out + 32, w.begin() + 32 * unit);
        }
        double expected = 0.0, magnitude = 0.0;
        for (int i = 0; i < Dot::kValues; ++i) {
            expected += static_cast<double>(w[i]) * x_value[i];
            magnitude += std::abs(static_cast<double>(w[i]) * x_value[i]);
        }
        float got = 0.0f;
        for (int s = 0; s < Dot::kSlices; ++s) {
            const auto slice = Dot::load(block, s);
            if constexpr (kPlain) got += Dot::dot(slice, halves.data(), 1.0f, s);
            else got += Dot::dot(slice, levels.data(), xd, s);
        }
        ASSERT_NEAR(got, expected, 1e-5 * magnitude + 1e-30) << tensor_type_name(T) << " block " << b;
    }
}

}  // namespace
}  // namespace rf::gpu
