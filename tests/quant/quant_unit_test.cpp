// Self-contained tests of rf_quant (no shared data needed): block layouts against the type table,
// codebook sanity, every quantizer's round trip on random data, exact cases, size errors.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "quant/block_formats.h"
#include "quant/dequantize.h"
#include "quant/float_convert.h"
#include "quant/iq_tables.h"
#include "quant/quantize.h"

namespace rf::quant {
namespace {

const std::vector<TensorType> kQuantizable = {
    TensorType::F32,  TensorType::F64,  TensorType::F16,    TensorType::BF16,   TensorType::Q4_0,
    TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,   TensorType::Q8_0,   TensorType::Q8_1,
    TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,   TensorType::Q5_K,   TensorType::Q6_K,
    TensorType::Q8_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::TQ1_0, TensorType::TQ2_0,
    TensorType::MXFP4,
};

std::string name_of(TensorType t) { return std::string(tensor_type_name(t)); }

// n values ~ N(0, 1), every 97th scaled by 8 (outliers, as in real weights).
std::vector<float> gaussian(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * normal(rng) * (i % 97 == 13 ? 8.0f : 1.0f);
    return v;
}

std::vector<float> round_trip(TensorType type, const std::vector<float>& x) {
    auto size = quantized_size(type, x.size());
    EXPECT_TRUE(size.ok());
    std::vector<uint8_t> packed(size.ok() ? size.value() : 0);
    auto q = quantize_row(type, x, packed);
    EXPECT_TRUE(q.ok()) << name_of(type) << ": " << (q.ok() ? "" : q.error().message);
    std::vector<float> out(x.size());
    auto d = dequantize_row(type, packed, out);
    EXPECT_TRUE(d.ok()) << name_of(type) << ": " << (d.ok() ? "" : d.error().message);
    return out;
}

double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        err += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
        ref += static_cast<double>(x[i]) * x[i];
    }
    return std::sqrt(err / ref);
}

// ---- type table and layouts ----------------------------------------------------------------------

template <TensorType T>
void expect_layout(uint32_t block_size) {
    const TensorTypeInfo& info = tensor_type_info(T);
    EXPECT_EQ(sizeof(typename BlockOf<T>::type), info.block_bytes) << info.name;
    EXPECT_EQ(info.block_size, block_size) << info.name;
    EXPECT_TRUE(info.quantized) << info.name;
}

TEST(QuantTypes, BlockStructsMatchTheTypeTable) {
    expect_layout<TensorType::Q4_0>(32);
    expect_layout<TensorType::Q4_1>(32);
    expect_layout<TensorType::Q5_0>(32);
    expect_layout<TensorType::Q5_1>(32);
    expect_layout<TensorType::Q8_0>(32);
    expect_layout<TensorType::Q8_1>(32);
    expect_layout<TensorType::Q2_K>(256);
    expect_layout<TensorType::Q3_K>(256);
    expect_layout<TensorType::Q4_K>(256);
    expect_layout<TensorType::Q5_K>(256);
    expect_layout<TensorType::Q6_K>(256);
    expect_layout<TensorType::Q8_K>(256);
    expect_layout<TensorType::IQ2_XXS>(256);
    expect_layout<TensorType::IQ2_XS>(256);
    expect_layout<TensorType::IQ2_S>(256);
    expect_layout<TensorType::IQ3_XXS>(256);
    expect_layout<TensorType::IQ3_S>(256);
    expect_layout<TensorType::IQ1_S>(256);
    expect_layout<TensorType::IQ1_M>(256);
    expect_layout<TensorType::IQ4_NL>(32);
    expect_layout<TensorType::IQ4_XS>(256);
    expect_layout<TensorType::TQ1_0>(256);
    expect_layout<TensorType::TQ2_0>(256);
    expect_layout<TensorType::MXFP4>(32);
}

TEST(QuantTypes, EveryTypeDequantizesAndTheQuantizerListIsAsDocumented) {
    for (const TensorTypeInfo& info : all_tensor_types()) {
        EXPECT_TRUE(can_dequantize(info.type)) << info.name;
        const bool listed = std::find(kQuantizable.begin(), kQuantizable.end(), info.type) != kQuantizable.end();
        EXPECT_EQ(can_quantize(info.type), listed) << info.name;
    }
    EXPECT_FALSE(can_dequantize(static_cast<TensorType>(4)));  // a retired id
}

TEST(QuantTypes, QuantizedSizeFollowsTheTypeTable) {
    for (const TensorTypeInfo& info : all_tensor_types()) {
        auto size = quantized_size(info.type, 4 * 256);
        ASSERT_TRUE(size.ok()) << info.name;
        EXPECT_EQ(size.value(), 4 * 256 / info.block_size * info.block_bytes) << info.name;
        if (info.block_size > 1) {
            EXPECT_FALSE(quantized_size(info.type, info.block_size + 1).ok()) << info.name;
        }
    }
    EXPECT_FALSE(quantized_size(TensorType::Q8_0, SIZE_MAX - 31).ok());  // overflows
}

// ---- codebooks -----------------------------------------------------------------------------------

// Each grid point packed as base-`radix` digits of its coordinates' level indices, coordinate 0
// least significant: ggml's grids are sorted by this code.
template <typename Point, size_t N>
void expect_sorted_grid(const std::array<Point, N>& grid, int coords, const std::vector<int>& levels, const char* name) {
    int64_t previous = -1;
    for (size_t k = 0; k < N; ++k) {
        int64_t code = 0;
        for (int j = coords - 1; j >= 0; --j) {
            const int byte = static_cast<int8_t>(grid[k] >> (8 * j));
            const auto it = std::find(levels.begin(), levels.end(), byte);
            ASSERT_NE(it, levels.end()) << name << " entry " << k << " coordinate " << j << " = " << byte;
            code = code * 8 + (it - levels.begin());
        }
        ASSERT_GT(code, previous) << name << " entry " << k;
        previous = code;
    }
}

TEST(IqTables, GridsUseTheirLevelsAndAreSorted) {
    expect_sorted_grid(kIq2xxsGrid, 8, {8, 25, 43}, "iq2xxs");
    expect_sorted_grid(kIq2xsGrid, 8, {8, 25, 43}, "iq2xs");
    expect_sorted_grid(kIq2sGrid, 8, {8, 25, 43}, "iq2s");
    expect_sorted_grid(kIq3xxsGrid, 4, {4, 12, 20, 28, 36, 44, 52, 62}, "iq3xxs");
    expect_sorted_grid(kIq3sGrid, 4, {1, 3, 5, 7, 9, 11, 13, 15}, "iq3s");
    expect_sorted_grid(kIq1sGrid, 8, {-1, 0, 1}, "iq1s");
    EXPECT_EQ(kIq2xxsGrid[0], 0x0808080808080808u);
    EXPECT_EQ(kIq1sGrid[2047], 0x0101010101010101u);
}

TEST(IqTables, SignsHaveEvenParityAndLevelsAreSorted) {
    for (int i = 0; i < 128; ++i) {
        EXPECT_EQ(kSignsIq2xs[i] & 127, i);
        EXPECT_EQ(std::popcount(static_cast<unsigned>(kSignsIq2xs[i])) % 2, 0) << i;
    }
    EXPECT_TRUE(std::is_sorted(kValuesIq4nl.begin(), kValuesIq4nl.end()));
    for (int i = 1; i < 8; ++i) EXPECT_EQ(kValuesMxfp4[i + 8], -kValuesMxfp4[i]);
}

// ---- hand-built blocks: the documented layouts ---------------------------------------------------

TEST(Dequantize, Q4_0Layout) {
    BlockQ4_0 block{};
    block.d = f32_to_fp16(0.5f);
    for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    std::vector<uint8_t> bytes(sizeof block);
    std::memcpy(bytes.data(), &block, sizeof block);
    std::vector<float> out(32);
    ASSERT_TRUE(dequantize_row(TensorType::Q4_0, bytes, out).ok());
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], 0.5f * static_cast<float>(j - 8));
        EXPECT_EQ(out[j + 16], 0.5f * static_cast<float>(7 - j));
    }
}

TEST(Dequantize, Q8_KAndIntegers) {
    BlockQ8_K block{};
    block.d = 0.25f;
    for (int j = 0; j < 256; ++j) block.qs[j] = static_cast<int8_t>(j - 128);
    std::vector<uint8_t> bytes(sizeof block);
    std::memcpy(bytes.data(), &block, sizeof block);
    std::vector<float> out(256);
    ASSERT_TRUE(dequantize_row(TensorType::Q8_K, bytes, out).ok());
    for (int j = 0; j < 256; ++j) EXPECT_EQ(out[j], 0.25f * static_cast<float>(j - 128));

    const int32_t ints[3] = {-7, 0, 1 << 30};
    std::vector<uint8_t> raw(sizeof ints);
    std::memcpy(raw.data(), ints, sizeof ints);
    std::vector<float> values(3);
    ASSERT_TRUE(dequantize_row(TensorType::I32, raw, values).ok());
    EXPECT_EQ(values, (std::vector<float>{-7.0f, 0.0f, 1073741824.0f}));
}

TEST(Dequantize, DotRowIsTheDoubleSumOfTheDequantizedRow) {
    const std::vector<float> x = gaussian(1024, 5);
    const std::vector<float> w = gaussian(1024, 6);
    for (TensorType type : {TensorType::Q4_K, TensorType::Q8_0, TensorType::F16, TensorType::MXFP4}) {
        std::vector<uint8_t> packed(quantized_size(type, w.size()).value());
        ASSERT_TRUE(quantize_row(type, w, packed).ok());
        std::vector<float> deq(w.size());
        ASSERT_TRUE(dequantize_row(type, packed, deq).ok());
        double expected = 0;
        for (size_t i = 0; i < x.size(); ++i) expected += static_cast<double>(deq[i]) * x[i];
        auto dot = dot_row(type, packed, x);
        ASSERT_TRUE(dot.ok());
        EXPECT_EQ(dot.value(), expected) << name_of(type);
    }
}

// ---- quantizers ----------------------------------------------------------------------------------

// Relative RMSE bounds on N(0,1) data with 1% outliers: about 1.25 x what the quantizers reach
// (set RF_PRINT_RMSE=1 to see the values).
double rmse_bound(TensorType type) {
    switch (type) {
        case TensorType::F32: case TensorType::F64: return 0;
        case TensorType::F16: return 3e-4;
        case TensorType::BF16: return 2.5e-3;
        case TensorType::Q8_0: case TensorType::Q8_1: return 0.011;
        case TensorType::Q8_K: return 0.023;
        case TensorType::Q6_K: return 0.031;
        case TensorType::Q5_1: return 0.053;
        case TensorType::Q5_K: return 0.055;
        case TensorType::Q5_0: return 0.085;
        case TensorType::Q4_1: case TensorType::Q4_K: return 0.11;
        case TensorType::IQ4_NL: case TensorType::IQ4_XS: return 0.125;
        case TensorType::Q4_0: case TensorType::MXFP4: return 0.17;
        case TensorType::Q3_K: return 0.25;
        case TensorType::Q2_K: return 0.37;
        case TensorType::TQ1_0: case TensorType::TQ2_0: return 0.81;
        default: return 0;
    }
}

TEST(Quantize, RoundTripErrorOnRandomData) {
    for (TensorType type : kQuantizable) {
        SCOPED_TRACE(name_of(type));
        for (uint32_t seed : {1u, 2u}) {
            const std::vector<float> x = gaussian(2048, seed, seed == 1 ? 1.0f : 0.02f);
            const double error = relative_rmse(x, round_trip(type, x));
            EXPECT_LE(error, rmse_bound(type)) << "seed " << seed;
            if (std::getenv("RF_PRINT_RMSE")) std::printf("%-7s seed %u: %.5f\n", name_of(type).c_str(), seed, error);
            if (type == TensorType::F32) {
                EXPECT_EQ(error, 0);
            }
        }
    }
}

TEST(Quantize, ZerosAndTinyValues) {
    for (TensorType type : kQuantizable) {
        SCOPED_TRACE(name_of(type));
        const std::vector<float> zeros(512, 0.0f);
        for (float v : round_trip(type, zeros)) ASSERT_EQ(v, 0.0f);
        // Far below the F16 range of the block scales: rounds to zero, never to garbage.
        std::vector<float> tiny = gaussian(512, 3, 1e-12f);
        for (float v : round_trip(type, tiny)) ASSERT_LE(std::fabs(v), 1e-9f);
    }
}

TEST(Quantize, ScalingByAPowerOfTwoScalesTheResultExactly) {
    // For the block types every step (F16 scales included, while in range) commutes with
    // multiplying by 2^k. (Not so for plain F16, whose subnormals lose precision.)
    const std::vector<float> x = gaussian(512, 4);
    for (TensorType type : kQuantizable) {
        if (!tensor_type_info(type).quantized) continue;
        SCOPED_TRACE(name_of(type));
        const std::vector<float> base = round_trip(type, x);
        for (float factor : {1024.0f, 1.0f / 16.0f}) {
            std::vector<float> scaled(x.size());
            for (size_t i = 0; i < x.size(); ++i) scaled[i] = x[i] * factor;
            const std::vector<float> out = round_trip(type, scaled);
            for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(out[i], base[i] * factor) << "factor " << factor << " at " << i;
        }
    }
}

TEST(Quantize, ValuesBeyondTheScaleRangeSaturateWithoutUB) {
    // max|x| ~ 3e31: F16 block scales cannot hold it; the result is clamped, never NaN, and no
    // undefined float-to-int conversion happens on the way (CI runs this under UBSan).
    const std::vector<float> huge = gaussian(512, 4, 1e30f);
    for (TensorType type : kQuantizable) {
        SCOPED_TRACE(name_of(type));
        const std::vector<float> out = round_trip(type, huge);
        ASSERT_EQ(out.size(), huge.size());
        float largest = 0;
        for (float v : out) {
            ASSERT_FALSE(std::isnan(v));
            largest = std::max(largest, std::fabs(v));
        }
        EXPECT_GT(largest, 1e4f);  // saturated, not collapsed to zero
    }
}

TEST(Quantize, ExactlyRepresentableInputsRoundTripExactly) {
    // 256 values d * q + m on the levels lo..hi come back unchanged. Every 16 values (the smallest
    // sub-block) include both extremes, as a block's scale is set by its largest value.
    auto grid = [](int lo, int hi, float d, float m = 0.0f) {
        std::vector<float> x(256);
        for (size_t i = 0; i < x.size(); ++i) {
            const int q = i % 16 == 0 ? lo : i % 16 == 1 ? hi : lo + static_cast<int>((i * 7) % (hi - lo + 1));
            x[i] = d * static_cast<float>(q) + m;
        }
        return x;
    };
    const struct {
        TensorType type;
        std::vector<float> x;
    } cases[] = {
        {TensorType::Q4_0, grid(-8, 7, 0.25f)},        {TensorType::Q5_0, grid(-16, 15, 0.125f)},
        {TensorType::Q8_0, grid(-127, 127, 0.5f)},     {TensorType::Q8_1, grid(-127, 127, 0.5f)},
        {TensorType::Q4_1, grid(0, 15, 0.25f, -1.5f)}, {TensorType::Q5_1, grid(0, 31, 0.25f, 2.0f)},
        {TensorType::Q3_K, grid(-4, 3, 0.25f)},        {TensorType::Q6_K, grid(-32, 31, 0.25f)},
        {TensorType::Q8_K, grid(-127, 127, 2.0f)},     {TensorType::TQ1_0, grid(-1, 1, 0.5f)},
        {TensorType::TQ2_0, grid(-1, 1, 0.5f)},        {TensorType::F16, grid(-8, 7, 0.25f)},
        {TensorType::BF16, grid(-8, 7, 0.25f)},
    };
    for (const auto& c : cases) EXPECT_EQ(round_trip(c.type, c.x), c.x) << name_of(c.type);
    std::vector<float> fp4(32);
    for (size_t i = 0; i < fp4.size(); ++i) fp4[i] = 0.25f * static_cast<float>(kValuesMxfp4[i % 16]);
    EXPECT_EQ(round_trip(TensorType::MXFP4, fp4), fp4);
    std::vector<float> nl(32);
    for (size_t i = 0; i < nl.size(); ++i) nl[i] = 0.125f * static_cast<float>(kValuesIq4nl[i % 16]);
    EXPECT_EQ(round_trip(TensorType::IQ4_NL, nl), nl);
}

// The activation formats round exactly as ggml's reference: d = max|x| / 127 and
// q = round-half-away(x * (1 / d)) for Q8_0/Q8_1; d = max / -127, q = round-half-even for Q8_K.
TEST(Quantize, ActivationFormatsRoundLikeTheReference) {
    const std::vector<float> x = gaussian(256, 11);
    std::vector<uint8_t> packed(quantized_size(TensorType::Q8_0, 256).value());
    ASSERT_TRUE(quantize_row(TensorType::Q8_0, x, packed).ok());
    for (int b = 0; b < 8; ++b) {
        const auto block = load_block<BlockQ8_0>(packed.data() + b * sizeof(BlockQ8_0));
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
        const float d = amax / 127.0f;
        EXPECT_EQ(block.d, f32_to_fp16(d));
        for (int j = 0; j < 32; ++j) EXPECT_EQ(block.qs[j], static_cast<int8_t>(std::round(x[32 * b + j] * (1.0f / d))));
    }

    packed.resize(quantized_size(TensorType::Q8_1, 256).value());
    ASSERT_TRUE(quantize_row(TensorType::Q8_1, x, packed).ok());
    for (int b = 0; b < 8; ++b) {
        const auto block = load_block<BlockQ8_1>(packed.data() + b * sizeof(BlockQ8_1));
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
        const float d = amax / 127.0f;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            EXPECT_EQ(block.qs[j], static_cast<int8_t>(std::round(x[32 * b + j] * (1.0f / d))));
            sum += block.qs[j];
        }
        EXPECT_EQ(block.d, f32_to_fp16(d));
        EXPECT_EQ(block.s, f32_to_fp16(static_cast<float>(sum) * d));  // s = d * sum(q), d in f32
    }

    packed.resize(quantized_size(TensorType::Q8_K, 256).value());
    ASSERT_TRUE(quantize_row(TensorType::Q8_K, x, packed).ok());
    const auto block = load_block<BlockQ8_K>(packed.data());
    float amax = 0, max = 0;
    for (float v : x) {
        if (std::fabs(v) > amax) {
            amax = std::fabs(v);
            max = v;
        }
    }
    const float iscale = -127.0f / max;
    EXPECT_EQ(block.d, 1.0f / iscale);
    for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) {
            EXPECT_EQ(block.qs[16 * g + j], static_cast<int8_t>(std::nearbyint(iscale * x[16 * g + j])));
            sum += block.qs[16 * g + j];
        }
        EXPECT_EQ(block.bsums[g], sum);
    }
}

// ---- errors, never UB ----------------------------------------------------------------------------

TEST(QuantErrors, WrongSizesAreErrors) {
    std::vector<uint8_t> bytes(sizeof(BlockQ4_K) * 2);
    std::vector<float> values(512);
    EXPECT_TRUE(dequantize_row(TensorType::Q4_K, bytes, values).ok());
    EXPECT_FALSE(dequantize_row(TensorType::Q4_K, std::span(bytes).first(bytes.size() - 1), values).ok());
    EXPECT_FALSE(dequantize_row(TensorType::Q4_K, bytes, std::span(values).first(256)).ok());
    EXPECT_FALSE(dequantize_row(TensorType::Q4_K, bytes, std::span(values).first(300)).ok());  // not whole blocks
    EXPECT_FALSE(dequantize_row(static_cast<TensorType>(4), bytes, values).ok());              // retired id
    EXPECT_FALSE(dequantize_row(static_cast<TensorType>(1000), bytes, values).ok());
    EXPECT_TRUE(dequantize_row(TensorType::Q4_K, {}, {}).ok());                                 // nothing to do
    EXPECT_FALSE(dequantize_row(TensorType::Q4_K, std::span(bytes).first(1), {}).ok());
    EXPECT_FALSE(dot_row(TensorType::Q4_K, bytes, std::span<const float>(values).first(256)).ok());
    EXPECT_FALSE(dot_row(TensorType::F16, bytes, std::span<const float>(values).first(3)).ok());

    const std::vector<float> x(256, 1.0f);
    std::vector<uint8_t> out(sizeof(BlockQ4_K));
    EXPECT_TRUE(quantize_row(TensorType::Q4_K, x, out).ok());
    std::vector<uint8_t> longer(sizeof(BlockQ4_K) + 1);
    EXPECT_FALSE(quantize_row(TensorType::Q4_K, x, longer).ok());
    EXPECT_FALSE(quantize_row(TensorType::Q4_K, std::span(x).first(100), out).ok());
    EXPECT_FALSE(quantize_row(TensorType::IQ2_XXS, x, out).ok());  // no quantizer
    EXPECT_FALSE(quantize_row(TensorType::I32, x, out).ok());
    EXPECT_FALSE(quantize_row(static_cast<TensorType>(4), x, out).ok());  // retired id
    EXPECT_FALSE(quantized_size(static_cast<TensorType>(1000), 256).ok());
    EXPECT_FALSE(can_quantize(static_cast<TensorType>(1000)));
}

TEST(QuantErrors, NonFiniteInputsAreErrorsForBlockTypes) {
    std::vector<float> x(256, 1.0f);
    x[77] = NAN;
    std::vector<uint8_t> out(quantized_size(TensorType::Q8_0, 256).value());
    const auto status = quantize_row(TensorType::Q8_0, x, out);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().message.find("77"), std::string::npos) << status.error().message;
    x[77] = INFINITY;
    EXPECT_FALSE(quantize_row(TensorType::Q8_0, x, out).ok());
    // The float types convert them.
    std::vector<uint8_t> halves(512);
    ASSERT_TRUE(quantize_row(TensorType::F16, x, halves).ok());
    std::vector<float> back(256);
    ASSERT_TRUE(dequantize_row(TensorType::F16, halves, back).ok());
    EXPECT_EQ(back[77], INFINITY);
}

}  // namespace
}  // namespace rf::quant
