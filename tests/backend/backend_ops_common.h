// Shared by the backend op tests (backend_ops_*_test.cpp): which backends run, a fixture that
// opens one, device buffers moved only through the Backend interface (allocate, upload, download:
// a CUDA backend's pointers are never dereferenced here), random inputs and weights, the
// activation rounding a product applies, and comparisons that log the worst error seen per backend
// and op (printed at the end of the run).
//
// Backends: "cpu" always; "cuda" when ROCMFORGE_TEST_DEVICE=cuda, which must then open (a test
// that cannot open it fails with the factory's error; nothing is skipped quietly).
#pragma once

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/backend_factory.h"
#include "gguf/tensor_type.h"
#include "quant/dequantize.h"
#include "quant/float_convert.h"
#include "quant/quantize.h"

namespace rf::test::ops {

// ---- which backends ---------------------------------------------------------------------------

inline std::string requested_device() {
    const char* env = std::getenv("ROCMFORGE_TEST_DEVICE");
    return env && *env ? env : "";
}

inline bool cuda_requested() { return requested_device() == "cuda"; }

// "cpu", plus the device ROCMFORGE_TEST_DEVICE names when it is not the CPU (a name other than
// "cuda" is kept too, so that its tests fail and say what is accepted).
inline std::vector<std::string> backends_under_test() {
    std::vector<std::string> names{"cpu"};
    const std::string device = requested_device();
    if (!device.empty() && device != "cpu") names.push_back(device);
    return names;
}

// A gtest-safe name for a parameter (letters, digits and '_').
inline std::string sanitize(std::string name) {
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

// ---- errors -------------------------------------------------------------------------------------

// An unexpected backend error ends the test: the exception's message names the call (gtest reports
// it as a failure of the test).
inline void check(const Status& status, std::string_view what) {
    if (!status.ok()) throw std::runtime_error(fmt::format("{}: {}", what, status.error().message));
}

template <typename T>
T check(Result<T> result, std::string_view what) {
    if (!result.ok()) throw std::runtime_error(fmt::format("{}: {}", what, result.error().message));
    return std::move(result).value();
}

// ---- the worst errors, per backend and op -------------------------------------------------------

class ErrorLog {
public:
    static ErrorLog& get() {
        static ErrorLog log;
        return log;
    }
    // `error` and `tolerance` in the same units (an op's check passes while error <= tolerance).
    void record(const std::string& backend, const std::string& op, double error, double tolerance) {
        Entry& e = entries_[{backend, op}];
        if (e.checks == 0 || error > e.worst) e.worst = error;
        e.tolerance = tolerance;
        ++e.checks;
    }
    void print() const {
        if (entries_.empty()) return;
        std::printf("[backend ops] worst errors (error / tolerance):\n");
        for (const auto& [key, e] : entries_)
            std::printf("[backend ops]   %-5s %-34s %9.3g / %-8.3g (%ld checks)\n", key.first.c_str(),
                        key.second.c_str(), e.worst, e.tolerance, e.checks);
    }

private:
    struct Entry {
        double worst = 0, tolerance = 0;
        long checks = 0;
    };
    std::map<std::pair<std::string, std::string>, Entry> entries_;
};

// ---- random inputs ------------------------------------------------------------------------------

// Normal values, each times a magnitude 2^u with u uniform in [-spread, spread]: both signs, varied
// magnitudes, never zero.
inline std::vector<float> random_values(std::mt19937& rng, size_t n, float scale = 1.0f, float spread = 3.0f) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> exponent(-spread, spread);
    std::vector<float> v(n);
    for (float& x : v) {
        do x = normal(rng) * std::exp2(exponent(rng)) * scale;
        while (std::fabs(x) < 1e-6f * scale);
    }
    return v;
}

inline std::vector<int32_t> random_ints(std::mt19937& rng, size_t n, int32_t lo, int32_t hi) {
    std::uniform_int_distribution<int32_t> pick(lo, hi);
    std::vector<int32_t> v(n);
    for (auto& x : v) x = pick(rng);
    return v;
}

// ---- quantized rows ------------------------------------------------------------------------------

inline size_t row_bytes_of(TensorType type, int64_t cols) {
    return check(quant::quantized_size(type, static_cast<size_t>(cols)), "quantized_size");
}

inline std::vector<uint8_t> quantize(TensorType type, std::span<const float> values) {
    std::vector<uint8_t> bytes(row_bytes_of(type, static_cast<int64_t>(values.size())));
    check(quant::quantize_row(type, values, bytes), fmt::format("quantize_row {}", tensor_type_name(type)));
    return bytes;
}

inline std::vector<float> dequantize(TensorType type, std::span<const uint8_t> bytes, int64_t n) {
    std::vector<float> values(static_cast<size_t>(n));
    check(quant::dequantize_row(type, bytes, values), fmt::format("dequantize_row {}", tensor_type_name(type)));
    return values;
}

// The format a product rounds activations to before multiplying them with weights of `type`
// (ggml's vec_dot_type; nullopt: kept in f32), written out here independently of the backends.
inline std::optional<TensorType> activation_rounding(TensorType type) {
    switch (type) {
        case TensorType::F16: return TensorType::F16;
        case TensorType::BF16: return TensorType::BF16;
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: case TensorType::IQ4_NL:
        case TensorType::MXFP4:
            return TensorType::Q8_0;
        case TensorType::Q4_1: case TensorType::Q5_1: return TensorType::Q8_1;
        case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
        case TensorType::Q6_K: case TensorType::IQ4_XS: case TensorType::IQ2_XXS: case TensorType::IQ2_XS:
        case TensorType::IQ2_S: case TensorType::IQ3_XXS: case TensorType::IQ3_S: case TensorType::IQ1_S:
        case TensorType::IQ1_M: case TensorType::TQ1_0: case TensorType::TQ2_0:
            return TensorType::Q8_K;
        default: return std::nullopt;
    }
}

// One row of activations as a product with `weight_type` weights sees it: quantize_row then
// dequantize_row in the rounding format.
inline std::vector<float> round_activations(TensorType weight_type, std::span<const float> x) {
    const auto format = activation_rounding(weight_type);
    if (!format) return {x.begin(), x.end()};
    return dequantize(*format, quantize(*format, x), static_cast<int64_t>(x.size()));
}

// Every format with a product kernel on some backend, plus TQ2_0: no GPU kernel, so the CUDA
// backend converts it at import (to Q8_0), and references follow the imported type.
inline const std::vector<TensorType> kWeightFormats = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16,   TensorType::Q4_0,   TensorType::Q4_1,  TensorType::Q5_0,
    TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,   TensorType::Q3_K,   TensorType::Q4_K,  TensorType::Q5_K,
    TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::MXFP4, TensorType::TQ2_0};

// ---- host weights ------------------------------------------------------------------------------

// A weight as the model file would hold it (count stacked matrices of rows x cols), made by
// quantize_row from random floats. The bytes must outlive every use of the imported matrix (the
// CPU backend reads them in place).
struct HostWeight {
    TensorType type = TensorType::F32;
    int64_t rows = 0, cols = 0, count = 1;
    size_t row_bytes = 0;
    std::vector<uint8_t> bytes;

    WeightMatrix view() const {
        WeightMatrix w;
        w.type = type;
        w.data = bytes.data();
        w.rows = rows;
        w.cols = cols;
        w.row_bytes = row_bytes;
        w.count = count;
        return w;
    }
    std::span<const uint8_t> row(int64_t r) const { return {bytes.data() + static_cast<size_t>(r) * row_bytes, row_bytes}; }
};

// Rows of differing scale (2^[-2, 2]) with occasional outliers, as trained weights have (ternary
// formats: ternary values, which is what they can hold).
inline HostWeight make_weight(std::mt19937& rng, TensorType type, int64_t rows, int64_t cols, int64_t count = 1) {
    HostWeight w{type, rows, cols, count, row_bytes_of(type, cols), {}};
    w.bytes.reserve(w.row_bytes * static_cast<size_t>(rows * count));
    std::uniform_real_distribution<float> row_scale(-2.0f, 2.0f), unit(0.0f, 1.0f);
    for (int64_t r = 0; r < rows * count; ++r) {
        const float scale = std::exp2(row_scale(rng));
        std::vector<float> values = random_values(rng, static_cast<size_t>(cols), scale, 1.0f);
        for (float& v : values)
            if (unit(rng) < 0.01f) v *= 8.0f;
        if (type == TensorType::TQ1_0 || type == TensorType::TQ2_0)  // ternary: -1, 0, +1 times a scale
            for (float& v : values) v = scale * static_cast<float>(static_cast<int>(unit(rng) * 3.0f) - 1);
        const std::vector<uint8_t> q = quantize(type, values);
        w.bytes.insert(w.bytes.end(), q.begin(), q.end());
    }
    return w;
}

// The values a backend multiplies with: row r of `host` dequantized, or, where the backend
// converted the weight at import (imported_type differs: a GPU without a kernel for the format),
// dequantized, quantized to imported_type, dequantized again, as the conversion does.
inline std::vector<float> effective_row(const HostWeight& host, TensorType imported_type, int64_t r) {
    std::vector<float> values = dequantize(host.type, host.row(r), host.cols);
    if (imported_type == host.type) return values;
    return dequantize(imported_type, quantize(imported_type, values), host.cols);
}

// ---- the fixture ---------------------------------------------------------------------------------

// Rows x width floats in backend memory; ops get all of it or a range of columns.
struct DevMat {
    DeviceBuffer buffer;
    int64_t rows = 0, width = 0;

    Act all() const { return {buffer.f32(), rows, width, width}; }
    Act cols(int64_t first, int64_t n) const { return all().columns(first, n); }
    size_t size() const { return static_cast<size_t>(rows * width); }
};

inline constexpr float kSentinel = -777.25f;  // outside an output's columns: must stay as it is

class OpsFixture : public ::testing::Test {
protected:
    void open(const std::string& name) {
        name_ = name;
        BackendOptions options;
        if (name == "cpu") {
            options.device = DeviceKind::Cpu;
        } else if (name == "cuda") {
            options.device = DeviceKind::Cuda;
        } else {
            FAIL() << "ROCMFORGE_TEST_DEVICE=" << name << ": expected cpu or cuda";
        }
        auto created = create_backend(options);
        ASSERT_TRUE(created.ok()) << "creating the " << name << " backend: " << created.error().message;
        backend_ = std::move(created->backend);
        ASSERT_EQ(backend_->name(), name);
    }

    Backend& b() { return *backend_; }
    const std::string& backend_name() const { return name_; }
    bool is_cpu() const { return name_ == "cpu"; }

    DeviceBuffer allocate(size_t bytes) { return check(b().allocate(bytes), "allocate"); }

    template <typename T>
    DeviceBuffer upload(std::span<const T> host) {
        DeviceBuffer buffer = allocate(std::max<size_t>(host.size_bytes(), 4));
        check(b().upload(buffer, host.data(), host.size_bytes()), "upload");
        return buffer;
    }
    DeviceBuffer upload(const std::vector<float>& host) { return upload(std::span<const float>(host)); }
    DeviceBuffer upload(const std::vector<int32_t>& host) { return upload(std::span<const int32_t>(host)); }

    DevMat upload_mat(const std::vector<float>& host, int64_t rows, int64_t width) {
        EXPECT_EQ(host.size(), static_cast<size_t>(rows * width));
        return {upload(host), rows, width};
    }
    // An output: NaN in columns [first, first + n) (every element must be written), kSentinel
    // elsewhere (must not be).
    DevMat poisoned(int64_t rows, int64_t width, int64_t first = 0, int64_t n = -1) {
        if (n < 0) n = width - first;
        std::vector<float> host(static_cast<size_t>(rows * width), kSentinel);
        for (int64_t r = 0; r < rows; ++r)
            std::fill_n(host.begin() + r * width + first, n, std::numeric_limits<float>::quiet_NaN());
        return upload_mat(host, rows, width);
    }
    // A poisoned int32 buffer (all bits set: -1).
    DeviceBuffer poisoned_ids(size_t n) { return upload(std::vector<int32_t>(n, -1)); }

    std::vector<float> fetch(const float* src, size_t n) {
        std::vector<float> host(n);
        check(b().download(host.data(), src, n), "download");
        return host;
    }
    std::vector<float> fetch(const DevMat& m) { return fetch(m.buffer.f32(), m.size()); }
    // int32 data goes through the f32 download (same size; the pointer is only cast, never read).
    std::vector<int32_t> fetch_ids(const int32_t* src, size_t n) {
        std::vector<int32_t> host(n);
        check(b().download(host.data(), reinterpret_cast<const float*>(src), n), "download ids");
        return host;
    }

    // Columns [first, first + n) of every row of a fetched matrix, packed; fails where columns
    // outside that range changed from kSentinel.
    std::vector<float> columns(const std::vector<float>& all, const DevMat& m, int64_t first, int64_t n) {
        std::vector<float> out(static_cast<size_t>(m.rows * n));
        int64_t touched = 0;
        for (int64_t r = 0; r < m.rows; ++r)
            for (int64_t c = 0; c < m.width; ++c) {
                const float v = all[r * m.width + c];
                if (c >= first && c < first + n)
                    out[r * n + c - first] = v;
                else if (std::bit_cast<uint32_t>(v) != std::bit_cast<uint32_t>(kSentinel))
                    ++touched;
            }
        EXPECT_EQ(touched, 0) << "the op wrote outside its output columns [" << first << ", " << first + n << ")";
        return out;
    }

    // Element i passes when |got - ref| <= elem_tol * scale[i] (scale: what the element's rounding
    // error grows with); row_tol > 0 also bounds ||got - ref|| / ||ref|| per row. NaN (a poisoned
    // element the op did not write) fails. Logs the worst ratios under `op`.
    bool expect_close(const std::string& op, const std::vector<float>& got, const std::vector<double>& ref,
                      const std::vector<double>& scale, int64_t cols, double elem_tol, double row_tol = 0) {
        EXPECT_EQ(got.size(), ref.size());
        EXPECT_EQ(scale.size(), ref.size());
        if (got.size() != ref.size() || scale.size() != ref.size() || cols <= 0) return false;
        int failures = 0;
        double worst_elem = 0, worst_row = 0;
        const int64_t rows = static_cast<int64_t>(got.size()) / cols;
        for (int64_t r = 0; r < rows; ++r) {
            double diff2 = 0, ref2 = 0;
            for (int64_t c = 0; c < cols; ++c) {
                const size_t i = static_cast<size_t>(r * cols + c);
                const double d = std::fabs(got[i] - ref[i]);
                diff2 += d * d;
                ref2 += ref[i] * ref[i];
                const double ratio = std::isnan(got[i]) ? std::numeric_limits<double>::infinity()
                                                        : d / std::max(scale[i], 1e-300);
                worst_elem = std::max(worst_elem, ratio);
                if (!(ratio <= elem_tol) && failures++ < 5)
                    ADD_FAILURE() << op << ": row " << r << " col " << c << ": got " << got[i] << ", expected "
                                  << ref[i] << " (|diff| / scale " << ratio << " > " << elem_tol << ")";
            }
            if (row_tol > 0) {
                const double rel = std::sqrt(diff2) / std::max(std::sqrt(ref2), 1e-300);
                worst_row = std::max(worst_row, std::isnan(rel) ? std::numeric_limits<double>::infinity() : rel);
                if (!(rel <= row_tol) && failures++ < 5)
                    ADD_FAILURE() << op << ": row " << r << ": ||diff|| / ||ref|| = " << rel << " > " << row_tol;
            }
        }
        ErrorLog::get().record(name_, op + " (element)", worst_elem, elem_tol);
        if (row_tol > 0) ErrorLog::get().record(name_, op + " (row norm)", worst_row, row_tol);
        if (failures > 5) ADD_FAILURE() << op << ": " << failures << " failures in all";
        return failures == 0;
    }

    // Bit-exact comparison (copies, dequantization, sums that are exact in f32).
    bool expect_exact(const std::string& op, const std::vector<float>& got, const std::vector<float>& ref) {
        EXPECT_EQ(got.size(), ref.size());
        int failures = 0;
        for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i)
            if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(ref[i]) && failures++ < 5)
                ADD_FAILURE() << op << ": element " << i << ": got " << got[i] << ", expected " << ref[i];
        ErrorLog::get().record(name_, op + " (mismatches)", failures, 0);
        return failures == 0 && got.size() == ref.size();
    }

    // An id outside its range is an Error: on the CPU from the op, on a GPU (where only the kernel
    // reads the ids) at the latest from the next download. Either is accepted; the error is then
    // reported once (the following download is clean).
    void expect_reported(const Status& op, const float* any, size_t n, const std::string& what) {
        std::vector<float> host(n);
        const Status download = b().download(host.data(), any, n);
        EXPECT_TRUE(!op.ok() || !download.ok()) << what << ": neither the op nor the next download reported an error";
        check(b().download(host.data(), any, n), what + ": the download after the error");
    }

    // Keeps a host weight alive, at one address, until the test ends: the CPU backend reads it in
    // place, and a backend may recognise a weight it imported before by its host address.
    const HostWeight& keep(HostWeight w) {
        kept_.push_back(std::move(w));
        return kept_.back();
    }
    WeightMatrix import(const HostWeight& host, bool writable = false) {
        return check(b().import_weight(host.view(), writable),
                     fmt::format("import_weight {} {}x{}x{}", tensor_type_name(host.type), host.count, host.rows, host.cols));
    }

    std::string name_;
    std::deque<HostWeight> kept_;  // before backend_: destroyed after it
    std::unique_ptr<Backend> backend_;
};

// Fixture for tests parameterised by the backend only.
class BackendOps : public OpsFixture, public ::testing::WithParamInterface<std::string> {
protected:
    void SetUp() override { open(GetParam()); }
};

inline std::string backend_param_name(const ::testing::TestParamInfo<std::string>& info) {
    return sanitize(info.param);
}

}  // namespace rf::test::ops
