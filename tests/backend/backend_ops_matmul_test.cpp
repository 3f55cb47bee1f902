// Matrix products for every weight format, the mixture-of-experts ops (matmul_experts,
// route_top_k, combine_experts), against double-precision references: the weights dequantized
// with the reference dequantizer, the activations rounded as the product rounds them (quantize_row
// then dequantize_row in the format activation_rounding names), products summed in double.
#include <numeric>
#include <tuple>

#include "backend_ops_common.h"
#include "gguf/reader.h"
#include "quant/block_formats.h"
#include "support/shared_data.h"

namespace rf::test::ops {
namespace {

// ---- products ------------------------------------------------------------------------------------

// Tolerances of a product, relative: per element |y - ref| <= kElementTolerance * sum_c |w x|
// (float accumulation error grows with the sum of the magnitudes, not with the result), and per
// token ||y - ref|| / ||ref|| <= kRowTolerance.
constexpr double kElementTolerance = 1e-5;
constexpr double kRowTolerance = 1e-5;

// The values a backend multiplies with, for a (stacked) weight as imported: `values` are the rows
// dequantized (effective_row). For Q4_1 / Q5_1 also each row with its block minimums set to 0
// (d * q) and the minimums, for the product as ggml defines it with Q8_1 activations (below).
struct EffectiveWeight {
    TensorType type = TensorType::F32;  // the imported type
    int64_t rows = 0, cols = 0;         // of one matrix
    std::vector<float> values;          // every row of every matrix
    std::vector<float> without_min;     // Q4_1 / Q5_1 only
    std::vector<float> mins;            // Q4_1 / Q5_1: [row][block of 32]

    EffectiveWeight matrix(int64_t e) const {
        EffectiveWeight m{type, rows, cols, {}, {}, {}};
        const auto slice = [&](const std::vector<float>& all, int64_t per_row) {
            return all.empty() ? std::vector<float>{}
                               : std::vector<float>(all.begin() + e * rows * per_row, all.begin() + (e + 1) * rows * per_row);
        };
        m.values = slice(values, cols);
        m.without_min = slice(without_min, cols);
        m.mins = slice(mins, cols / 32);
        return m;
    }
};

EffectiveWeight effective_weight(const HostWeight& host, const WeightMatrix& imported) {
    EffectiveWeight w{imported.type, host.rows, host.cols, {}, {}, {}};
    const bool with_min = imported.type == host.type && (host.type == TensorType::Q4_1 || host.type == TensorType::Q5_1);
    const size_t block_bytes = tensor_type_info(host.type).block_bytes;
    for (int64_t r = 0; r < host.rows * host.count; ++r) {
        const std::vector<float> row = effective_row(host, imported.type, r);
        w.values.insert(w.values.end(), row.begin(), row.end());
        if (!with_min) continue;
        // Both block types start with the f16 scale d and the f16 minimum m.
        std::vector<uint8_t> bytes(host.row(r).begin(), host.row(r).end());
        for (size_t b = 0; b < bytes.size() / block_bytes; ++b) {
            uint16_t m;
            std::memcpy(&m, bytes.data() + b * block_bytes + 2, 2);
            w.mins.push_back(quant::fp16_to_f32(m));
            std::memset(bytes.data() + b * block_bytes + 2, 0, 2);
        }
        const std::vector<float> scaled = dequantize(host.type, bytes, host.cols);
        w.without_min.insert(w.without_min.end(), scaled.begin(), scaled.end());
    }
    return w;
}

// How a reference product treats the activations.
enum class ProductModel {
    Rounded,    // rounded as activation_rounding says, then the dequantized weights times them
    F32,        // not rounded (the CPU's fast kernels for F16, BF16 and types without a kernel)
    StoredSum,  // Q4_1 / Q5_1 as ggml multiplies them: d * q times the rounded activations, plus each
                // block's minimum times the Q8_1 block's stored sum s = f16(d_unrounded * sum q)
    F16Operands,  // tensor-core products: the dequantized weights rounded to f16, and the rounded
                  // activations times 2^k (the batch's largest magnitude to [2^14, 2^15)) rounded to
                  // f16, then divided by 2^k again
};

const char* model_name(ProductModel m) {
    switch (m) {
        case ProductModel::Rounded: return "";
        case ProductModel::F32: return " [f32 activations]";
        case ProductModel::StoredSum: return " [Q8_1 stored sums]";
        case ProductModel::F16Operands: return " [f16 operands]";
    }
    return "";
}

// The CPU backend's fast kernels keep activations in f32 for float weights (F16, BF16) and for
// types without a kernel (the dequantizing path: TQ2_0, the lattice IQ types), while its strided
// fallback (ReferenceMatmul) and the GPU round them to F16 / BF16 / Q8_K: on the CPU either model
// is accepted for those types. Q4_1 / Q5_1: the CPU's kernels take the minimum's share from the
// Q8_1 block's stored sum (ggml's definition; measured up to 6e-3 of sum |w x| away from the
// product of the rounded values), its fallback and the GPU from the rounded values: either is
// accepted, on any backend. The GPU's plain products of quantized weights from 32 tokens
// (cuda_ops.cpp; the op suite's backend is not batch-invariant) run on tensor cores with f16
// operands: there that is the only model accepted, so the test sees which path ran. Except that
// Q4_0, Q8_0, Q4_K and Q6_K products of up to 64 tokens run on int8 tensor cores, whose sums are
// exact: Rounded. The log names the model that matched; all others must match Rounded.
constexpr int64_t kGpuTensorCoreTokens = 32, kGpuInt8MaxTokens = 64;

bool gpu_int8_format(TensorType type) {
    return type == TensorType::Q4_0 || type == TensorType::Q8_0 || type == TensorType::Q4_K || type == TensorType::Q6_K;
}

// `plain_tokens`: the tokens of a plain product (0 for expert products, which never take the
// tensor cores).
std::vector<ProductModel> accepted_models(TensorType type, bool cpu, int64_t plain_tokens) {
    const bool quantized = type != TensorType::F32 && type != TensorType::F16 && type != TensorType::BF16;
    const bool int8_sized = gpu_int8_format(type) && plain_tokens <= kGpuInt8MaxTokens;
    if (!cpu && quantized && plain_tokens >= kGpuTensorCoreTokens && !int8_sized) return {ProductModel::F16Operands};
    std::vector<ProductModel> models{ProductModel::Rounded};
    switch (type) {
        case TensorType::F16: case TensorType::BF16: case TensorType::TQ1_0: case TensorType::TQ2_0:
        case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ2_S: case TensorType::IQ3_XXS:
        case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M:
            if (cpu) models.push_back(ProductModel::F32);
            break;
        case TensorType::Q4_1: case TensorType::Q5_1: models.push_back(ProductModel::StoredSum); break;
        default: break;
    }
    return models;
}

struct Reference {
    std::vector<double> value, scale;  // [token][row]: the product and sum |w x|
};

float round_to_half(float v) { return quant::fp16_to_f32(quant::f32_to_fp16(v)); }

// F16Operands: the power of two the batch's rounded activations are scaled by.
double half_input_scale(const EffectiveWeight& w, const std::vector<float>& x, int64_t tokens) {
    float amax = 0;
    for (int64_t t = 0; t < tokens; ++t)
        for (const float v : round_activations(w.type, std::span<const float>(x.data() + t * w.cols, w.cols)))
            amax = std::max(amax, std::fabs(v));
    if (amax == 0 || !std::isfinite(amax)) return 1;
    int e = 0;
    std::frexp(amax, &e);
    return std::ldexp(1.0, std::min(15 - e, 126));
}

// W x for x: tokens x cols (as the op reads it), under `model`.
Reference reference_product(const EffectiveWeight& w, const std::vector<float>& x, int64_t tokens, ProductModel model) {
    const int64_t rows = w.rows, cols = w.cols;
    Reference ref;
    ref.value.resize(static_cast<size_t>(tokens * rows));
    ref.scale.resize(ref.value.size());
    std::vector<float> half_weights;
    double half_scale = 1;
    if (model == ProductModel::F16Operands) {
        for (const float v : w.values) half_weights.push_back(round_to_half(v));
        half_scale = half_input_scale(w, x, tokens);
    }
    for (int64_t t = 0; t < tokens; ++t) {
        std::span<const float> xt(x.data() + t * cols, static_cast<size_t>(cols));
        std::vector<float> xr = model == ProductModel::F32 ? std::vector<float>(xt.begin(), xt.end())
                                                           : round_activations(w.type, xt);
        if (model == ProductModel::F16Operands)
            for (float& v : xr) v = static_cast<float>(round_to_half(static_cast<float>(v * half_scale)) / half_scale);
        std::vector<double> sums;  // StoredSum: s of each Q8_1 block
        if (model == ProductModel::StoredSum) {
            const std::vector<uint8_t> q = quantize(TensorType::Q8_1, xt);
            for (int64_t b = 0; b < cols / 32; ++b)
                sums.push_back(quant::fp16_to_f32(quant::load_block<quant::BlockQ8_1>(q.data() + b * sizeof(quant::BlockQ8_1)).s));
        }
        const std::vector<float>& weights = model == ProductModel::StoredSum ? w.without_min
                                            : model == ProductModel::F16Operands ? half_weights : w.values;
        for (int64_t r = 0; r < rows; ++r) {
            double sum = 0, magnitude = 0;
            for (int64_t c = 0; c < cols; ++c) {
                const double p = static_cast<double>(weights[r * cols + c]) * xr[c];
                sum += p;
                magnitude += std::fabs(p);
            }
            for (size_t b = 0; b < sums.size(); ++b) {
                const double p = static_cast<double>(w.mins[r * (cols / 32) + b]) * sums[b];
                sum += p;
                magnitude += std::fabs(p);
            }
            ref.value[t * rows + r] = sum;
            ref.scale[t * rows + r] = magnitude;
        }
    }
    return ref;
}

// The worst element ratio of got against ref (without reporting).
double worst_ratio(const std::vector<float>& got, const Reference& ref) {
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double d = std::fabs(got[i] - ref.value[i]) / std::max(ref.scale[i], 1e-300);
        worst = std::max(worst, std::isnan(d) ? std::numeric_limits<double>::infinity() : d);
    }
    return worst;
}

class ProductFixture : public OpsFixture {
protected:
    // y (tokens x rows, as fetched) against W x (x: tokens x cols), under the accepted model it
    // is closest to; `plain` for matmul (expert products never take the tensor cores).
    void expect_product(const std::string& op, const EffectiveWeight& w, const std::vector<float>& x, int64_t tokens,
                        const std::vector<float>& y, bool plain = false) {
        const std::vector<ProductModel> models = accepted_models(w.type, is_cpu(), plain ? tokens : 0);
        ProductModel best = models.front();
        Reference best_ref = reference_product(w, x, tokens, best);
        for (const ProductModel model : models) {
            if (model == best) continue;
            Reference ref = reference_product(w, x, tokens, model);
            if (worst_ratio(y, ref) < worst_ratio(y, best_ref)) {
                best = model;
                best_ref = std::move(ref);
            }
        }
        expect_close(op + model_name(best), y, best_ref.value, best_ref.scale, w.rows, kElementTolerance, kRowTolerance);
    }

    // One product y = W x with x and y given as column ranges of wider matrices (first_x / first_y
    // columns in, widths wx / wy), checked against the reference; returns nothing, reports failures.
    void run_product(const std::string& op, const WeightMatrix& w, const EffectiveWeight& values, std::mt19937& rng,
                     int64_t tokens, int64_t wx, int64_t first_x, int64_t wy, int64_t first_y) {
        SCOPED_TRACE(fmt::format("{}: {}x{} weight, {} tokens, x columns {}+{} of {}, y columns {}+{} of {}", op,
                                 w.rows, w.cols, tokens, first_x, w.cols, wx, first_y, w.rows, wy));
        const std::vector<float> x_all = random_values(rng, static_cast<size_t>(tokens * wx));
        std::vector<float> x(static_cast<size_t>(tokens * w.cols));
        for (int64_t t = 0; t < tokens; ++t)
            std::copy_n(x_all.begin() + t * wx + first_x, w.cols, x.begin() + t * w.cols);
        const DevMat xd = upload_mat(x_all, tokens, wx);
        const DevMat yd = poisoned(tokens, wy, first_y, w.rows);
        check(b().matmul(w, xd.cols(first_x, w.cols), yd.cols(first_y, w.rows)), op);
        const std::vector<float> y = columns(fetch(yd), yd, first_y, w.rows);
        expect_product(op, values, x, tokens, y, /*plain=*/true);
    }
};

class MatmulFormats : public ProductFixture, public ::testing::WithParamInterface<std::tuple<std::string, TensorType>> {
protected:
    void SetUp() override { open(std::get<0>(GetParam())); }
};

// Odd row counts (37: two groups of 16 plus 5; 130), whole blocks of columns (plain types also an
// odd count), 1 / 3 / 8 / 17 / 40 / 80 tokens (one-token, few-token and tiled many-token paths; on
// the GPU the int8 tensor cores from 3 tokens for their formats, and the f16 tensor-core path from
// 17 (F16, BF16), 40 or (int8 formats) 80 tokens), also
// with strided x and y (columns of a wider activation, as a fused projection gives), and on the
// CPU also a writable import (rows interleaved for its kernels).
TEST_P(MatmulFormats, MatchesTheDoublePrecisionReference) {
    const TensorType type = std::get<1>(GetParam());
    const std::string name(tensor_type_name(type));
    std::mt19937 rng(1000 + static_cast<unsigned>(type));
    const uint32_t block = tensor_type_info(type).block_size;
    const std::vector<int64_t> col_counts = block == 1 ? std::vector<int64_t>{45, 160} :
                                            block == 32 ? std::vector<int64_t>{96, 544} : std::vector<int64_t>{256, 768};
    for (const int64_t cols : col_counts)
        for (const int64_t rows : {37, 130}) {
            const HostWeight& host = keep(make_weight(rng, type, rows, cols));
            const WeightMatrix w = import(host);
            ASSERT_EQ(w.rows, rows);
            ASSERT_EQ(w.cols, cols);
            const EffectiveWeight values = effective_weight(host, w);
            for (const int64_t tokens : {1, 3, 8, 17, 40, 80})
                run_product("matmul " + name, w, values, rng, tokens, cols, 0, rows, 0);
            // x: the middle third of a fused projection's output; y: columns 5.. of a wider row.
            for (const int64_t tokens : {1, 17, 40})
                run_product("matmul " + name + " strided", w, values, rng, tokens, 3 * cols, cols, rows + 11, 5);
            // A writable import may rearrange the bytes (the CPU interleaves rows): a copy of them.
            const HostWeight& copy = keep(host);
            const WeightMatrix tiled = import(copy, /*writable=*/true);
            for (const int64_t tokens : {1, 8, 40})
                run_product("matmul " + name + " writable import", tiled, values, rng, tokens, cols, 0, rows, 0);
        }
}

INSTANTIATE_TEST_SUITE_P(Backends, MatmulFormats,
                         ::testing::Combine(::testing::ValuesIn(backends_under_test()), ::testing::ValuesIn(kWeightFormats)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, TensorType>>& info) {
                             return sanitize(std::get<0>(info.param) + "_" +
                                             std::string(tensor_type_name(std::get<1>(info.param))));
                         });

class Products : public ProductFixture, public ::testing::WithParamInterface<std::string> {
protected:
    void SetUp() override { open(GetParam()); }
};

// One input through weights that round it differently (Q8_0 blocks for Q8_0, 256-value Q8_K blocks
// for Q4_K, f16 for F16), one after another and back, as a layer's products may: a backend that
// keeps a prepared input for reuse must not hand one rounding's input to another.
TEST_P(Products, OneInputThroughSeveralRoundings) {
    std::mt19937 rng(4242);
    constexpr int64_t kRows = 37, kCols = 256;
    for (const int64_t tokens : {3, 40}) {
        SCOPED_TRACE(fmt::format("{} tokens", tokens));
        const std::vector<float> x = random_values(rng, static_cast<size_t>(tokens * kCols));
        const DevMat xd = upload_mat(x, tokens, kCols);
        for (const TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::F16, TensorType::Q4_K,
                                      TensorType::Q8_0}) {
            const HostWeight& host = keep(make_weight(rng, type, kRows, kCols));
            const WeightMatrix w = import(host);
            const DevMat yd = poisoned(tokens, kRows, 0, kRows);
            check(b().matmul(w, xd.cols(0, kCols), yd.cols(0, kRows)), "matmul");
            expect_product(fmt::format("matmul {} after others", tensor_type_name(type)), effective_weight(host, w), x,
                           tokens, columns(fetch(yd), yd, 0, kRows), /*plain=*/true);
        }
    }
}

// Products of one input by several matrices (Q, K and V; gate and up) are each matrix's matmul,
// bit for bit, whatever the backend runs them as: one format (a GPU's one launch), mixed formats,
// row counts that do not fill its groups, one token and several.
TEST_P(Products, MatmulsOfOneInputAreEachMatmul) {
    std::mt19937 rng(515);
    constexpr int64_t kCols = 512;
    const std::vector<std::vector<TensorType>> groups = {
        {TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K}, {TensorType::Q6_K, TensorType::Q6_K},
        {TensorType::Q4_0, TensorType::Q4_0, TensorType::Q4_0}, {TensorType::Q8_0, TensorType::Q8_0},
        {TensorType::F16, TensorType::F16, TensorType::F16},     {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q4_K},
        {TensorType::F32, TensorType::F32}};
    const int64_t rows[] = {37, 11, 16};
    for (const int64_t tokens : {1, 3, 40}) {
        const std::vector<float> x = random_values(rng, static_cast<size_t>(tokens * kCols));
        const DevMat xd = upload_mat(x, tokens, kCols);
        for (const std::vector<TensorType>& types : groups) {
            const std::string what = fmt::format("{} tokens, {} {} matrices", tokens, types.size(), tensor_type_name(types[0]));
            SCOPED_TRACE(what);
            std::vector<WeightMatrix> ws;
            std::vector<DevMat> together, alone;
            for (size_t i = 0; i < types.size(); ++i) {
                ws.push_back(import(keep(make_weight(rng, types[i], rows[i], kCols))));
                together.push_back(poisoned(tokens, rows[i]));
                alone.push_back(poisoned(tokens, rows[i]));
            }
            std::vector<Backend::MatmulOutput> products;
            for (size_t i = 0; i < ws.size(); ++i) products.push_back({&ws[i], together[i].all()});
            check(b().matmuls(xd.cols(0, kCols), products), "matmuls");
            for (size_t i = 0; i < ws.size(); ++i) {
                check(b().matmul(ws[i], xd.cols(0, kCols), alone[i].all()), "matmul");
                expect_exact(fmt::format("{}: matrix {}", what, i), fetch(together[i]), fetch(alone[i]));
            }
        }
    }
}

// A layer's RMSNorm and gated activation write the next product's input; a backend may prepare
// that input for the product in the same pass once it has seen which format the product reads
// (the GPU packs it after the first step). Through either way, the op's output and the product
// are bit for bit those of a buffer never used before.
TEST_P(Products, OpsThatWriteAProductsInputGiveTheSameProduct) {
    std::mt19937 rng(616);
    constexpr int64_t kCols = 512, kRows = 24;
    for (const TensorType type : {TensorType::Q4_K, TensorType::Q8_0, TensorType::Q4_0})
        for (const int64_t tokens : {1, 3}) {
            SCOPED_TRACE(fmt::format("{} weights, {} tokens", tensor_type_name(type), tokens));
            const WeightMatrix w = import(keep(make_weight(rng, type, kRows, kCols)));
            const std::vector<float> norm_weight = random_values(rng, static_cast<size_t>(kCols), 0.5f, 1.5f);
            const DeviceBuffer nw = upload(norm_weight);
            const ParamVector pv{nw.f32(), kCols};
            const DevMat reused = poisoned(tokens, kCols), y = poisoned(tokens, kRows);
            // Each round: the op into the reused buffer and its product, then both again into
            // buffers never seen before.
            for (int round = 0; round < 3; ++round) {
                const DevMat x = upload_mat(random_values(rng, static_cast<size_t>(tokens * kCols)), tokens, kCols);
                const DevMat gate = upload_mat(random_values(rng, static_cast<size_t>(tokens * kCols)), tokens, kCols);
                for (const bool norm : {true, false}) {
                    const std::string op = fmt::format("{} (round {})", norm ? "rms_norm" : "gated activation", round);
                    const auto run = [&](const DevMat& out, const DevMat& product) {
                        if (norm) check(b().rms_norm(x.all(), pv, 1e-5f, out.all()), op);
                        else check(b().gated_activation(GatedActivation::Silu, gate.all(), x.all(), out.all()), op);
                        check(b().matmul(w, out.all(), product.all()), "matmul after " + op);
                    };
                    run(reused, y);
                    const DevMat fresh = poisoned(tokens, kCols), fresh_y = poisoned(tokens, kRows);
                    run(fresh, fresh_y);
                    expect_exact(op, fetch(reused), fetch(fresh));
                    expect_exact("product after " + op, fetch(y), fetch(fresh_y));
                }
            }
        }
}

// y += W x is bit for bit the product followed by the add, whatever path the product takes (the
// GPU: the direct kernels for one token, int8 tensor cores for a few, the BLAS library for many,
// the generic kernel for formats without direct ones), and a y that overlaps x is refused.
// Q4_K products of a few tokens over rows of many 256-value steps: the GPU splits each tile's
// steps among blocks and adds their sums in order (cuda_int8_tiles.cu). Twice each, since the
// split leaves its counters as it found them.
TEST_P(Products, LongRowsOfFewTokens) {
    std::mt19937 rng(919);
    constexpr int64_t kCols = 4096;
    for (const int64_t rows : {37, 130}) {
        const HostWeight& host = keep(make_weight(rng, TensorType::Q4_K, rows, kCols));
        const WeightMatrix w = import(host);
        const EffectiveWeight values = effective_weight(host, w);
        for (const int64_t tokens : {3, 17, 40, 64})
            for (int again = 0; again < 2; ++again)
                run_product("matmul Q4_K, long rows", w, values, rng, tokens, kCols, 0, rows, 0);
    }
}

// Rows of 8,448 values (33 blocks of 256, 264 of 32) in every format with direct products, one to
// eight tokens (on the GPU the int8 formats take the tensor cores from two), alone and as Q, K and
// V are (one input through several matrices): with ROCMFORGE_GPU_GEMV_SPLIT=1 the GPU shares such
// Q4_K, F16 and BF16 rows among four groups of lanes, whose shares of the row are unequal.
TEST_P(Products, LongRowsOfOneToEightTokensInTheDirectFormats) {
    std::mt19937 rng(8448);
    constexpr int64_t kCols = 8448, kRows = 37;
    for (const TensorType type : {TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q8_0,
                                  TensorType::Q4_K, TensorType::Q6_K}) {
        const HostWeight& host = keep(make_weight(rng, type, kRows, kCols));
        const WeightMatrix w = import(host);
        const EffectiveWeight values = effective_weight(host, w);
        const std::string name = fmt::format("matmul {}, long rows", tensor_type_name(type));
        for (const int64_t tokens : {1, 2, 5, 8}) run_product(name, w, values, rng, tokens, kCols, 0, kRows, 0);
        run_product(name + " strided", w, values, rng, 1, 2 * kCols, kCols, kRows + 3, 2);
        const HostWeight& other = keep(make_weight(rng, type, 5, kCols));
        const WeightMatrix w2 = import(other);
        const DevMat x = upload_mat(random_values(rng, static_cast<size_t>(kCols)), 1, kCols);
        const DevMat y1 = poisoned(1, kRows), y2 = poisoned(1, 5), alone1 = poisoned(1, kRows), alone2 = poisoned(1, 5);
        const std::vector<Backend::MatmulOutput> outs = {{&w, y1.all()}, {&w2, y2.all()}};
        check(b().matmuls(x.all(), outs), name + " matmuls");
        check(b().matmul(w, x.all(), alone1.all()), name);
        check(b().matmul(w2, x.all(), alone2.all()), name);
        expect_exact(name + " matmuls, first matrix", fetch(y1), fetch(alone1));
        expect_exact(name + " matmuls, second matrix", fetch(y2), fetch(alone2));
    }
}

// (2,048 columns: eight steps of 256, so that the GPU's Q4_K tiles split them and add the residual
// in the last block.)
TEST_P(Products, MatmulAddIsTheProductThenTheAdd) {
    std::mt19937 rng(717);
    constexpr int64_t kCols = 2048, kRows = 40;
    for (const TensorType type : {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q8_0, TensorType::F16, TensorType::Q5_K})
        for (const int64_t tokens : {1, 3, 40}) {
            const std::string what = fmt::format("{} weights, {} tokens", tensor_type_name(type), tokens);
            SCOPED_TRACE(what);
            const WeightMatrix w = import(keep(make_weight(rng, type, kRows, kCols)));
            const DevMat x = upload_mat(random_values(rng, static_cast<size_t>(tokens * kCols)), tokens, kCols);
            const std::vector<float> residual = random_values(rng, static_cast<size_t>(tokens * kRows));
            const DevMat fused = upload_mat(residual, tokens, kRows), apart = upload_mat(residual, tokens, kRows);
            const DevMat product = poisoned(tokens, kRows);
            check(b().matmul_add(w, x.all(), fused.all()), "matmul_add");
            check(b().matmul(w, x.all(), product.all()), "matmul");
            check(b().add(apart.all(), product.all(), apart.all()), "add");
            expect_exact(what, fetch(fused), fetch(apart));
        }
    const WeightMatrix square = import(keep(make_weight(rng, TensorType::Q8_0, kCols, kCols)));
    const DevMat x = upload_mat(random_values(rng, static_cast<size_t>(kCols)), 1, kCols);
    EXPECT_FALSE(b().matmul_add(square, x.all(), x.all()).ok()) << "the sum written over the product's input";
}

// A lattice format no backend quantizes to (and the GPU converts at import): the zoo's IQ2_XXS.
TEST_P(Products, Iq2XxsFromTheQuantZoo) {
    RF_REQUIRE_SHARED();
    auto opened = gguf::File::open(rf::test::shared_path("quant/quant-zoo.gguf").string());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const gguf::TensorInfo* q = nullptr;
    for (const gguf::TensorInfo& t : opened->tensors())
        if (t.name.starts_with("q.") && t.type == TensorType::IQ2_XXS) q = &t;
    ASSERT_NE(q, nullptr) << "no IQ2_XXS tensor in the zoo";
    HostWeight host{TensorType::IQ2_XXS, static_cast<int64_t>(q->rows()), static_cast<int64_t>(q->shape[0]), 1,
                    row_bytes_of(TensorType::IQ2_XXS, static_cast<int64_t>(q->shape[0])), {}};
    host.bytes.assign(q->data, q->data + q->n_bytes);
    const HostWeight& kept = keep(std::move(host));
    const WeightMatrix w = import(kept);
    const EffectiveWeight values = effective_weight(kept, w);
    std::mt19937 rng(77);
    for (const int64_t tokens : {1, 5, 40}) run_product("matmul IQ2_XXS (zoo)", w, values, rng, tokens, w.cols, 0, w.rows, 0);

    // Embedding rows of it: bit-exact with the (effective) dequantized rows.
    const std::vector<int32_t> ids = {7, 0, 3, 3};
    const DeviceBuffer ids_d = upload(ids);
    const DevMat out = poisoned(static_cast<int64_t>(ids.size()), w.cols);
    check(b().embed(w, ids_d.i32(), out.all()), "embed IQ2_XXS");
    std::vector<float> expected;
    for (const int32_t id : ids) {
        const std::vector<float> row = effective_row(kept, w.type, id);
        expected.insert(expected.end(), row.begin(), row.end());
    }
    expect_exact("embed IQ2_XXS (zoo)", fetch(out), expected);
}

// ---- mixture of experts -------------------------------------------------------------------------

// Stacked experts (count 5, ids in backend memory, k = 2), x with one row per token and with one
// row per (token, slot); each output row is its expert's product.
TEST_P(Products, MatmulExpertsMatchesEachExpertsProduct) {
    std::mt19937 rng(4242);
    constexpr int64_t kExperts = 5, kRows = 37, k = 2;
    for (const TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q4_1, TensorType::F16,
                                  TensorType::F32, TensorType::TQ2_0}) {
        const std::string name(tensor_type_name(type));
        const uint32_t block = tensor_type_info(type).block_size;
        const int64_t cols = block == 1 ? 64 : block == 32 ? 96 : 256;
        const HostWeight& host = keep(make_weight(rng, type, kRows, cols, kExperts));
        for (const bool writable : {false, true}) {
            const HostWeight& source = writable ? keep(host) : host;
            const WeightMatrix w = import(source, writable);
            ASSERT_EQ(w.count, kExperts);
            const EffectiveWeight values = effective_weight(host, w);
            for (const int64_t tokens : {1, 6, 17}) {
                std::vector<int32_t> ids;
                for (int64_t t = 0; t < tokens; ++t) {
                    const auto pair = random_ints(rng, 2, 0, kExperts - 1);
                    ids.push_back(pair[0]);
                    ids.push_back(pair[1] != pair[0] ? pair[1] : (pair[0] + 1) % kExperts);
                }
                const DeviceBuffer ids_d = upload(ids);
                for (const bool per_slot : {false, true}) {
                    const std::string op = fmt::format("matmul_experts {}{}{}", name, per_slot ? " per slot" : "",
                                                       writable ? " writable import" : "");
                    SCOPED_TRACE(fmt::format("{}, {} tokens", op, tokens));
                    const int64_t x_rows = per_slot ? tokens * k : tokens;
                    const std::vector<float> x = random_values(rng, static_cast<size_t>(x_rows * cols));
                    const DevMat xd = upload_mat(x, x_rows, cols);
                    const DevMat yd = poisoned(tokens * k, kRows);
                    check(b().matmul_experts(w, ids_d.i32(), k, xd.all(), yd.all()), op);
                    const std::vector<float> y = fetch(yd);
                    // Row by row: the expert's own product of its input row.
                    for (int64_t i = 0; i < tokens * k; ++i) {
                        const int64_t src = per_slot ? i : i / k;
                        expect_product(op, values.matrix(ids[i]), std::vector<float>(x.begin() + src * cols, x.begin() + (src + 1) * cols),
                                       1, std::vector<float>(y.begin() + i * kRows, y.begin() + (i + 1) * kRows));
                    }
                }
            }
        }
    }
}

// Softmax over each row's logits, the k largest picked (ties: the lower id), with and without
// renormalisation; ids exact, weights within 1e-6.
TEST_P(Products, RouteTopKPicksTheLargestProbabilities) {
    std::mt19937 rng(99);
    struct Case {
        int64_t tokens, experts, k, width;
    };
    for (const Case c : {Case{9, 8, 2, 8}, Case{5, 60, 4, 64}, Case{1, 3, 3, 3}, Case{17, 32, 1, 40}})
        for (const bool normalize : {false, true}) {
            SCOPED_TRACE(fmt::format("{} tokens, top {} of {}, normalize {}", c.tokens, c.k, c.experts, normalize));
            // Logits drawn until no two are within 1e-3 (a near tie could legitimately go either way).
            std::vector<float> logits;
            for (bool distinct = false; !distinct;) {
                logits = random_values(rng, static_cast<size_t>(c.tokens * c.width), 2.0f, 1.0f);
                distinct = true;
                for (int64_t t = 0; t < c.tokens; ++t) {
                    std::vector<float> row(logits.begin() + t * c.width, logits.begin() + t * c.width + c.experts);
                    std::sort(row.begin(), row.end());
                    for (size_t i = 1; i < row.size(); ++i) distinct = distinct && row[i] - row[i - 1] > 1e-3f;
                }
            }
            const DevMat ld = upload_mat(logits, c.tokens, c.width);
            const DeviceBuffer ids_d = poisoned_ids(static_cast<size_t>(c.tokens * c.k));
            const DevMat wd = poisoned(c.tokens, c.k);
            check(b().route_top_k(ld.cols(0, c.experts), c.k, normalize, ids_d.i32(), wd.buffer.f32()), "route_top_k");
            const std::vector<int32_t> ids = fetch_ids(ids_d.i32(), static_cast<size_t>(c.tokens * c.k));
            const std::vector<float> weights = fetch(wd);

            std::vector<double> expected_w, scale(static_cast<size_t>(c.tokens * c.k), 1.0);
            for (int64_t t = 0; t < c.tokens; ++t) {
                const float* row = logits.data() + t * c.width;
                const double max = *std::max_element(row, row + c.experts);
                double sum = 0;
                for (int64_t e = 0; e < c.experts; ++e) sum += std::exp(row[e] - max);
                std::vector<int32_t> order(static_cast<size_t>(c.experts));
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
                double chosen = 0;
                for (int64_t j = 0; j < c.k; ++j) chosen += std::exp(row[order[j]] - max) / sum;
                for (int64_t j = 0; j < c.k; ++j) {
                    EXPECT_EQ(ids[t * c.k + j], order[j]) << "token " << t << " slot " << j;
                    const double p = std::exp(row[order[j]] - max) / sum;
                    expected_w.push_back(normalize ? p / chosen : p);
                }
            }
            expect_close(normalize ? "route_top_k normalized" : "route_top_k", weights, expected_w, scale, c.k, 1e-6);
        }
}

// out[t] = sum_j weights[t][j] x[t k + j].
TEST_P(Products, CombineExpertsIsTheWeightedSum) {
    std::mt19937 rng(5);
    for (const int64_t k : {1, 2, 4})
        for (const int64_t tokens : {1, 7}) {
            SCOPED_TRACE(fmt::format("k {}, {} tokens", k, tokens));
            constexpr int64_t cols = 333;
            const std::vector<float> x = random_values(rng, static_cast<size_t>(tokens * k * cols));
            std::vector<float> weights = random_values(rng, static_cast<size_t>(tokens * k), 0.5f, 1.0f);
            for (float& w : weights) w = std::fabs(w);
            const DevMat xd = upload_mat(x, tokens * k, cols);
            const DeviceBuffer wd = upload(weights);
            const DevMat out = poisoned(tokens, cols);
            check(b().combine_experts(xd.all(), wd.f32(), k, out.all()), "combine_experts");
            std::vector<double> ref, scale;
            for (int64_t t = 0; t < tokens; ++t)
                for (int64_t c = 0; c < cols; ++c) {
                    double sum = 0, magnitude = 0;
                    for (int64_t j = 0; j < k; ++j) {
                        const double p = static_cast<double>(weights[t * k + j]) * x[(t * k + j) * cols + c];
                        sum += p;
                        magnitude += std::fabs(p);
                    }
                    ref.push_back(sum);
                    scale.push_back(magnitude);
                }
            expect_close("combine_experts", fetch(out), ref, scale, cols, 1e-6);
        }
}

// An expert id outside the stack is an Error (from the op, or on a GPU from the next download);
// then a valid call works and gives the right result.
TEST_P(Products, OutOfRangeExpertIdsAreErrorsAndTheBackendRecovers) {
    std::mt19937 rng(52);

    constexpr int64_t kExperts = 4, rows = 37, cols = 96;
    const HostWeight& host = keep(make_weight(rng, TensorType::Q8_0, rows, cols, kExperts));
    const WeightMatrix experts = import(host);
    const std::vector<float> x = random_values(rng, 3 * cols);
    const DevMat xd = upload_mat(x, 3, cols);
    for (const int32_t bad : {int32_t{kExperts}, int32_t{-1}, int32_t{1000}}) {
        const DeviceBuffer ids = upload(std::vector<int32_t>{0, 1, 2, bad, 3, 0});
        const DevMat y = poisoned(6, rows);
        expect_reported(b().matmul_experts(experts, ids.i32(), 2, xd.all(), y.all()), y.buffer.f32(), y.size(),
                        fmt::format("matmul_experts with expert id {} of {}", bad, kExperts));
    }
    // A valid call afterwards gives each row its expert's product.
    const std::vector<int32_t> good = {0, 1, 2, 3, 3, 0};
    const DeviceBuffer ids = upload(good);
    const DevMat y = poisoned(6, rows);
    check(b().matmul_experts(experts, ids.i32(), 2, xd.all(), y.all()), "matmul_experts after the error");
    const std::vector<float> got = fetch(y);
    const EffectiveWeight values = effective_weight(host, experts);
    for (int64_t i = 0; i < 6; ++i)
        expect_product("matmul_experts after an id error", values.matrix(good[i]),
                       std::vector<float>(x.begin() + i / 2 * cols, x.begin() + (i / 2 + 1) * cols), 1,
                       std::vector<float>(got.begin() + i * rows, got.begin() + (i + 1) * rows));
}

INSTANTIATE_TEST_SUITE_P(Backends, Products, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace rf::test::ops
