#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numbers>
#include <string>

#include <fmt/format.h>

#include "backend/cpu/kernels/elementwise.h"
#include "backend/cpu/kernels/matmul.h"
#include "backend/cpu/kernels/weight_tiles.h"
#include "core/huge_pages.h"
#include "quant/dequantize.h"
#include "quant/float_convert.h"

namespace rf::cpu {

namespace {
constexpr size_t kAlignment = 64;

bool same_shape(const Act& a, const Act& b) { return a.rows == b.rows && a.cols == b.cols; }

// The first "model name" of /proc/cpuinfo with runs of spaces collapsed, or "cpu".
std::string cpu_model_name() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("model name")) continue;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) break;
        std::string name;
        for (char c : line.substr(colon + 1))
            if (c != ' ' || (!name.empty() && name.back() != ' ')) name += c;
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
        if (!name.empty()) return name;
    }
    return "cpu";
}
}  // namespace

CpuBackend::CpuBackend(CpuBackendOptions options)
    : repack_(options.repack),
      isa_(best_isa()),
      pool_(options.threads > 0 ? options.threads : WorkerPool::default_threads()),
      reference_(pool_) {
    device_name_ = fmt::format("{} ({} threads)", cpu_model_name(), pool_.size());
}

Result<MemoryInfo> CpuBackend::memory() const {
    // Host memory: what the kernel could still give (the KV pool is checked against the same).
    return MemoryInfo{.free_bytes = available_memory(), .total_bytes = total_memory()};
}

Result<DeviceBuffer> CpuBackend::allocate(size_t bytes) {
    const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
    void* memory = std::aligned_alloc(kAlignment, rounded);
    if (!memory) return make_error("cpu backend: out of memory allocating {} bytes", bytes);
    return DeviceBuffer(std::shared_ptr<void>(memory, std::free), bytes);
}

Status CpuBackend::upload(const DeviceBuffer& dst, const void* src, size_t bytes) {
    if (bytes > dst.size_bytes()) return make_error("upload of {} bytes into a {}-byte buffer", bytes, dst.size_bytes());
    if (bytes) std::memcpy(dst.bytes(), src, bytes);
    return ok_status();
}

Status CpuBackend::download(void* dst, const float* src, size_t n_floats) {
    if (n_floats) std::memcpy(dst, src, n_floats * sizeof(float));
    return ok_status();
}

Result<WeightMatrix> CpuBackend::import_weight(const WeightMatrix& host, bool writable) {
    if (!quant::can_dequantize(host.type))
        return make_error("cpu backend: weights of type {} are not supported", tensor_type_name(host.type));
    if (host.count < 1) return make_error("cpu backend: a stack of {} matrices", host.count);
    if (host.count == 1) return import_matrix(host, writable);
    // Experts are interleaved one by one, as separate matrices: the same tiles, so the same
    // products, as when each expert was imported on its own. They all get the same layout.
    WeightMatrix stack = host;
    for (int64_t e = 0; e < host.count; ++e) stack.layout = import_matrix(host.matrix(e), writable).layout;
    return stack;
}

WeightMatrix CpuBackend::import_matrix(const WeightMatrix& host, bool writable) {
    WeightMatrix w = host;  // used in place
    if (writable && repack_ && can_tile(w.type)) {
        // The same bytes imported twice (a table with two uses) are interleaved once.
        const auto [it, inserted] = layouts_.emplace(w.data, WeightLayout::Rows);
        if (inserted) {
            tile_in_place(w, const_cast<uint8_t*>(w.data), pool_.threads());
            it->second = w.layout;
        }
        w.layout = it->second;
    }
    return w;
}

Status CpuBackend::matmul(const WeightMatrix& w, const Act& x, const Act& y) {
    if (x.cols != w.cols || y.cols != w.rows || x.rows != y.rows)
        return make_error("matmul: shapes do not match (weight {}x{}, x {}x{}, y {}x{})", w.rows, w.cols, x.rows,
                          x.cols, y.rows, y.cols);
    if (x.stride == x.cols && y.stride == y.cols) return cpu::matmul(w, x.data, x.rows, y.data, pool_.threads());
    return reference_.run(w, x, y);
}

Status CpuBackend::matmul_add(const WeightMatrix& w, const Act& x, const Act& y) {
    const float* x_end = x.data + (x.rows > 0 ? (x.rows - 1) * x.stride + x.cols : 0);
    const float* y_end = y.data + (y.rows > 0 ? (y.rows - 1) * y.stride + y.cols : 0);
    if (x.data < y_end && y.data < x_end) return make_error("matmul_add: the sum overlaps the product's input");
    product_.resize(static_cast<size_t>(y.rows * y.cols));
    const Act product{product_.data(), y.rows, y.cols, y.cols};
    RF_TRY(matmul(w, x, product));
    return add(y, product, y);
}

Status CpuBackend::gather_rows(const Act& x, const int32_t* rows, const Act& out) {
    if (x.cols != out.cols) return make_error("gather_rows: shapes do not match");
    for (int64_t i = 0; i < out.rows; ++i) {
        if (rows[i] < 0 || rows[i] >= x.rows) return make_error("gather_rows: row {} of {}", rows[i], x.rows);
        std::copy_n(x.data + rows[i] * x.stride, x.cols, out.data + i * out.stride);
    }
    return ok_status();
}

Status CpuBackend::embed(const WeightMatrix& table, const int32_t* ids, const Act& out) {
    if (out.cols != table.cols) return make_error("embed: table rows have {} values, output {}", table.cols, out.cols);
    for (int64_t t = 0; t < out.rows; ++t)
        if (ids[t] < 0 || ids[t] >= table.rows)
            return make_error("embed: token id {} is outside the vocabulary of {}", ids[t], table.rows);
    std::atomic<bool> failed{false};
    for_rows(out, [&](float* row, int64_t t) {
        thread_local std::vector<uint8_t> scratch;
        scratch.resize(table.row_bytes);
        if (!quant::dequantize_row(table.type, {file_row(table, ids[t], scratch.data()), table.row_bytes},
                                   {row, static_cast<size_t>(table.cols)}).ok())
            failed = true;
    });
    if (failed) return make_error("embed: rows of type {} could not be dequantized", tensor_type_name(table.type));
    return ok_status();
}

namespace {
void normalize(const float* x, float* out, int64_t n, const float* weight, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    // Mean in f32 and the scale from sqrtf, as the reference rounds them.
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (weight ? weight[i] : 1.0f);
}
}  // namespace

Status CpuBackend::rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) {
    if (!same_shape(x, out) || (weight.data && weight.size != x.cols))
        return make_error("rms_norm: shapes do not match ({} values, weight {})", x.cols, weight.size);
    for_rows(x, [&](float* row, int64_t r) { normalize(row, out.data + r * out.stride, x.cols, weight.data, eps); });
    return ok_status();
}

Status CpuBackend::rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) {
    if (head_dim <= 0 || x.cols % head_dim != 0 || (weight.data && weight.size != head_dim))
        return make_error("rms_norm_heads: {} values do not split into heads of {}", x.cols, head_dim);
    for_rows(x, [&](float* row, int64_t) {
        for (int64_t h = 0; h < x.cols / head_dim; ++h)
            normalize(row + h * head_dim, row + h * head_dim, head_dim, weight.data, eps);
    });
    return ok_status();
}

namespace {
// YaRN: the dimensions whose wavelength fits the training context keep interpolated frequencies,
// the fast ones keep the original, with a linear ramp between.
double yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, double beta, double base) {
    return n_dims * std::log(n_ctx_orig / (beta * 2 * std::numbers::pi)) / (2 * std::log(base));
}
}  // namespace

Status CpuBackend::rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& c) {
    if (head_dim <= 0 || x.cols % head_dim != 0 || c.n_dims <= 0 || c.n_dims > head_dim || c.n_dims % 2 != 0)
        return make_error("rope: bad dimensions (row {}, head {}, rotated {})", x.cols, head_dim, c.n_dims);
    if (c.freq_factors.data && c.freq_factors.size != c.n_dims / 2)
        return make_error("rope: {} frequency factors for {} rotated pairs", c.freq_factors.size, c.n_dims / 2);
    double ramp_low = 0, ramp_high = 0;
    float mscale = c.attn_factor;
    if (c.ext_factor != 0.0f) {
        ramp_low = std::max(0.0, std::floor(yarn_corr_dim(c.n_dims, c.n_ctx_orig, c.beta_fast, c.freq_base)));
        ramp_high = std::min(c.n_dims - 1.0, std::ceil(yarn_corr_dim(c.n_dims, c.n_ctx_orig, c.beta_slow, c.freq_base)));
        mscale *= 1.0f + 0.1f * std::log(1.0f / c.freq_scale);
    }
    const int64_t half = c.n_dims / 2;
    // Angles advance by repeated f32 multiplication (pos * scale^i), as the reference computes them.
    const float theta_scale = std::pow(c.freq_base, -2.0f / static_cast<float>(c.n_dims));
    for_rows(x, [&](float* row, int64_t t) {
        float theta_extrap = static_cast<float>(positions[t]);
        for (int64_t i = 0; i < half; ++i, theta_extrap *= theta_scale) {
            const float extrapolated = c.freq_factors.data ? theta_extrap / c.freq_factors.data[i] : theta_extrap;
            float theta = extrapolated * c.freq_scale;
            if (c.ext_factor != 0.0f) {
                const double y = (i - ramp_low) / std::max(0.001, ramp_high - ramp_low);
                const float mix = static_cast<float>((1.0 - std::clamp(y, 0.0, 1.0)) * c.ext_factor);
                theta = theta * (1 - mix) + extrapolated * mix;
            }
            const float cos_t = std::cos(theta) * mscale;
            const float sin_t = std::sin(theta) * mscale;
            for (int64_t h = 0; h < x.cols / head_dim; ++h) {
                float* head = row + h * head_dim;
                const int64_t a = c.style == RopeStyle::Normal ? 2 * i : i;
                const int64_t b = c.style == RopeStyle::Normal ? 2 * i + 1 : i + half;
                const float x0 = head[a], x1 = head[b];
                head[a] = x0 * cos_t - x1 * sin_t;
                head[b] = x0 * sin_t + x1 * cos_t;
            }
        }
    });
    return ok_status();
}

Status CpuBackend::add(const Act& a, const Act& b, const Act& out) {
    if (!same_shape(a, b) || !same_shape(a, out)) return make_error("add: shapes do not match");
    for_rows(a, [&](float* row, int64_t r) {
        const float* other = b.data + r * b.stride;
        float* dst = out.data + r * out.stride;
        for (int64_t i = 0; i < a.cols; ++i) dst[i] = row[i] + other[i];
    });
    return ok_status();
}

Status CpuBackend::add_bias(const Act& x, ParamVector bias) {
    if (bias.size != x.cols) return make_error("add_bias: {} values, bias of {}", x.cols, bias.size);
    for_rows(x, [&](float* row, int64_t) {
        for (int64_t i = 0; i < x.cols; ++i) row[i] += bias.data[i];
    });
    return ok_status();
}

Status CpuBackend::scale(const Act& x, float s) {
    for_rows(x, [&](float* row, int64_t) {
        for (int64_t i = 0; i < x.cols; ++i) row[i] *= s;
    });
    return ok_status();
}

Status CpuBackend::softcap(const Act& x, float cap) {
    if (!(cap > 0.0f)) return make_error("softcap: the cap must be positive, got {}", cap);
    for_rows(x, [&](float* row, int64_t) {
        for (int64_t i = 0; i < x.cols; ++i) row[i] = cap * std::tanh(row[i] / cap);
    });
    return ok_status();
}

namespace {
// GELU (tanh form) evaluated the way the reference implementation does: on the input rounded to
// f16, result rounded to f16 (it reads a 64K-entry table), saturating outside [-10, 10].
float gelu_tanh_f16(float v, float k) {
    if (v <= -10.0f) return 0.0f;
    if (v >= 10.0f) return v;
    const float x = quant::fp16_to_f32(quant::f32_to_fp16(v));
    return quant::fp16_to_f32(quant::f32_to_fp16(0.5f * x * (1.0f + std::tanh(k * x * (1.0f + 0.044715f * x * x)))));
}
}  // namespace

Status CpuBackend::gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) {
    if (!same_shape(gate, up) || !same_shape(gate, out)) return make_error("gated activation: shapes do not match");
    const float k = static_cast<float>(std::sqrt(2.0 / std::numbers::pi));
    // Few rows (generation) are split into column ranges too, so that every thread has a share.
    const int64_t range = gate.rows >= pool_.size() ? gate.cols : 1024, ranges = (gate.cols + range - 1) / range;
    pool_.parallel_for(gate.rows * ranges, [&](int64_t begin, int64_t end, int) {
        for (int64_t job = begin; job < end; ++job) {
            const int64_t r = job / ranges, first = job % ranges * range, n = std::min(range, gate.cols - first);
            const float* g = gate.data + r * gate.stride + first;
            const float* u = up.data + r * up.stride + first;
            float* dst = out.data + r * out.stride + first;
            if (act == GatedActivation::Silu) {
                silu_mul(isa_, g, u, dst, n);
                continue;
            }
            for (int64_t i = 0; i < n; ++i) dst[i] = gelu_tanh_f16(g[i], k) * u[i];
        }
    });
    return ok_status();
}

Status CpuBackend::softmax_rows(const Act& x) {
    for_rows(x, [&](float* row, int64_t) {
        float max = row[0];
        for (int64_t i = 1; i < x.cols; ++i) max = std::max(max, row[i]);
        double sum = 0.0;
        for (int64_t i = 0; i < x.cols; ++i) sum += row[i] = std::exp(row[i] - max);
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t i = 0; i < x.cols; ++i) row[i] *= inv;
    });
    return ok_status();
}

}  // namespace rf::cpu
