// Which activation format each weight type uses, and the choice of kernel per ISA variant.
#include "backend/cpu/kernels/row_kernels.h"
#include "backend/cpu/kernels/scalar_kernels.h"

namespace rf::cpu::detail {

ActFormat activation_format(TensorType type) {
    switch (type) {
        case TensorType::Q4_0:
        case TensorType::Q5_0:
        case TensorType::Q8_0:
        case TensorType::IQ4_NL:
        case TensorType::MXFP4: return ActFormat::Q8_0;
        case TensorType::Q4_1:
        case TensorType::Q5_1: return ActFormat::Q8_1;
        case TensorType::Q2_K:
        case TensorType::Q3_K:
        case TensorType::Q4_K:
        case TensorType::Q5_K:
        case TensorType::Q6_K:
        case TensorType::IQ4_XS: return ActFormat::Q8_K;
        default: return ActFormat::F32;  // float weights, and the dequantizing generic path
    }
}

TensorType activation_tensor_type(ActFormat format) {
    switch (format) {
        case ActFormat::Q8_0: return TensorType::Q8_0;
        case ActFormat::Q8_1: return TensorType::Q8_1;
        case ActFormat::Q8_K: return TensorType::Q8_K;
        case ActFormat::F32: break;
    }
    return TensorType::F32;
}

size_t activation_row_bytes(ActFormat format, int64_t cols) {
    const auto n = static_cast<size_t>(cols);
    switch (format) {
        case ActFormat::F32: return n * sizeof(float);
        case ActFormat::Q8_0: return n / 32 * sizeof(ActBlockQ8_0);
        case ActFormat::Q8_1: return n / 32 * sizeof(ActBlockQ8_1);
        case ActFormat::Q8_K: return n / 256 * 292;  // sizeof(quant::BlockQ8_K)
    }
    return 0;
}

RowDotFn scalar_kernel(TensorType type) {
    if (auto fn = scalar_legacy_kernel(type)) return fn;
    if (auto fn = scalar_kquant_kernel(type)) return fn;
    return scalar_float_kernel(type);
}

RowDotFn kernel_for(Isa isa, TensorType type) {
    RowDotFn fn = nullptr;
    // A variant without its own kernel for a type falls back to the next simpler variant.
    switch (isa) {
        case Isa::Avx512: fn = avx512_kernel(type); [[fallthrough]];
        case Isa::Avx2: if (!fn) fn = avx2_kernel(type); [[fallthrough]];
        case Isa::Scalar: if (!fn) fn = scalar_kernel(type);
    }
    return fn;
}

TileProduct gemv_for(Isa isa, TensorType type) {
    switch (isa) {
        case Isa::Avx512: return avx512_gemv(type);
        case Isa::Avx2: return avx2_gemv(type);
        case Isa::Scalar: break;
    }
    return {};
}

void clean_vector_state(Isa isa) {
    switch (isa) {
        case Isa::Avx512: avx512_clean_vector_state(); break;
        case Isa::Avx2: avx2_clean_vector_state(); break;
        case Isa::Scalar: break;
    }
}

}  // namespace rf::cpu::detail
