#include "backend/cpu/kernels/activations.h"

#include <atomic>
#include <cstring>
#include <optional>
#include <span>

#include "quant/block_formats.h"
#include "quant/float_convert.h"
#include "quant/quantize.h"

namespace rf::cpu::detail {

Status quantize_activations_reference(ActFormat format, std::span<const float> src, uint8_t* dst) {
    const TensorType type = activation_tensor_type(format);
    if (format == ActFormat::Q8_K) {
        return quant::quantize_row(type, src, std::span(dst, activation_row_bytes(format, static_cast<int64_t>(src.size()))));
    }
    thread_local std::vector<uint8_t> blocks;  // grows once, then reused
    RF_ASSIGN_OR_RETURN(const size_t bytes, quant::quantized_size(type, src.size()));
    blocks.resize(bytes);
    RF_TRY(quant::quantize_row(type, src, blocks));
    const size_t n_blocks = src.size() / 32;
    for (size_t b = 0; b < n_blocks; ++b) {
        if (format == ActFormat::Q8_0) {
            const auto in = quant::load_block<quant::BlockQ8_0>(blocks.data() + b * sizeof(quant::BlockQ8_0));
            ActBlockQ8_0 out{quant::fp16_to_f32(in.d), 0, {}};
            std::memcpy(out.qs, in.qs, sizeof out.qs);
            for (int8_t q : out.qs) out.sum += q;
            std::memcpy(dst + b * sizeof out, &out, sizeof out);
        } else {
            const auto in = quant::load_block<quant::BlockQ8_1>(blocks.data() + b * sizeof(quant::BlockQ8_1));
            ActBlockQ8_1 out{quant::fp16_to_f32(in.d), quant::fp16_to_f32(in.s), {}};
            std::memcpy(out.qs, in.qs, sizeof out.qs);
            std::memcpy(dst + b * sizeof out, &out, sizeof out);
        }
    }
    return ok_status();
}

Result<Activations> ActivationBuffer::prepare(ActFormat format, const float* x, int64_t cols,
                                              int64_t n_tokens, ThreadPool& pool) {
    if (format == ActFormat::F32)
        return Activations{reinterpret_cast<const uint8_t*>(x), static_cast<size_t>(cols) * sizeof(float)};

    const size_t row_bytes = activation_row_bytes(format, cols);
    const size_t total = row_bytes * static_cast<size_t>(n_tokens);
    if (storage_.size() < total) storage_.resize(total);

    // Tokens are independent, and so are the blocks of a token: quantizing them in parallel keeps
    // this small next to the product. Fewer tokens than threads (generation) are split into
    // ranges of whole blocks so that every thread has a share. The task captures one pointer, so
    // building its std::function does not allocate.
    struct Job {
        ActQuantFn fast;  // the vector version where the CPU has one (same bytes)
        ActFormat format;
        const float* x;
        int64_t cols;
        uint8_t* dst;
        size_t row_bytes;
        int64_t block, parts;  // elements per block; ranges per token
        std::atomic<bool> fast_failed;
        std::mutex error_mutex;
        std::optional<Error> first_error;

        // Token t with the reference rounding (which also explains a failure).
        void reference(int64_t t) {
            auto status = quantize_activations_reference(format, std::span(x + t * cols, static_cast<size_t>(cols)),
                                                         dst + static_cast<size_t>(t) * row_bytes);
            if (status.ok()) return;
            std::lock_guard lock(error_mutex);
            if (!first_error) first_error = make_error("matmul: activations of token {}: {}", t, status.error().message);
        }
    } job{isa_supported(Isa::Avx2) ? avx2_act_quantizer(format) : nullptr, format, x, cols, storage_.data(), row_bytes,
          format == ActFormat::Q8_K ? 256 : 32, 1, {false}, {}, {}};
    if (job.fast != nullptr && n_tokens < pool.size()) job.parts = std::clamp<int64_t>(cols / job.block, 1, pool.size());
    pool.parallel_for(n_tokens * job.parts, [&job](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const int64_t t = i / job.parts, part = i % job.parts, blocks = job.cols / job.block;
            const int64_t first = blocks * part / job.parts, last = blocks * (part + 1) / job.parts;
            const size_t block_bytes = activation_row_bytes(job.format, job.block);
            uint8_t* dst = job.dst + static_cast<size_t>(t) * job.row_bytes + static_cast<size_t>(first) * block_bytes;
            if (job.fast != nullptr && job.fast(job.x + t * job.cols + first * job.block, (last - first) * job.block, dst)) continue;
            if (job.parts > 1)
                job.fast_failed = true;  // redone whole below
            else
                job.reference(t);
        }
    });
    if (job.fast_failed)
        for (int64_t t = 0; t < n_tokens; ++t) job.reference(t);
    if (job.first_error) return *job.first_error;
    return Activations{storage_.data(), row_bytes};
}

ActivationBuffer& shared_activation_buffer() {
    static ActivationBuffer buffer;
    return buffer;
}

std::mutex& shared_activation_mutex() {
    static std::mutex mutex;
    return mutex;
}

}  // namespace rf::cpu::detail
