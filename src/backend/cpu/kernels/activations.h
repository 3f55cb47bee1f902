// Internal: activations converted once per matrix product into the format the weight kernel
// reads, kept in a buffer that is reused across calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "backend/cpu/kernels/row_kernels.h"
#include "backend/cpu/kernels/thread_pool.h"
#include "core/result.h"

namespace rf::cpu::detail {

struct Activations {
    const uint8_t* data = nullptr;
    size_t row_bytes = 0;  // stride between tokens
};

// One token rounded by rf::quant::quantize_row, with the F16 fields of the 32-blocks widened.
Status quantize_activations_reference(ActFormat format, std::span<const float> src, uint8_t* dst);

class ActivationBuffer {
public:
    // Converts n_tokens rows of `cols` floats. For ActFormat::F32 the input is used in place.
    // The result stays valid until the next call.
    Result<Activations> prepare(ActFormat format, const float* x, int64_t cols, int64_t n_tokens,
                                ThreadPool& pool);

private:
    std::vector<uint8_t> storage_;
};

// The process-wide buffer and the lock that gives it to one matmul at a time.
ActivationBuffer& shared_activation_buffer();
std::mutex& shared_activation_mutex();

}  // namespace rf::cpu::detail
