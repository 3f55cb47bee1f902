// The CUDA backend's operations: each checks shapes on the host, as the CPU backend does, and
// enqueues its kernels (kernels.h). Checks of values that live in device memory (token and expert
// ids, cache slots) are the kernels' own, reported through the fault word at the next download.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <strings.h>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/kv_checks.h"

namespace rf::gpu {
namespace {

Mat mat(const Act& a) { return {a.data, a.rows, a.cols, a.stride}; }

// Whether a's memory and b's may share a float.
bool overlaps(const Act& a, const Act& b) {
    const auto end = [](const Act& m) { return m.data + (m.rows > 0 ? (m.rows - 1) * m.stride + m.cols : 0); };
    return a.data < end(b) && b.data < end(a);
}
bool same_shape(const Act& a, const Act& b) { return a.rows == b.rows && a.cols == b.cols; }

// Products of at least this many tokens go through the BLAS library's tensor cores: F16 and BF16
// weights as stored, from a few more tokens than the direct kernels' tile; quantized weights
// decoded to f16 first (about two passes over the f16 copy, repaid from a few dozen tokens on).
// Fewer tokens read the blocks directly. The two differ (f16 operands, other sums): a
// batch-invariant backend takes only the direct kernels, so that a sequence's results do not
// depend on what else is in its step.
int64_t blas_min_tokens(TensorType type) {
    return type == TensorType::F16 || type == TensorType::BF16 ? 16 : 32;
}
// Products of a few to a few dozen tokens in the int8 formats (the batched steps of serving; up to
// int8_max_tokens_) read the weights once on int8 tensor cores; one token stays with the gemv (no
// mma work to waste).
constexpr int64_t kInt8MinTokens = 2;
constexpr int64_t kBlasChunkValues = int64_t{1} << 25;  // 64 MiB of decoded f16 weights per chunk

Status rows_fit(std::string_view op, int64_t rows) {
    if (rows > kMaxGridRows) return make_error("{}: {} rows in one step are more than {}", op, rows, kMaxGridRows);
    return ok_status();
}

// YaRN: the dimensions whose wavelength fits the training context keep interpolated frequencies.
double yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, double beta, double base) {
    return n_dims * std::log(n_ctx_orig / (beta * 2 * std::numbers::pi)) / (2 * std::log(base));
}

}  // namespace

Status CudaBackend::add(const Act& a, const Act& b, const Act& out) {
    if (!same_shape(a, b) || !same_shape(a, out)) return make_error("add: shapes do not match");
    return launched(launch_map(op_stream(), MapOp::Add, mat(a), mat(b), 0.0f, mat(out)), "add");
}

Status CudaBackend::add_bias(const Act& x, ParamVector bias) {
    if (bias.size != x.cols) return make_error("add_bias: {} values, bias of {}", x.cols, bias.size);
    const Mat b{const_cast<float*>(bias.data), 1, bias.size, bias.size};
    return launched(launch_map(op_stream(), MapOp::AddBias, mat(x), b, 0.0f, mat(x)), "add_bias");
}

Status CudaBackend::scale(const Act& x, float s) {
    return launched(launch_map(op_stream(), MapOp::Scale, mat(x), mat(x), s, mat(x)), "scale");
}

Status CudaBackend::softcap(const Act& x, float cap) {
    if (!(cap > 0.0f)) return make_error("softcap: the cap must be positive, got {}", cap);
    return launched(launch_map(op_stream(), MapOp::Softcap, mat(x), mat(x), cap, mat(x)), "softcap");
}

std::optional<int> CudaBackend::packing_hint(const Act& out) const {
    const auto it = input_hints_.find(out.data);
    if (it == input_hints_.end() || it->second.rows != out.rows || it->second.cols != out.cols ||
        !packable_format(it->second.format, out.cols))
        return std::nullopt;
    return it->second.format;
}

Status CudaBackend::launched_packed(gpuError_t err, std::string_view op, const Act& out, int format) {
    RF_TRY(launched(err, op));
    quantized_ = QuantizedInput{mat(out), format};
    return ok_status();
}

Status CudaBackend::gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) {
    if (!same_shape(gate, up) || !same_shape(gate, out)) return make_error("gated activation: shapes do not match");
    const MapOp op = act == GatedActivation::Silu ? MapOp::Silu : MapOp::GeluTanh;
    if (const std::optional<int> format = packing_hint(out); format && !overlaps(out, gate) && !overlaps(out, up)) {
        RF_ASSIGN_OR_RETURN(void* scratch0, scratch(0, gemv_scratch_bytes(out.rows, out.cols)));
        return launched_packed(launch_gated_packed(op_stream(), op, mat(gate), mat(up), mat(out), *format, scratch0,
                                                   next_product_prefetch(out.rows)),
                               "gated activation (packed)", out, *format);
    }
    return launched(launch_map(op_stream(), op, mat(gate), mat(up), 0.0f, mat(out)), "gated activation");
}

Status CudaBackend::softmax_rows(const Act& x) { return launched(launch_softmax(op_stream(), mat(x)), "softmax"); }

Status CudaBackend::gather_rows(const Act& x, const int32_t* rows, const Act& out) {
    if (x.cols != out.cols) return make_error("gather_rows: shapes do not match");
    RF_TRY(rows_fit("gather_rows", out.rows));
    return launched(launch_gather(op_stream(), mat(x), rows, mat(out), fault_word()), "gather_rows");
}

Status CudaBackend::rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) {
    if (!same_shape(x, out) || (weight.data && weight.size != x.cols))
        return make_error("rms_norm: shapes do not match ({} values, weight {})", x.cols, weight.size);
    RF_TRY(rows_fit("rms_norm", x.rows));
    if (const std::optional<int> format = packing_hint(out)) {
        RF_ASSIGN_OR_RETURN(void* scratch0, scratch(0, gemv_scratch_bytes(out.rows, out.cols)));
        return launched_packed(launch_rms_norm_packed(op_stream(), mat(x), weight.data, eps, mat(out), *format, scratch0,
                                                      next_product_prefetch(x.rows)),
                               "rms_norm (packed)", out, *format);
    }
    return launched(launch_rms_norm(op_stream(), mat(x), 1, x.cols, weight.data, eps, mat(out)), "rms_norm");
}

Status CudaBackend::rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) {
    if (head_dim <= 0 || x.cols % head_dim != 0 || (weight.data && weight.size != head_dim))
        return make_error("rms_norm_heads: {} values do not split into heads of {}", x.cols, head_dim);
    RF_TRY(rows_fit("rms_norm_heads", x.rows));
    return launched(launch_rms_norm(op_stream(), mat(x), x.cols / head_dim, head_dim, weight.data, eps, mat(x)),
                     "rms_norm_heads");
}

namespace {

// The kernels' RoPE parameters for rows of x in heads of head_dim, checked.
Result<RopeParams> rope_params(const Act& x, int64_t head_dim, const RopeConfig& c) {
    if (head_dim <= 0 || x.cols % head_dim != 0 || c.n_dims <= 0 || c.n_dims > head_dim || c.n_dims % 2 != 0)
        return make_error("rope: bad dimensions (row {}, head {}, rotated {})", x.cols, head_dim, c.n_dims);
    if (c.freq_factors.data && c.freq_factors.size != c.n_dims / 2)
        return make_error("rope: {} frequency factors for {} rotated pairs", c.freq_factors.size, c.n_dims / 2);
    RF_TRY(rows_fit("rope", x.rows));
    RopeParams p{.n_heads = x.cols / head_dim,
                 .head_dim = head_dim,
                 .half = c.n_dims / 2,
                 .neox = c.style == RopeStyle::Neox,
                 .theta_scale = std::pow(c.freq_base, -2.0f / static_cast<float>(c.n_dims)),
                 .freq_scale = c.freq_scale,
                 .ext_factor = c.ext_factor,
                 .mscale = c.attn_factor,
                 .ramp_low = 0,
                 .ramp_high = 0,
                 .freq_factors = c.freq_factors.data};
    if (c.ext_factor != 0.0f) {
        p.ramp_low = static_cast<float>(
            std::max(0.0, std::floor(yarn_corr_dim(c.n_dims, c.n_ctx_orig, c.beta_fast, c.freq_base))));
        p.ramp_high = static_cast<float>(
            std::min(c.n_dims - 1.0, std::ceil(yarn_corr_dim(c.n_dims, c.n_ctx_orig, c.beta_slow, c.freq_base))));
        p.mscale *= 1.0f + 0.1f * std::log(1.0f / c.freq_scale);
    }
    return p;
}

}  // namespace

Status CudaBackend::rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& c) {
    RF_ASSIGN_OR_RETURN(const RopeParams p, rope_params(x, head_dim, c));
    return launched(launch_rope(op_stream(), mat(x), positions, p), "rope");
}

Status CudaBackend::rope_store_kv(KvStorage& cache, int64_t layer, const Act& q, const Act& k, const Act& v,
                                  int64_t head_dim, const RopeConfig& c, const BatchLayout& batch) {
    auto& kv = static_cast<CudaKvStorage&>(cache);
    const KvCacheShape& s = kv.shape();
    RF_TRY(check_store_kv(s, layer, k, v, batch));
    if (q.rows != k.rows || head_dim <= 0 || k.cols % head_dim != 0)
        return make_error("rope_store_kv: keys of {}x{} for queries of {}x{} in heads of {}", k.rows, k.cols, q.rows,
                          q.cols, head_dim);
    RF_ASSIGN_OR_RETURN(const RopeParams p, rope_params(q, head_dim, c));
    return launched(launch_rope_store_kv(op_stream(), s.type == KvType::F16, mat(q), mat(k), mat(v), batch.positions, p,
                                         kv.keys(layer), kv.values(layer), batch.kv_slots, kv.slots(), fault_word()),
                    "rope + store_kv");
}

Status CudaBackend::route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) {
    if (k <= 0 || k > logits.cols) return make_error("route_top_k: cannot pick {} of {} experts", k, logits.cols);
    return launched(launch_route(op_stream(), mat(logits), k, normalize, ids, weights), "route_top_k");
}

Status CudaBackend::combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) {
    if (k <= 0 || x.rows != out.rows * k || x.cols != out.cols) return make_error("combine_experts: shapes do not match");
    RF_TRY(rows_fit("combine_experts", out.rows));
    return launched(launch_combine(op_stream(), mat(x), weights, k, mat(out)), "combine_experts");
}

int64_t CudaBackend::count_from_env(const char* name, int64_t fallback) {
    const char* env = std::getenv(name);
    if (!env || !*env) return fallback;
    for (const char* off : {"off", "false", "no"})
        if (strcasecmp(env, off) == 0) return 0;
    for (const char* on : {"on", "true", "yes"})
        if (strcasecmp(env, on) == 0) return 1;
    char* end = nullptr;
    const long long v = std::strtoll(env, &end, 10);
    if (*end == '\0' && v >= 0) return v;
    std::fprintf(stderr, "cuda: %s=%s is not a whole number >= 0 (nor on/off): %lld kept\n", name, env,
                 static_cast<long long>(fallback));
    return fallback;
}

ProductParams CudaBackend::product_params(const WeightMatrix& w, const int32_t* ids, int64_t k, const Act& y) const {
    return {.type = w.type,
            .w = w.data,
            .row_bytes = w.row_bytes,
            .matrix_bytes = w.matrix_bytes(),
            .rows = w.rows,
            .cols = w.cols,
            .count = w.count,
            .y = y.data,
            .y_rows = y.rows,
            .y_stride = y.stride,
            .ids = ids,
            .k = std::max<int64_t>(k, 1),
            .fault = fault_word()};
}

CudaBackend::ProductPath CudaBackend::product_path(const WeightMatrix& w, bool expert_ids, int64_t tokens) const {
    const bool batched = !expert_ids && !batch_invariant_;
    if (batched && tokens >= kInt8MinTokens && tokens <= int8_max_tokens_ &&
        int8_product_supports(w.type, w.data, w.row_bytes, w.matrix_bytes(), w.cols))
        return ProductPath::Int8;
    if (batched && tokens >= blas_min_tokens(w.type) && w.cols % 32 == 0) return ProductPath::Blas;
    return gemv_supports(w.type, w.data, w.row_bytes, w.matrix_bytes(), w.cols) ? ProductPath::Gemv : ProductPath::Generic;
}

// Off unless ROCMFORGE_GPU_PREFETCH=1: measured on an H100 (docs/performance.md, seventh round), a
// decode step was 14% slower with it (the kernels that issue the prefetches last until they land).
bool CudaBackend::prefetch_from_env() {
    const char* env = std::getenv("ROCMFORGE_GPU_PREFETCH");
    return env && std::string_view(env) == "1";
}

static_assert(kMaxGemvGroup <= L2Prefetch::kRanges, "a grouped launch's weights are one prefetch");

void CudaBackend::note_product(std::span<const WeightMatrix* const> weights, int64_t rows) {
    if (!in_step_) return;
    ProductWeights entry{};
    entry.rows = rows;
    if (!weights.empty() && weights.size() <= static_cast<size_t>(L2Prefetch::kRanges)) {
        // A share of the L2 cache (50 MiB on an H100), split between the ranges: the first bytes
        // are the ones the product would wait for; more would evict what the step still reads.
        constexpr int64_t kPrefetchBytes = 16 << 20;
        const int64_t share = kPrefetchBytes / static_cast<int64_t>(weights.size());
        for (size_t i = 0; i < weights.size(); ++i) {
            entry.owners[i] = weights[i]->storage.watch();
            entry.ranges.data[i] = weights[i]->data;
            entry.ranges.bytes[i] = std::min(static_cast<int64_t>(weights[i]->matrix_bytes()), share);
        }
    }
    step_products_.push_back(std::move(entry));
}

L2Prefetch CudaBackend::next_product_prefetch(int64_t rows) const {
    constexpr int64_t kMaxRows = 16;  // a decode step's; larger products are bound by arithmetic
    const size_t next = step_products_.size();
    if (!prefetch_on_ || !in_step_ || rows > kMaxRows || next >= last_step_products_.size()) return L2Prefetch{};
    const ProductWeights& entry = last_step_products_[next];
    if (entry.rows != rows) return L2Prefetch{};
    for (int i = 0; i < L2Prefetch::kRanges; ++i)
        if (entry.ranges.bytes[i] > 0 && entry.owners[i].expired()) return L2Prefetch{};
    return entry.ranges;
}

Result<void*> CudaBackend::gemv_input(const Act& x, TensorType type) {
    RF_ASSIGN_OR_RETURN(void* packed, scratch(0, gemv_scratch_bytes(x.rows, x.cols)));
    const QuantizedInput wanted{mat(x), gemv_input_format(type)};
    if (!(quantized_ && *quantized_ == wanted)) {
        quantized_.reset();
        RF_TRY(gpu_check(launch_gemv_quantize(op_stream(), type, mat(x), packed), "quantizing activations"));
        quantized_ = wanted;
    }
    input_hints_[x.data] = InputHint{x.rows, x.cols, wanted.format};
    return packed;
}

Status CudaBackend::product(const WeightMatrix& w, const int32_t* ids, int64_t k, const Act& x, const Act& y,
                            bool accumulate) {
    if (y.rows == 0) return ok_status();
    const int block = rounding_block(w.type);
    if (x.cols % block != 0) return make_error("matmul: {} inputs are not whole blocks of {}", x.cols, block);
    const ProductPath path = product_path(w, ids != nullptr, y.rows);
    const WeightMatrix* weights[] = {&w};
    note_product(ids == nullptr && (path == ProductPath::Gemv || path == ProductPath::Int8)
                     ? std::span<const WeightMatrix* const>(weights)
                     : std::span<const WeightMatrix* const>(),
                 y.rows);
    if (path == ProductPath::Blas) {
        if (!accumulate) return blas_product(w, x, y);
        // The library's product lands in a buffer of its own, then the add (as matmul and add would).
        RF_ASSIGN_OR_RETURN(void* buffer, scratch(2, static_cast<size_t>(y.rows * y.cols) * sizeof(float)));
        const Act product{static_cast<float*>(buffer), y.rows, y.cols, y.cols};
        RF_TRY(blas_product(w, x, product));
        return add(y, product, y);
    }
    ProductParams p = product_params(w, ids, k, y);
    p.accumulate = accumulate;
    gpuError_t err = gpuSuccess;
    if (path == ProductPath::Generic) {
        quantized_.reset();
        RF_ASSIGN_OR_RETURN(void* packed, scratch(0, static_cast<size_t>(x.rows * x.cols) * sizeof(float)));
        err = launch_product(op_stream(), mat(x), static_cast<float*>(packed), p);
    } else {
        RF_ASSIGN_OR_RETURN(void* packed, gemv_input(x, w.type));
        SplitWorkspace ws;
        if (path == ProductPath::Int8 && int8_tiles_ && int8_tiles_supports(w.type, w.data, w.row_bytes, w.cols)) {
            RF_ASSIGN_OR_RETURN(ws, split_workspace(w.rows, y.rows, w.cols));
        }
        err = path == ProductPath::Int8 ? launch_int8_product(op_stream(), x.rows, packed, p, int8_tiles_, ws)
                                        : launch_gemv(op_stream(), x.rows, packed, p, gemv_options_);
        if (overlaps(y, x)) quantized_.reset();
    }
    if (err != gpuSuccess)
        return gpu_check(err, fmt::format("{} product {}x{}", tensor_type_name(w.type), w.rows, w.cols));
    if (profile_.on())
        profile_.op_done(stream_, fmt::format("{} {}", path == ProductPath::Int8 ? "int8" : path == ProductPath::Gemv ? "gemv" : "product",
                                              tensor_type_name(w.type)));
    return graph_.after_op(stream_);
}

// Q, K and V (gate and up) of one or a few tokens: one gemv launch for all where they share a
// format (each row's sum is the one matmul computes); otherwise one product each, which still
// share the quantized input.
Status CudaBackend::matmuls(const Act& x, std::span<const MatmulOutput> products) {
    const auto groupable = [&] {
        if (products.size() < 2 || products.size() > static_cast<size_t>(kMaxGemvGroup) || x.rows == 0) return false;
        for (const MatmulOutput& o : products) {
            const WeightMatrix& w = *o.w;
            if (w.type != products[0].w->type || w.count != 1 || w.cols != x.cols || o.y.cols != w.rows ||
                o.y.rows != x.rows || product_path(w, false, x.rows) != ProductPath::Gemv || overlaps(o.y, x))
                return false;
        }
        return true;
    };
    if (!groupable()) return Backend::matmuls(x, products);
    const TensorType type = products[0].w->type;
    if (x.cols % rounding_block(type) != 0) return make_error("matmul: {} inputs are not whole blocks of {}", x.cols, rounding_block(type));
    const WeightMatrix* weights[kMaxGemvGroup];
    for (size_t i = 0; i < products.size(); ++i) weights[i] = products[i].w;
    note_product(std::span<const WeightMatrix* const>(weights, products.size()), x.rows);
    RF_ASSIGN_OR_RETURN(void* packed, gemv_input(x, type));
    ProductParams ps[kMaxGemvGroup];
    for (size_t i = 0; i < products.size(); ++i) ps[i] = product_params(*products[i].w, nullptr, 1, products[i].y);
    const int n = static_cast<int>(products.size());
    if (gpuError_t err = launch_gemv_group(op_stream(), x.rows, packed, ps, n, gemv_options_); err != gpuSuccess)
        return gpu_check(err, fmt::format("{} {} products of one input", n, tensor_type_name(type)));
    if (profile_.on()) profile_.op_done(stream_, fmt::format("gemv {} x{}", tensor_type_name(type), n));
    return graph_.after_op(stream_);
}

// Row-major y[t][r] = sum_c W[r][c] x[t][c] is, in the library's column-major terms,
// y^T (rows x t, leading dimension y.stride) = op_T(W, cols x rows) * X^T (cols x t). F32 weights
// take the f32 product on the unrounded activations (as the direct kernels do); all others the
// tensor cores on 16-bit operands (kernels.h, cuda_half_products.cu) with f32 sums.
Status CudaBackend::blas_product(const WeightMatrix& w, const Act& x, const Act& y) {
    RF_TRY(graph_.direct(stream_));  // library calls stay out of the step's graphs
    const int rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols), tokens = static_cast<int>(x.rows);
    const int ldc = static_cast<int>(y.stride);
    const auto failed = [&](gpublasStatus_t st) {
        return make_error("GPU: {} product {}x{} failed in the BLAS library (status {})", tensor_type_name(w.type),
                          w.rows, w.cols, static_cast<int>(st));
    };
    if (w.type == TensorType::F32) {
        quantized_.reset();
        // x as it is, or a copy where y overlaps it (the library would read what it writes).
        Mat input = mat(x);
        if (overlaps(y, x)) {
            RF_ASSIGN_OR_RETURN(void* copy, scratch(0, static_cast<size_t>(x.rows * x.cols) * sizeof(float)));
            RF_TRY(gpu_check(launch_round(stream_, w.type, mat(x), static_cast<float*>(copy)), "copying activations"));
            input = Mat{static_cast<float*>(copy), x.rows, x.cols, x.cols};
        }
        const float one = 1.0f, zero = 0.0f;
        const gpublasStatus_t st = gpublasSgemm(blas_, GPUBLAS_OP_T, GPUBLAS_OP_N, rows, tokens, cols, &one,
                                                reinterpret_cast<const float*>(w.data), static_cast<int>(w.row_bytes / 4),
                                                input.data, static_cast<int>(input.stride), &zero, y.data, ldc);
        if (st != gpublasSuccess) return failed(st);
    } else {
        RF_ASSIGN_OR_RETURN(void* packed, scratch(0, half_input_bytes(x.rows, x.cols)));
        const HalfInputView input = half_input_view(packed, x.rows, x.cols);
        const QuantizedInput wanted{mat(x), half_input_format(w.type)};
        if (!(quantized_ && *quantized_ == wanted)) {
            quantized_.reset();
            RF_TRY(gpu_check(launch_half_input(stream_, w.type, mat(x), packed), "rounding activations"));
            quantized_ = wanted;
        }
        const bool stored = w.type == TensorType::F16 || w.type == TensorType::BF16;
        const auto half_type = w.type == TensorType::BF16 ? GPUBLAS_R_16BF : GPUBLAS_R_16F;
        // Decoded weight rows in chunks of at most kBlasChunkValues values, so the f16 copy stays
        // small; weights used as stored in one product.
        const int64_t chunk = stored ? w.rows : std::max<int64_t>(1, std::min<int64_t>(w.rows, kBlasChunkValues / w.cols));
        void* decoded = nullptr;
        if (!stored) {
            RF_ASSIGN_OR_RETURN(decoded, scratch(1, static_cast<size_t>(chunk * w.cols) * sizeof(uint16_t)));
        }
        const int lda = static_cast<int>(stored ? w.row_bytes / 2 : w.cols);
        const auto products = [&]() -> Status {
            for (int64_t first = 0; first < w.rows; first += chunk) {
                const int64_t n = std::min(chunk, w.rows - first);
                const void* a = w.data + first * w.row_bytes;
                if (!stored) {
                    RF_TRY(gpu_check(launch_decode_rows_half(stream_, w.type, w.data, w.row_bytes, first, n, w.cols, decoded),
                                     "decoding weights"));
                    a = decoded;
                }
                const gpublasStatus_t st = gpublasGemmEx(
                    blas_, GPUBLAS_OP_T, GPUBLAS_OP_N, static_cast<int>(n), tokens, cols, input.alpha_beta, a, half_type,
                    lda, input.x, half_type, cols, input.alpha_beta + 1, y.data + first, GPUBLAS_R_32F, ldc,
                    GPUBLAS_COMPUTE_32F, GPUBLAS_GEMM_DEFAULT);
                if (st != gpublasSuccess) return failed(st);
            }
            return ok_status();
        };
        // alpha and beta from launch_half_input, in device memory; the host mode back afterwards.
        if (gpublasStatus_t st = gpublasSetPointerMode(blas_, GPUBLAS_POINTER_MODE_DEVICE); st != gpublasSuccess)
            return failed(st);
        const Status done = products();
        const gpublasStatus_t restored = gpublasSetPointerMode(blas_, GPUBLAS_POINTER_MODE_HOST);
        RF_TRY(done);
        if (restored != gpublasSuccess) return failed(restored);
        if (overlaps(y, x)) quantized_.reset();
    }
    if (profile_.on()) profile_.op_done(stream_, fmt::format("blas {}", tensor_type_name(w.type)));
    return ok_status();
}

Status CudaBackend::matmul(const WeightMatrix& w, const Act& x, const Act& y) {
    if (x.cols != w.cols || y.cols != w.rows || x.rows != y.rows || w.count != 1)
        return make_error("matmul: shapes do not match (weight {}x{}, x {}x{}, y {}x{})", w.rows, w.cols, x.rows,
                          x.cols, y.rows, y.cols);
    return product(w, nullptr, 1, x, y);
}

Status CudaBackend::matmul_add(const WeightMatrix& w, const Act& x, const Act& y) {
    if (x.cols != w.cols || y.cols != w.rows || x.rows != y.rows || w.count != 1)
        return make_error("matmul_add: shapes do not match (weight {}x{}, x {}x{}, y {}x{})", w.rows, w.cols, x.rows,
                          x.cols, y.rows, y.cols);
    if (overlaps(x, y)) return make_error("matmul_add: the sum overlaps the product's input");
    return product(w, nullptr, 1, x, y, true);
}

Status CudaBackend::matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                                   const Act& y) {
    if (experts.count < 1 || k <= 0 || y.rows % k != 0) return make_error("matmul_experts: bad arguments");
    if (x.rows != y.rows && x.rows * k != y.rows)
        return make_error("matmul_experts: x has {} rows for {} tokens", x.rows, y.rows / k);
    if (x.cols != experts.cols || y.cols != experts.rows) return make_error("matmul_experts: shapes do not match");
    return product(experts, ids, k, x, y);
}

Status CudaBackend::embed(const WeightMatrix& table, const int32_t* ids, const Act& out) {
    if (out.cols != table.cols) return make_error("embed: table rows have {} values, output {}", table.cols, out.cols);
    return launched(launch_embed(op_stream(), table.type, table.data, table.row_bytes, table.rows, ids, mat(out), fault_word()),
                     fmt::format("embed from {}", tensor_type_name(table.type)));
}

Status CudaBackend::store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v, const BatchLayout& batch) {
    auto& kv = static_cast<CudaKvStorage&>(cache);
    const KvCacheShape& s = kv.shape();
    RF_TRY(check_store_kv(s, layer, k, v, batch));
    return launched(launch_store_kv(op_stream(), s.type == KvType::F16, mat(k), mat(v), kv.keys(layer), kv.values(layer),
                                     batch.kv_slots, kv.slots(), fault_word()),
                     "store_kv");
}

Status CudaBackend::attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& c,
                              const BatchLayout& batch, const Act& out) {
    auto& kv = static_cast<CudaKvStorage&>(cache);
    const KvCacheShape& s = kv.shape();
    RF_TRY(check_attention(s, layer, q, c, batch, out));
    RF_TRY(rows_fit("attention", c.n_heads));
    if (batch.n_tokens == 0) return ok_status();
    const AttentionParams p{.q = q.data,
                            .q_stride = q.stride,
                            .out = out.data,
                            .out_stride = out.stride,
                            .n_tokens = batch.n_tokens,
                            .n_heads = c.n_heads,
                            .n_kv_heads = c.n_kv_heads,
                            .head_dim_k = c.head_dim_k,
                            .head_dim_v = c.head_dim_v,
                            .scale = c.scale,
                            .softcap = c.softcap,
                            .sliding_window = c.sliding_window,
                            .positions = batch.positions,
                            .seq_rows = batch.seq_slots,
                            .block_tables = batch.block_tables,
                            .n_seq_rows = batch.n_seq_rows,
                            .max_blocks_per_seq = batch.max_blocks_per_seq,
                            .block_size = s.block_size,
                            .n_blocks = s.n_blocks};
    // Keys up to the batch's last position where the host knows it, else as far as a table reaches.
    // Where the splits follow the batch, a token's sums do too: a batch-invariant backend takes one
    // split (each token's keys in the same four interleaved runs whatever shares its step).
    const int64_t table_keys = batch.max_blocks_per_seq * s.block_size;
    const int64_t max_keys = batch.max_position >= 0 ? std::min(batch.max_position + 1, table_keys) : table_keys;
    const bool f16 = s.type == KvType::F16;
    // A decode step's tokens (one per sequence, up to a batch of 64) take the kernel that reads each
    // KV head once for the query heads sharing it (its splits follow the batch, so not in a
    // batch-invariant backend).
    const bool decode = !batch_invariant_ && batch.n_tokens <= decode_attention_max_tokens_ &&
                        decode_attention_supports(f16, p, kv.keys(layer), kv.values(layer));
    AttentionSplit split = batch_invariant_ ? AttentionSplit{.splits = 1, .keys = table_keys, .partial = nullptr}
                           : decode         ? decode_attention_split(f16, p, max_keys)
                                            : attention_split(batch.n_tokens, c.n_heads, max_keys);
    if (split.splits > 1) {
        const auto floats = static_cast<size_t>(batch.n_tokens * c.n_heads * split.splits * (c.head_dim_v + 2));
        RF_ASSIGN_OR_RETURN(void* partial, scratch(1, floats * sizeof(float)));
        split.partial = static_cast<float*>(partial);
    }
    if (decode)
        return launched(launch_decode_attention(op_stream(), f16, p, kv.keys(layer), kv.values(layer), split, fault_word(),
                                                next_product_prefetch(batch.n_tokens)),
                        "attention (decode)");
    return launched(launch_attention(op_stream(), f16, p, kv.keys(layer), kv.values(layer), split, fault_word()),
                    "attention");
}

}  // namespace rf::gpu
