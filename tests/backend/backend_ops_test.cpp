// Backend ops other than products and attention, against references written here: embed and
// gather_rows (bit-exact), rms_norm, rms_norm_heads, rope (Normal, Neox, partial rotation,
// frequency factors, YaRN), add, add_bias, scale (exact in f32), softcap, gated activations,
// softmax_rows; and the error paths (bad shapes, out-of-range ids) after which the backend must
// still work. The other op tests: backend_ops_matmul_test.cpp, backend_ops_attention_test.cpp.
#include <numbers>

#include "backend_ops_common.h"

namespace rf::test::ops {
namespace {

// Says once that only the CPU runs unless a GPU was asked for, and prints the worst errors.
class Announce : public ::testing::Environment {
public:
    void SetUp() override {
        if (!cuda_requested())
            std::printf("[backend ops] cuda not requested: set ROCMFORGE_TEST_DEVICE=cuda on a GPU machine\n");
    }
    void TearDown() override { ErrorLog::get().print(); }
};
[[maybe_unused]] ::testing::Environment* const kAnnounce = ::testing::AddGlobalTestEnvironment(new Announce);

// |ref| per element: for results a few f32 roundings from exact (relative error).
std::vector<double> magnitudes(const std::vector<double>& ref, double floor = 1e-30) {
    std::vector<double> m(ref.size());
    for (size_t i = 0; i < ref.size(); ++i) m[i] = std::fabs(ref[i]) + floor;
    return m;
}

// ---- table lookups --------------------------------------------------------------------------------

// Rows of a table in every weight format, into a contiguous and a strided output: bit-exact with
// the dequantized row (of the imported type, where a backend converted the table).
TEST_P(BackendOps, EmbedDequantizesTheRowsExactly) {
    std::mt19937 rng(11);
    const std::vector<int32_t> ids = {36, 0, 5, 5, 17, 36, 1};
    const int64_t n = static_cast<int64_t>(ids.size());
    const DeviceBuffer ids_d = upload(ids);
    for (const TensorType type : kWeightFormats) {
        const uint32_t block = tensor_type_info(type).block_size;
        const int64_t cols = block == 1 ? 45 : block == 32 ? 96 : 256;
        const HostWeight& host = keep(make_weight(rng, type, 37, cols));
        const WeightMatrix table = import(host);
        std::vector<float> expected;
        for (const int32_t id : ids) {
            const std::vector<float> row = effective_row(host, table.type, id);
            expected.insert(expected.end(), row.begin(), row.end());
        }
        const std::string op = "embed " + std::string(tensor_type_name(type));
        const DevMat out = poisoned(n, cols);
        check(b().embed(table, ids_d.i32(), out.all()), op);
        expect_exact(op, fetch(out), expected);
        const DevMat wide = poisoned(n, cols + 7, 3, cols);
        check(b().embed(table, ids_d.i32(), wide.cols(3, cols)), op + " strided");
        expect_exact(op + " strided", columns(fetch(wide), wide, 3, cols), expected);
    }
}

TEST_P(BackendOps, GatherRowsCopiesTheChosenRows) {
    std::mt19937 rng(12);
    const std::vector<float> x = random_values(rng, 13 * 80);
    const std::vector<int32_t> rows = {12, 0, 5, 5, 7, 12};
    const DevMat xd = upload_mat(x, 13, 80);
    const DeviceBuffer rows_d = upload(rows);
    const DevMat out = poisoned(6, 77);
    check(b().gather_rows(xd.cols(2, 77), rows_d.i32(), out.all()), "gather_rows");
    std::vector<float> expected;
    for (const int32_t r : rows) expected.insert(expected.end(), x.begin() + r * 80 + 2, x.begin() + r * 80 + 79);
    expect_exact("gather_rows", fetch(out), expected);
}

// ---- normalisation ----------------------------------------------------------------------------------

// x / sqrt(mean(x^2) + eps) * weight, in double.
std::vector<double> rms_normalized(const std::vector<float>& x, int64_t n, const float* weight, double eps) {
    std::vector<double> out(x.size());
    for (size_t g = 0; g < x.size() / static_cast<size_t>(n); ++g) {
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[g * n + i]) * x[g * n + i];
        const double scale = 1.0 / std::sqrt(sum / static_cast<double>(n) + eps);
        for (int64_t i = 0; i < n; ++i) out[g * n + i] = x[g * n + i] * scale * (weight ? weight[i] : 1.0);
    }
    return out;
}

TEST_P(BackendOps, RmsNormMatchesTheFormula) {
    std::mt19937 rng(21);
    for (const int64_t cols : {333, 4096})
        for (const bool weighted : {false, true})
            for (const bool in_place : {false, true}) {
                const std::string op = fmt::format("rms_norm{}{}", weighted ? " weighted" : "", in_place ? " in place" : "");
                SCOPED_TRACE(fmt::format("{}, {} values", op, cols));
                constexpr int64_t rows = 5;
                const float eps = cols == 333 ? 1e-6f : 1e-5f;
                const std::vector<float> x = random_values(rng, static_cast<size_t>(rows * cols));
                const std::vector<float> weight = random_values(rng, static_cast<size_t>(cols), 1.0f, 1.0f);
                const DeviceBuffer wd = upload(weight);
                const ParamVector pv = weighted ? ParamVector{wd.f32(), cols} : ParamVector{};
                const std::vector<double> ref = rms_normalized(x, cols, weighted ? weight.data() : nullptr, eps);
                std::vector<float> got;
                if (in_place) {
                    const DevMat xd = upload_mat(x, rows, cols);
                    check(b().rms_norm(xd.all(), pv, eps, xd.all()), op);
                    got = fetch(xd);
                } else {
                    // x: columns 4.. of a wider matrix; out contiguous.
                    std::vector<float> wide(static_cast<size_t>(rows * (cols + 9)), 3.0f);
                    for (int64_t r = 0; r < rows; ++r) std::copy_n(x.begin() + r * cols, cols, wide.begin() + r * (cols + 9) + 4);
                    const DevMat xd = upload_mat(wide, rows, cols + 9);
                    const DevMat out = poisoned(rows, cols);
                    check(b().rms_norm(xd.cols(4, cols), pv, eps, out.all()), op);
                    got = fetch(out);
                    EXPECT_EQ(fetch(xd), wide) << "rms_norm changed its input";
                }
                expect_close(op, got, ref, magnitudes(ref), cols, 1e-5);
            }
}

TEST_P(BackendOps, RmsNormHeadsNormalisesEachHead) {
    std::mt19937 rng(22);
    for (const int64_t head_dim : {64, 80})
        for (const bool weighted : {false, true}) {
            const std::string op = weighted ? "rms_norm_heads weighted" : "rms_norm_heads";
            SCOPED_TRACE(fmt::format("{}, heads of {}", op, head_dim));
            constexpr int64_t rows = 3, heads = 6;
            const std::vector<float> x = random_values(rng, static_cast<size_t>(rows * heads * head_dim));
            const std::vector<float> weight = random_values(rng, static_cast<size_t>(head_dim), 1.0f, 1.0f);
            const DeviceBuffer wd = upload(weight);
            const DevMat xd = upload_mat(x, rows, heads * head_dim);
            check(b().rms_norm_heads(xd.all(), head_dim, weighted ? ParamVector{wd.f32(), head_dim} : ParamVector{}, 1e-6f), op);
            const std::vector<double> ref = rms_normalized(x, head_dim, weighted ? weight.data() : nullptr, 1e-6);
            expect_close(op, fetch(xd), ref, magnitudes(ref), heads * head_dim, 1e-5);
        }
}

// ---- rotary position embedding ------------------------------------------------------------------

double ulp_of(double v) {
    const float f = static_cast<float>(std::fabs(v));
    return std::nextafter(f, std::numeric_limits<float>::infinity()) - f;
}

double yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, double beta, double base) {
    return n_dims * std::log(n_ctx_orig / (beta * 2 * std::numbers::pi)) / (2 * std::log(base));
}

struct RopeCase {
    std::string name;
    RopeStyle style;
    int64_t head_dim, heads, n_dims;
    float base, freq_scale = 1.0f, ext_factor = 0.0f, attn_factor = 1.0f;
    bool freq_factors = false;
};

// theta_i = pos * freq_scale * base^(-2i/n_dims) / freq_factor_i, YaRN-corrected when ext_factor
// > 0, following cpu_backend.cpp. The powers base^(-2i/n_dims) advance by repeated f32
// multiplication from an f32 ratio, as ggml and both backends define them (the f32 angle of a
// position in the thousands differs from the double one by far more than 1e-5), so that chain is
// done in f32 here too; the rest is double. The tolerance adds two f32 ulps of the angle for the
// f32 steps after the chain (division by the factor, the scaling, the YaRN mix).
TEST_P(BackendOps, RopeRotatesThePairs) {
    std::mt19937 rng(31);
    const std::vector<int32_t> positions = {0, 1, 7, 100, 1023, 4095, 33};
    const int64_t tokens = static_cast<int64_t>(positions.size());
    const DeviceBuffer pos_d = upload(positions);
    const std::vector<RopeCase> cases = {
        {"normal", RopeStyle::Normal, 64, 4, 64, 10000.0f},
        {"neox partial", RopeStyle::Neox, 64, 3, 32, 1e6f},
        {"neox freq factors", RopeStyle::Neox, 128, 2, 128, 500000.0f, 1.0f, 0.0f, 1.0f, true},
        {"normal linear partial", RopeStyle::Normal, 80, 2, 64, 10000.0f, 0.5f},
        {"normal yarn", RopeStyle::Normal, 64, 4, 64, 10000.0f, 0.25f, 1.0f, 1.0f},
        {"neox yarn partial", RopeStyle::Neox, 80, 3, 48, 1e6f, 0.125f, 0.5f, 0.9f, true},
    };
    for (const RopeCase& rc : cases) {
        SCOPED_TRACE(rc.name);
        const std::string op = "rope " + rc.name;
        const int64_t cols = rc.heads * rc.head_dim, width = cols + 40, first = 8;
        std::vector<float> x_all(static_cast<size_t>(tokens * width), kSentinel);
        const std::vector<float> x = random_values(rng, static_cast<size_t>(tokens * cols), 1.0f, 2.0f);
        for (int64_t t = 0; t < tokens; ++t) std::copy_n(x.begin() + t * cols, cols, x_all.begin() + t * width + first);
        std::vector<float> factors(static_cast<size_t>(rc.n_dims / 2));
        std::uniform_real_distribution<float> factor(1.0f, 8.0f);
        for (float& f : factors) f = factor(rng);
        const DeviceBuffer factors_d = upload(factors);

        RopeConfig config{.style = rc.style, .n_dims = rc.n_dims, .freq_base = rc.base, .freq_scale = rc.freq_scale,
                          .ext_factor = rc.ext_factor, .attn_factor = rc.attn_factor, .beta_fast = 32.0f,
                          .beta_slow = 1.0f, .n_ctx_orig = 4096};
        if (rc.freq_factors) config.freq_factors = {factors_d.f32(), rc.n_dims / 2};
        const DevMat xd = upload_mat(x_all, tokens, width);
        check(b().rope(xd.cols(first, cols), rc.head_dim, pos_d.i32(), config), op);
        const std::vector<float> got = columns(fetch(xd), xd, first, cols);

        const int64_t half = rc.n_dims / 2;
        double ramp_low = 0, ramp_high = 0, mscale = rc.attn_factor;
        if (rc.ext_factor != 0.0f) {
            ramp_low = std::max(0.0, std::floor(yarn_corr_dim(rc.n_dims, 4096, 32.0, rc.base)));
            ramp_high = std::min(rc.n_dims - 1.0, std::ceil(yarn_corr_dim(rc.n_dims, 4096, 1.0, rc.base)));
            mscale *= 1.0 + 0.1 * std::log(1.0 / rc.freq_scale);
        }
        const float theta_scale = std::pow(rc.base, -2.0f / static_cast<float>(rc.n_dims));
        std::vector<double> ref(x.begin(), x.end()), scale(x.size());
        for (size_t i = 0; i < scale.size(); ++i) scale[i] = 1e-30 + std::fabs(x[i]);  // unrotated: unchanged
        std::vector<bool> exact(x.size(), true);
        for (int64_t t = 0; t < tokens; ++t) {
            float power = static_cast<float>(positions[t]);  // pos * theta_scale^i, in f32
            for (int64_t i = 0; i < half; ++i, power *= theta_scale) {
                const double extrapolated = rc.freq_factors ? power / static_cast<double>(factors[i]) : power;
                double theta = extrapolated * rc.freq_scale;
                if (rc.ext_factor != 0.0f) {
                    const double y = (i - ramp_low) / std::max(0.001, ramp_high - ramp_low);
                    const double mix = (1.0 - std::clamp(y, 0.0, 1.0)) * rc.ext_factor;
                    theta = theta * (1 - mix) + extrapolated * mix;
                }
                const double slack = 1e-5 + 2 * ulp_of(theta);
                for (int64_t h = 0; h < rc.heads; ++h) {
                    const int64_t base = t * cols + h * rc.head_dim;
                    const int64_t a = base + (rc.style == RopeStyle::Normal ? 2 * i : i);
                    const int64_t b = base + (rc.style == RopeStyle::Normal ? 2 * i + 1 : i + half);
                    const double x0 = x[a], x1 = x[b], norm = std::hypot(x0, x1) * mscale;
                    ref[a] = (x0 * std::cos(theta) - x1 * std::sin(theta)) * mscale;
                    ref[b] = (x0 * std::sin(theta) + x1 * std::cos(theta)) * mscale;
                    scale[a] = scale[b] = norm * slack / 1e-5;  // checked against 1e-5 below
                    exact[a] = exact[b] = false;
                }
            }
        }
        expect_close(op, got, ref, scale, cols, 1e-5);
        // Dimensions past n_dims pass through bit for bit.
        std::vector<float> kept_got, kept_ref;
        for (size_t i = 0; i < x.size(); ++i)
            if (exact[i]) {
                kept_got.push_back(got[i]);
                kept_ref.push_back(x[i]);
            }
        if (!kept_ref.empty()) expect_exact(op + " unrotated", kept_got, kept_ref);
    }
}

// ---- element-wise -----------------------------------------------------------------------------------

// Sums and products of two floats are exact in double, so rounding that once gives the f32 result.
TEST_P(BackendOps, AddAddBiasAndScaleAreExactInF32) {
    std::mt19937 rng(41);
    constexpr int64_t rows = 5, cols = 77;
    const std::vector<float> a = random_values(rng, rows * cols), bias = random_values(rng, cols);
    const std::vector<float> b_wide = random_values(rng, rows * (cols + 3));
    std::vector<float> sum(rows * cols), biased(rows * cols), scaled(rows * cols);
    const float s = -0.37f;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const size_t i = static_cast<size_t>(r * cols + c);
            sum[i] = static_cast<float>(static_cast<double>(a[i]) + b_wide[r * (cols + 3) + 1 + c]);
            biased[i] = static_cast<float>(static_cast<double>(a[i]) + bias[c]);
            scaled[i] = static_cast<float>(static_cast<double>(a[i]) * s);
        }
    const DevMat bd = upload_mat(b_wide, rows, cols + 3);
    {
        const DevMat ad = upload_mat(a, rows, cols), out = poisoned(rows, cols);
        check(b().add(ad.all(), bd.cols(1, cols), out.all()), "add");
        expect_exact("add", fetch(out), sum);
        EXPECT_EQ(fetch(ad), a) << "add changed an input";
        check(b().add(ad.all(), bd.cols(1, cols), ad.all()), "add in place");
        expect_exact("add in place", fetch(ad), sum);
    }
    {
        const DevMat ad = upload_mat(a, rows, cols);
        const DeviceBuffer bias_d = upload(bias);
        check(b().add_bias(ad.all(), {bias_d.f32(), cols}), "add_bias");
        expect_exact("add_bias", fetch(ad), biased);
    }
    {
        const DevMat ad = upload_mat(a, rows, cols);
        check(b().scale(ad.all(), s), "scale");
        expect_exact("scale", fetch(ad), scaled);
    }
}

// Each op reads what the one before it wrote, in one step (captured as a graph where the backend
// does that), over enough blocks that kernels overlap if they can: on a GPU whose launches may
// start before the previous kernel ends (dependent launches), an op that read its input early would
// see the value from two ops before, and the count would come out short.
TEST_P(BackendOps, OpsInAChainSeeEachOthersWrites) {
    constexpr int64_t rows = 64, cols = 4096;
    constexpr int kRounds = 100;
    std::vector<float> start(rows * cols);
    for (size_t i = 0; i < start.size(); ++i) start[i] = static_cast<float>(i % 1000);
    const DevMat ones = upload_mat(std::vector<float>(rows * cols, 1.0f), rows, cols);
    const DevMat x = upload_mat(start, rows, cols), y = poisoned(rows, cols);
    check(b().begin_step(), "begin_step");
    for (int round = 0; round < kRounds; ++round) {
        check(b().add(x.all(), ones.all(), y.all()), "add");  // y = x + 1
        check(b().scale(y.all(), -1.0f), "scale");            // y = -(x + 1)
        check(b().scale(y.all(), -1.0f), "scale");            // y = x + 1
        check(b().add(y.all(), ones.all(), x.all()), "add");  // x = x + 2
    }
    check(b().end_step(), "end_step");
    std::vector<float> expected(start);
    for (float& v : expected) v += 2 * kRounds;
    expect_exact("a chain of adds and scales", fetch(x), expected);
}

TEST_P(BackendOps, SoftcapIsCapTimesTanh) {
    std::mt19937 rng(42);
    const std::vector<float> x = random_values(rng, 4 * 1000, 8.0f);
    for (const float cap : {30.0f, 5.0f}) {
        const DevMat xd = upload_mat(x, 4, 1000);
        check(b().softcap(xd.all(), cap), "softcap");
        std::vector<double> ref(x.size());
        for (size_t i = 0; i < x.size(); ++i) ref[i] = cap * std::tanh(static_cast<double>(x[i]) / cap);
        expect_close("softcap", fetch(xd), ref, magnitudes(ref), 1000, 1e-5);
    }
}

// GELU (tanh form) as the CPU defines it (cpu_backend.cpp, after ggml's 64K-entry table): the
// input rounded to f16, the formula evaluated in f32, the result rounded to f16, saturating
// outside [-10, 10]. A table of f16 values, so it is built here the same way: in double, 1 + tanh
// cancels for negative inputs and the result differs from the f32 table by several f16 steps near
// zero. A backend whose tanh differs from glibc's in the last f32 place may land one f16 step
// away: `step` is the f16 spacing at the result (0 where the result is the input itself).
float gelu_tanh_table(float v, float& step) {
    step = 0.0f;
    if (v <= -10.0f) return 0.0f;
    if (v >= 10.0f) return v;
    const float k = static_cast<float>(std::sqrt(2.0 / std::numbers::pi));
    const float x = quant::fp16_to_f32(quant::f32_to_fp16(v));
    const uint16_t bits = quant::f32_to_fp16(0.5f * x * (1.0f + std::tanh(k * x * (1.0f + 0.044715f * x * x))));
    const uint16_t magnitude = bits & 0x7fff;
    step = quant::fp16_to_f32(static_cast<uint16_t>(magnitude + 1)) - quant::fp16_to_f32(magnitude);
    return quant::fp16_to_f32(bits);
}

TEST_P(BackendOps, GatedActivationsMatchTheirFormulas) {
    std::mt19937 rng(43);
    struct Shape {
        int64_t rows, cols;
    };
    for (const GatedActivation act : {GatedActivation::Silu, GatedActivation::GeluTanh})
        for (const Shape shape : {Shape{3, 1000}, Shape{1, 5000}, Shape{4, 11}}) {
            const std::string op = act == GatedActivation::Silu ? "gated silu" : "gated gelu_tanh";
            SCOPED_TRACE(fmt::format("{}, {}x{}", op, shape.rows, shape.cols));
            const int64_t n = shape.cols;
            // gate and up: the halves of a fused gate+up projection.
            const std::vector<float> fused = random_values(rng, static_cast<size_t>(shape.rows * 2 * n), 2.0f);
            const DevMat fd = upload_mat(fused, shape.rows, 2 * n);
            const DevMat out = poisoned(shape.rows, n);
            check(b().gated_activation(act, fd.cols(0, n), fd.cols(n, n), out.all()), op);
            std::vector<double> ref, scale;
            for (int64_t r = 0; r < shape.rows; ++r)
                for (int64_t c = 0; c < n; ++c) {
                    const float g = fused[r * 2 * n + c], u = fused[r * 2 * n + n + c];
                    if (act == GatedActivation::Silu) {
                        ref.push_back(g / (1.0 + std::exp(-static_cast<double>(g))) * u);
                        scale.push_back(std::fabs(ref.back()) + 1e-30);
                    } else {
                        float step = 0.0f;
                        ref.push_back(static_cast<double>(gelu_tanh_table(g, step)) * u);
                        // 1e-5 of the result, or one f16 step of the activation times |up|.
                        scale.push_back(std::fabs(ref.back()) + step * std::fabs(u) / 1e-5 + 1e-30);
                    }
                }
            expect_close(op, fetch(out), ref, scale, n, 1e-5);
        }
}

TEST_P(BackendOps, SoftmaxRowsMatchesTheFormula) {
    std::mt19937 rng(44);
    for (const int64_t cols : {1, 7, 1000, 4099}) {
        constexpr int64_t rows = 4;
        const std::vector<float> x = random_values(rng, static_cast<size_t>(rows * (cols + 2)), 4.0f);
        std::vector<float> x_all = x;
        const DevMat xd = upload_mat(x_all, rows, cols + 2);
        check(b().softmax_rows(xd.cols(1, cols)), "softmax_rows");
        const std::vector<float> all = fetch(xd);
        std::vector<float> got;
        std::vector<double> ref;
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = x.data() + r * (cols + 2) + 1;
            const double max = *std::max_element(row, row + cols);
            double sum = 0;
            for (int64_t c = 0; c < cols; ++c) sum += std::exp(row[c] - max);
            for (int64_t c = 0; c < cols; ++c) {
                ref.push_back(std::exp(row[c] - max) / sum);
                got.push_back(all[r * (cols + 2) + 1 + c]);
            }
            EXPECT_EQ(all[r * (cols + 2)], x[r * (cols + 2)]) << "softmax_rows wrote outside its columns";
            EXPECT_EQ(all[r * (cols + 2) + cols + 1], x[r * (cols + 2) + cols + 1]) << "softmax_rows wrote outside its columns";
        }
        expect_close("softmax_rows", got, ref, magnitudes(ref), cols, 1e-5);
    }
}

// ---- errors ------------------------------------------------------------------------------------------

// Shapes that do not fit are Errors, not crashes, and the backend keeps working.
TEST_P(BackendOps, BadShapesAreErrors) {
    std::mt19937 rng(51);
    const HostWeight& host = keep(make_weight(rng, TensorType::Q8_0, 37, 96));
    const WeightMatrix w = import(host);
    const DevMat x = upload_mat(random_values(rng, 3 * 128), 3, 128);
    const DevMat y = poisoned(3, 37);
    EXPECT_FALSE(b().matmul(w, x.cols(0, 64), y.all()).ok()) << "matmul: x of 64 columns for a weight of 96";
    EXPECT_FALSE(b().matmul(w, x.cols(0, 96), y.cols(0, 30)).ok()) << "matmul: y of 30 columns for 37 rows";
    EXPECT_FALSE(b().matmul(w, x.cols(0, 96).first_rows(2), y.all()).ok()) << "matmul: 2 rows of x, 3 of y";
    const DeviceBuffer ids = upload(std::vector<int32_t>{0, 0, 0});
    EXPECT_FALSE(b().matmul_experts(w, ids.i32(), 2, x.cols(0, 96), y.all()).ok()) << "matmul_experts: 3 rows for k = 2";
    const DeviceBuffer weight = upload(random_values(rng, 100));
    EXPECT_FALSE(b().rms_norm(x.all(), {weight.f32(), 100}, 1e-5f, x.all()).ok()) << "rms_norm: weight of 100 for 128";
    EXPECT_FALSE(b().rms_norm(x.all(), {}, 1e-5f, y.all()).ok()) << "rms_norm: out of another shape";
    EXPECT_FALSE(b().rms_norm_heads(x.all(), 48, {weight.f32(), 100}, 1e-5f).ok()) << "rms_norm_heads: weight of 100";
    EXPECT_FALSE(b().rms_norm_heads(x.all(), 60, {}, 1e-5f).ok()) << "rms_norm_heads: 128 values in heads of 60";
    EXPECT_FALSE(b().rope(x.all(), 64, ids.i32(), RopeConfig{.n_dims = 31}).ok()) << "rope: odd n_dims";
    EXPECT_FALSE(b().rope(x.all(), 64, ids.i32(), RopeConfig{.n_dims = 96}).ok()) << "rope: n_dims > head_dim";
    EXPECT_FALSE(b().add(x.all(), y.all(), y.all()).ok()) << "add: shapes differ";
    EXPECT_FALSE(b().add_bias(x.all(), {weight.f32(), 100}).ok()) << "add_bias: bias of 100 for 128";
    EXPECT_FALSE(b().softcap(x.all(), 0.0f).ok()) << "softcap: cap 0";
    EXPECT_FALSE(b().gated_activation(GatedActivation::Silu, x.all(), y.all(), y.all()).ok()) << "gated: shapes differ";
    EXPECT_FALSE(b().route_top_k(y.all(), 38, true, ids.i32(), weight.f32()).ok()) << "route_top_k: 38 of 37";
    EXPECT_FALSE(b().combine_experts(x.all(), weight.f32(), 2, y.all()).ok()) << "combine_experts: shapes differ";
    EXPECT_FALSE(b().embed(w, ids.i32(), y.all()).ok()) << "embed: 37 columns for rows of 96";
    EXPECT_FALSE(b().gather_rows(x.all(), ids.i32(), y.all()).ok()) << "gather_rows: 128 columns into 37";
    // The backend still works.
    const std::vector<float> before = fetch(x);
    check(b().scale(x.all(), 2.0f), "scale after errors");
    std::vector<float> doubled = before;
    for (float& v : doubled) v *= 2.0f;
    expect_exact("scale after errors", fetch(x), doubled);
}

// Out-of-range token and row ids are Errors (from the op, or on a GPU from the next download);
// then a valid call works. (Expert ids: backend_ops_matmul_test.cpp; cache slots:
// backend_ops_attention_test.cpp.)
TEST_P(BackendOps, OutOfRangeIdsAreErrorsAndTheBackendRecovers) {
    std::mt19937 rng(52);
    constexpr int64_t cols = 96;
    const std::vector<float> x = random_values(rng, 3 * cols);
    const DevMat xd = upload_mat(x, 3, cols);
    const HostWeight& table_host = keep(make_weight(rng, TensorType::Q4_K, 10, 256));
    const WeightMatrix table = import(table_host);
    {
        const DeviceBuffer bad = upload(std::vector<int32_t>{3, 10});
        const DevMat out = poisoned(2, 256);
        expect_reported(b().embed(table, bad.i32(), out.all()), out.buffer.f32(), out.size(), "embed of token 10 of 10");
        const DeviceBuffer ok = upload(std::vector<int32_t>{3, 9});
        check(b().embed(table, ok.i32(), out.all()), "embed after the error");
        std::vector<float> expected = effective_row(table_host, table.type, 3), last = effective_row(table_host, table.type, 9);
        expected.insert(expected.end(), last.begin(), last.end());
        expect_exact("embed after an id error", fetch(out), expected);
    }
    {
        const DeviceBuffer bad = upload(std::vector<int32_t>{-1, 2});
        const DevMat out = poisoned(2, cols);
        expect_reported(b().gather_rows(xd.all(), bad.i32(), out.all()), out.buffer.f32(), out.size(), "gather_rows of row -1");
        const DeviceBuffer ok = upload(std::vector<int32_t>{2, 0});
        check(b().gather_rows(xd.all(), ok.i32(), out.all()), "gather_rows after the error");
        std::vector<float> expected(x.begin() + 2 * cols, x.end());
        expected.insert(expected.end(), x.begin(), x.begin() + cols);
        expect_exact("gather_rows after an id error", fetch(out), expected);
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendOps, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace rf::test::ops
